"""Connection health: the state machine of DESIGN.md, as pure functions."""

from __future__ import annotations

from enum import StrEnum

from unified_sdk._outcome import HealthSignal


class Health(StrEnum):
    """A connection's health, derived from when it last succeeded and failed."""

    NEW = "new"
    """Neither a success nor a failure recorded yet."""
    HEALTHY = "healthy"
    """The last signal was healthy."""
    UNHEALTHY = "unhealthy"
    """Failed, and never succeeded."""
    UNHEALTHY_NOW = "unhealthy_now"
    """Failing after earlier successes."""


def health_of(last_healthy_at: float | None, last_unhealthy_at: float | None) -> Health:
    if last_unhealthy_at is None:
        return Health.NEW if last_healthy_at is None else Health.HEALTHY
    if last_healthy_at is None:
        return Health.UNHEALTHY
    return Health.HEALTHY if last_healthy_at > last_unhealthy_at else Health.UNHEALTHY_NOW


def is_good(health: Health) -> bool:
    return health in (Health.NEW, Health.HEALTHY)


def transition_event(before: Health, after: Health) -> str | None:
    """The event a change of health raises, if any (events fire on transitions only)."""
    if before == after:
        return None
    if after == Health.HEALTHY:
        return "connection.healthy"
    if after in (Health.UNHEALTHY, Health.UNHEALTHY_NOW) and is_good(before):
        return "connection.unhealthy"
    return None


def apply_signal(
    signal: HealthSignal, at: float, last_healthy_at: float | None, last_unhealthy_at: float | None
) -> tuple[float | None, float | None]:
    """The new ``(last_healthy_at, last_unhealthy_at)`` after ``signal``."""
    if signal == HealthSignal.HEALTHY:
        return at, last_unhealthy_at
    if signal == HealthSignal.UNHEALTHY:
        return last_healthy_at, at
    return last_healthy_at, last_unhealthy_at
