"""Retry timing as small pure functions: Retry-After parsing and backoff with jitter."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

#: The longest we ever wait for one retry, whatever the provider asks.
MAX_RETRY_DELAY = 60.0

#: A Retry-After beyond this (a day: the longest quota window providers use) is nonsense, not advice.
MAX_RETRY_AFTER = 86_400.0


def _seconds(value: float) -> float | None:
    """``value`` if it is a usable wait; ``None`` (use the normal backoff) for nan, inf, negative or huge."""
    if not math.isfinite(value) or value < 0 or value > MAX_RETRY_AFTER:
        return None
    return value


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP-date) or ``retry-after-ms``.

    Returns ``None`` when absent or unusable (garbage, nan, inf, negative, more than a day),
    so the caller falls back to its normal backoff; an HTTP-date in the past means "now" (0).
    """
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            found = _seconds(float(ms) / 1000.0)
        except ValueError:
            found = None
        if found is not None:
            return found
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return _seconds(float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        current = time.time() if now is None else now
        return _seconds(max(when.timestamp() - current, 0.0))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 8.0, rand: float | None = None) -> float:
    """Exponential backoff with full jitter for retry number ``attempt`` (1-based).

    ``rand`` pins the jitter in tests (0..1); otherwise it is random.
    """
    ceiling = min(cap, base * float(2 ** max(attempt - 1, 0)))
    r = random.random() if rand is None else rand
    return ceiling * r


def retry_delay(
    attempt: int,
    retry_after: float | None,
    *,
    base: float = 0.5,
    cap: float = 8.0,
    max_delay: float = MAX_RETRY_DELAY,
    rand: float | None = None,
) -> float:
    """The wait before retry ``attempt``: the provider's Retry-After if usable, else backoff; capped."""
    if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
        return min(retry_after, max_delay)
    return min(backoff_delay(attempt, base=base, cap=cap, rand=rand), max_delay)


def may_have_been_sent(error: BaseException) -> bool:
    """Whether a request that failed with transport ``error`` may have reached the server.

    Only failures before the first byte left prove a request unsent: no connection
    (refused, DNS, connect timeout), no free pooled connection, a URL or proxy
    that could not be used, or a request the client refused to encode. A failed
    or timed-out write may have delivered part or all of it; a failed or
    timed-out read, or a server that hung up without answering, means the server
    had it. Anything unknown counts as sent.
    """
    import httpx2

    unsent = (
        httpx2.ConnectError,
        httpx2.ConnectTimeout,
        httpx2.PoolTimeout,
        httpx2.UnsupportedProtocol,
        httpx2.ProxyError,
        httpx2.LocalProtocolError,
    )
    return not isinstance(error, unsent)
