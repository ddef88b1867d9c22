"""The limits of one call that the drivers enforce while sending: its deadline and the response size cap.

The pipeline decides the limits (a deadline for the whole call, from its
timeout; a cap on the body's size); both drivers enforce them the same way
through :class:`BodyReader` while they stream the response.
"""

from __future__ import annotations

import time
from typing import Any

import httpx2

#: The largest response body read by default (decoded bytes).
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

#: The httpx2 timeout phases, each bounded by the time left to the deadline.
_PHASES = ("connect", "read", "write", "pool")


class DeadlineExceeded(httpx2.ReadTimeout):
    """The call's deadline passed while the response was being read (a timeout, to any classifier)."""


class ResponseTooLarge(Exception):
    """The response body is larger than the client's ``max_response_bytes``."""

    def __init__(self, limit: int, status: int, size: int | None = None) -> None:
        seen = f"Content-Length {size}" if size is not None else "more"
        super().__init__(f"the response body ({seen} bytes) exceeds max_response_bytes={limit}")
        self.limit = limit
        self.status = status
        self.size = size


def deadline_after(timeout: float | None) -> float | None:
    """The monotonic time ``timeout`` seconds from now (``None``: no deadline)."""
    return None if timeout is None else time.monotonic() + timeout


def time_left(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (never negative); ``None`` when there is none."""
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


class BodyReader:
    """Reads one response within the call's deadline and the size cap; one per attempt.

    ``prepare`` bounds every httpx2 timeout phase (connect, write, pool, and the
    wait for the headers) by the time left; ``start`` does the same for the body
    and rejects a Content-Length over the cap; ``add`` checks each chunk, so a
    server trickling bytes cannot keep the call alive past its deadline, nor a
    huge body grow memory past the cap.
    """

    def __init__(self, deadline: float | None, max_bytes: int | None) -> None:
        self.deadline = deadline
        self.max_bytes = max_bytes
        self._chunks: list[bytes] = []
        self._size = 0

    def remaining(self) -> float | None:
        return time_left(self.deadline)

    def prepare(self, request: httpx2.Request, timeout: httpx2.Timeout) -> None:
        left = self.remaining()
        if left is None:
            return
        configured: dict[str, Any] = request.extensions.get("timeout") or timeout.as_dict()
        request.extensions["timeout"] = {phase: _bounded(configured.get(phase), left) for phase in _PHASES}

    def start(self, response: httpx2.Response) -> None:
        if self.max_bytes is not None:
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_bytes:
                raise ResponseTooLarge(self.max_bytes, response.status_code, int(length))
        left = self.remaining()
        timeouts = response.request.extensions.get("timeout")
        if left is not None and isinstance(timeouts, dict):
            # The transport reads this (shared) dict when the body starts: bound it by what is left now.
            timeouts["read"] = _bounded(timeouts.get("read"), left)

    def add(self, chunk: bytes, response: httpx2.Response) -> None:
        self._size += len(chunk)
        if self.max_bytes is not None and self._size > self.max_bytes:
            raise ResponseTooLarge(self.max_bytes, response.status_code)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceeded("the call's deadline passed while reading the response body", request=None)
        self._chunks.append(chunk)

    def finish(self, response: httpx2.Response) -> httpx2.Response:
        """``response`` with its body, as if it had been read whole."""
        response._content = b"".join(self._chunks)
        self._chunks = []
        return response


def _bounded(value: float | None, left: float) -> float:
    # A zero timeout means "no wait" to the transport; keep a sliver so the phase fails as a timeout.
    bound = max(left, 0.001)
    return bound if value is None else min(value, bound)
