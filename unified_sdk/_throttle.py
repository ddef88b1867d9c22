"""Client-side throttling from providers' rate-limit headers, per connection and policy."""

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
    """Waits before a request when one of the connection's budgets is spent until its reset.

    A provider may report several budgets (HubSpot: a rolling 10-second one and a
    per-second one for search); each ``RateLimit.policy`` is kept apart, so one
    does not overwrite another. The remaining budget is counted down locally
    between responses, so concurrent calls on one connection do not all spend
    the last request.
    """

    def __init__(self, *, reserve: int = 1, max_wait: float = 30.0) -> None:
        self._budgets: dict[str, dict[str | None, _Budget]] = {}
        self._lock = threading.Lock()
        self.reserve = reserve
        self.max_wait = max_wait

    def update(self, connection_id: str, limit: RateLimit) -> None:
        reset_at = time.monotonic() + limit.reset_after if limit.reset_after is not None else None
        with self._lock:
            self._budgets.setdefault(connection_id, {})[limit.policy] = _Budget(limit.remaining, reset_at, limit.limit)

    def before_send(self, connection_id: str) -> float:
        """Seconds to wait before sending now (0 when every budget allows it)."""
        budgets = self._budgets.get(connection_id)
        if not budgets:
            return 0.0
        with self._lock:
            now = time.monotonic()
            wait = 0.0
            for budget in budgets.values():
                if budget.reset_at is not None and now >= budget.reset_at:
                    budget.remaining, budget.reset_at = budget.limit, None
                elif budget.remaining is not None and budget.remaining <= self.reserve and budget.reset_at is not None:
                    wait = max(wait, min(budget.reset_at - now, self.max_wait))
            if wait > 0:
                return wait
            for budget in budgets.values():
                if budget.remaining is not None:
                    budget.remaining -= 1
            return 0.0

    def reset_after(self, connection_id: str) -> float | None:
        """Seconds until the spent budget (or the soonest one) resets; ``None`` when unknown."""
        budgets = self._budgets.get(connection_id)
        if not budgets:
            return None
        now = time.monotonic()
        spent = [b.reset_at for b in budgets.values() if b.reset_at is not None and (b.remaining or 0) <= self.reserve]
        resets = spent or [b.reset_at for b in budgets.values() if b.reset_at is not None]
        if not resets:
            return None
        until = max(resets) if spent else min(resets)
        return max(until - now, 0.0)
