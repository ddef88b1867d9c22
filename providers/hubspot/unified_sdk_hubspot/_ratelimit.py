"""Read HubSpot's ``X-HubSpot-RateLimit-*`` headers into the unified :class:`RateLimit`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from unified_sdk.provider import RateLimit


def _int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _until_utc_midnight() -> float:
    now = datetime.now(UTC)
    return ((now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0) - now).total_seconds()


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """The tightest budget among the windows HubSpot reports, or ``None`` when it reports none.

    HubSpot's windows: the rolling one (``-Max``, ``-Remaining``,
    ``-Interval-Milliseconds``; 100 per 10 s for most apps), the per-second one
    (``-Secondly``, ``-Secondly-Remaining``; the search endpoints) and, for
    private apps only, the daily one (``-Daily``, ``-Daily-Remaining``).
    HubSpot gives no reset time for a rolling window: ``reset_after`` is the
    whole interval, by which every request counted now has left the window.
    """
    windows: list[RateLimit] = []
    remaining = _int(headers, "x-hubspot-ratelimit-remaining")
    limit = _int(headers, "x-hubspot-ratelimit-max")
    if remaining is not None:
        interval = _int(headers, "x-hubspot-ratelimit-interval-milliseconds")
        windows.append(RateLimit(remaining, limit, (interval or 10_000) / 1000.0, "TEN_SECONDLY_ROLLING"))
    remaining = _int(headers, "x-hubspot-ratelimit-secondly-remaining")
    if remaining is not None:
        windows.append(RateLimit(remaining, _int(headers, "x-hubspot-ratelimit-secondly"), 1.0, "SECONDLY"))
    remaining = _int(headers, "x-hubspot-ratelimit-daily-remaining")
    if remaining is not None:
        windows.append(RateLimit(remaining, _int(headers, "x-hubspot-ratelimit-daily"), _until_utc_midnight(), "DAILY"))
    if not windows:
        return None

    def tightness(w: RateLimit) -> tuple[float, float]:
        used = (w.remaining or 0) / w.limit if w.limit else float(w.remaining or 0)
        return used, -(w.reset_after or 0.0)

    return min(windows, key=tightness)
