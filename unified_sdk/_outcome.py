"""What one provider response (or transport failure) means, in unified terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    """The unified error category of a failed call (see DESIGN.md, "Error model")."""

    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    VALIDATION = "validation"
    CONFLICT = "conflict"
    REQUEST_FAILED = "request_failed"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    RATE_LIMITED = "rate_limited"
    PROVIDER_ERROR = "provider_error"
    TIMEOUT = "timeout"
    NOT_IMPLEMENTED = "not_implemented"
    NETWORK = "network"


class HealthSignal(StrEnum):
    """What a call's outcome says about the connection's health."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    NEUTRAL = "neutral"


#: The health signal of each category when a plugin does not say otherwise.
DEFAULT_HEALTH: Mapping[Category, HealthSignal] = {
    Category.AUTHENTICATION: HealthSignal.UNHEALTHY,
    Category.PERMISSION: HealthSignal.UNHEALTHY,
    Category.NOT_FOUND: HealthSignal.NEUTRAL,
    Category.VALIDATION: HealthSignal.NEUTRAL,
    Category.CONFLICT: HealthSignal.NEUTRAL,
    Category.REQUEST_FAILED: HealthSignal.NEUTRAL,
    Category.METHOD_NOT_ALLOWED: HealthSignal.NEUTRAL,
    Category.RATE_LIMITED: HealthSignal.HEALTHY,
    Category.PROVIDER_ERROR: HealthSignal.NEUTRAL,
    Category.TIMEOUT: HealthSignal.NEUTRAL,
    Category.NOT_IMPLEMENTED: HealthSignal.HEALTHY,
    Category.NETWORK: HealthSignal.NEUTRAL,
}

#: The category of each HTTP status when a plugin does not say otherwise.
STATUS_CATEGORY: Mapping[int, Category] = {
    400: Category.VALIDATION,
    401: Category.AUTHENTICATION,
    402: Category.REQUEST_FAILED,
    403: Category.PERMISSION,
    404: Category.NOT_FOUND,
    405: Category.METHOD_NOT_ALLOWED,
    408: Category.TIMEOUT,
    409: Category.CONFLICT,
    410: Category.NOT_FOUND,
    422: Category.VALIDATION,
    429: Category.RATE_LIMITED,
    500: Category.PROVIDER_ERROR,
    501: Category.NOT_IMPLEMENTED,
    502: Category.PROVIDER_ERROR,
    503: Category.PROVIDER_ERROR,
    504: Category.TIMEOUT,
}


def category_for_status(status: int) -> Category | None:
    """The default category of ``status``; ``None`` for success (< 400)."""
    if status < 400:
        return None
    found = STATUS_CATEGORY.get(status)
    if found is not None:
        return found
    return Category.PROVIDER_ERROR if status >= 500 else Category.VALIDATION


@dataclass(frozen=True, slots=True)
class Outcome:
    """A plugin's reading of one response: success, or a unified error.

    ``category`` is ``None`` for a success. ``details`` carries structured
    extras a caller may use (``missing_scopes``, ``fields``, ``existing_id``…).
    """

    category: Category | None = None
    health: HealthSignal = HealthSignal.HEALTHY
    status: int | None = None
    provider_code: str | None = None
    provider_message: str | None = None
    retry_after: float | None = None
    """Seconds the provider asks us to wait before trying again."""
    request_id: str | None = None
    """The provider's own id for the request (e.g. HubSpot ``correlationId``)."""
    hint: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.category is None

    @classmethod
    def success(cls, status: int | None = None, request_id: str | None = None) -> Outcome:
        return cls(category=None, health=HealthSignal.HEALTHY, status=status, request_id=request_id)

    @classmethod
    def failure(
        cls,
        category: Category,
        *,
        health: HealthSignal | None = None,
        **fields: Any,
    ) -> Outcome:
        """An error outcome whose health signal defaults to the category's."""
        return cls(category=category, health=health or DEFAULT_HEALTH[category], **fields)
