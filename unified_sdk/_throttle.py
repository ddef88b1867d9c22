"""Client-side throttling from providers' rate-limit headers, per connection."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from unified_sdk.provider import RateLimit


@dataclass
class _Budget:
    remaining: int | None
    reset_at: float | None
    limit: int | None


class Throttle:
    """Waits before a request when the connection's budget is spent until its reset.

    The remaining budget is counted down locally between responses, so
    concurrent calls on one connection do not all spend the last request.
    """

    def __init__(self, *, reserve: int = 1, max_wait: float = 30.0) -> None:
        self._budgets: dict[str, _Budget] = {}
        self._lock = threading.Lock()
        self.reserve = reserve
        self.max_wait = max_wait

    def update(self, connection_id: str, limit: RateLimit) -> None:
        reset_at = time.monotonic() + limit.reset_after if limit.reset_after is not None else None
        with self._lock:
            self._budgets[connection_id] = _Budget(limit.remaining, reset_at, limit.limit)

    def before_send(self, connection_id: str) -> float:
        """Seconds to wait before sending now (0 when within budget)."""
        budget = self._budgets.get(connection_id)
        if budget is None or budget.remaining is None:
            return 0.0
        with self._lock:
            now = time.monotonic()
            if budget.reset_at is not None and now >= budget.reset_at:
                budget.remaining = budget.limit
                budget.reset_at = None
                return 0.0
            if budget.remaining is not None and budget.remaining <= self.reserve and budget.reset_at is not None:
                return min(budget.reset_at - now, self.max_wait)
            if budget.remaining is not None:
                budget.remaining -= 1
            return 0.0

    def reset_after(self, connection_id: str) -> float | None:
        budget = self._budgets.get(connection_id)
        if budget is None or budget.reset_at is None:
            return None
        return max(budget.reset_at - time.monotonic(), 0.0)
