"""Rate limits the fake enforces: a rolling window per app, a per-second search limit, a daily count."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class RollingWindow:
    """At most ``limit`` requests in any ``interval`` seconds (a rolling, not a fixed, window)."""

    limit: int
    interval: float
    _hits: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, now: float | None = None) -> tuple[bool, int]:
        """Count one request if the window has room: ``(allowed, remaining after it)``.

        A refused request is not counted, so a client that waits is let in again.
        """
        t = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits
            edge = t - self.interval
            while hits and hits[0] <= edge:
                hits.popleft()
            if len(hits) >= self.limit:
                return False, 0
            hits.append(t)
            return True, self.limit - len(hits)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


@dataclass
class DailyCounter:
    """Requests per day for private-app tokens (OAuth apps have no daily limit)."""

    limit: int
    used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self) -> tuple[bool, int]:
        with self._lock:
            if self.used >= self.limit:
                return False, 0
            self.used += 1
            return True, self.limit - self.used
