"""Fault injection shared by every local fake: a queue of planned failures and
the ASGI middleware that plays them."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FAULTS = frozenset({"timeout", "reset", "malformed_json", "html", "timeout_after_processing", "reset_after_processing"})
"""``timeout``/``reset``/``malformed_json``/``html`` answer instead of the server; the two
``*_after_processing`` faults let the server handle the request (a token endpoint rotates the
refresh token, a create creates) and then lose its answer: the response comes after
``timeout_delay`` (later than the client waits) or the connection drops mid-body."""

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ErrorBody = Callable[[int, "Fault"], tuple[Any, Mapping[str, str]]]
"""Builds a provider's documented error body for an injected status:
``(json_body, extra_headers)``."""


@dataclass
class Fault:
    """One planned failure; ``remaining`` counts down as requests meet it."""

    status: int | None
    fault: str | None
    remaining: int
    retry_after: float | str | None = None
    path: str | None = None
    body: Any = None


@dataclass
class FaultInjector:
    """A thread-safe queue of planned failures, consumed in order."""

    timeout_delay: float = 5.0
    _queue: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    played: int = 0

    def add(
        self,
        *,
        status: int | None = None,
        fault: str | None = None,
        times: int = 1,
        retry_after: float | str | None = None,
        path: str | None = None,
        body: Any = None,
    ) -> None:
        if (status is None) == (fault is None):
            raise ValueError("inject() takes exactly one of status= or fault=")
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queue.append(Fault(status, fault, times, retry_after, path, body))

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._queue)

    def take(self, path: str, *, in_scope: bool = True) -> Fault | None:
        """The fault this request meets, if any (and count it as played).

        A fault without a ``path`` meets only requests ``in_scope`` (the fake's API); one
        with a ``path`` meets any request under it (e.g. ``/oauth/token``).
        """
        with self._lock:
            for fault in self._queue:
                if (fault.path is None and in_scope) or (fault.path is not None and path.startswith(fault.path)):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._queue.remove(fault)
                    self.played += 1
                    return fault
        return None

    def middleware(self, app: ASGIApp, error_body: ErrorBody, *, only: Callable[[str], bool] | None = None) -> ASGIApp:
        """Wrap ``app`` so injected faults are played before it is called.

        ``only`` selects the paths faults without their own ``path`` apply to (e.g. the
        API, not OAuth); a fault injected with ``path=`` applies to that path wherever it is.
        """

        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            fault = self.take(scope["path"], in_scope=only is None or only(scope["path"]))
            if fault is None:
                await app(scope, receive, send)
                return
            if fault.fault in ("timeout_after_processing", "reset_after_processing"):
                await self._process_then_lose(fault, app, scope, receive, send)
                return
            await self._play(fault, error_body, send)

        return wrapped

    async def _process_then_lose(self, fault: Fault, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[dict[str, Any]] = []

        async def capture(message: dict[str, Any]) -> None:
            messages.append(message)

        await app(scope, receive, capture)  # the server does the work (and commits it)
        if fault.fault == "timeout_after_processing":
            await asyncio.sleep(self.timeout_delay)
            for message in messages:
                await send(message)
            return
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = start["status"] if start is not None else 200
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"acc', "more_body": True})
        raise ConnectionResetError("injected connection reset after processing")

    async def _play(self, fault: Fault, error_body: ErrorBody, send: Send) -> None:
        if fault.status is not None:
            body, headers = error_body(fault.status, fault)
            if fault.body is not None:
                body = fault.body
            extra = dict(headers)
            if fault.retry_after is not None:
                extra.setdefault("Retry-After", _retry_after_text(fault.retry_after))
            await _respond(send, fault.status, json.dumps(body).encode(), "application/json", extra)
        elif fault.fault == "timeout":
            await asyncio.sleep(self.timeout_delay)
            await _respond(send, 504, b'{"error": "too late"}', "application/json", {})
        elif fault.fault == "reset":
            # Promise a body, send part of it, then drop the connection.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"data": [', "more_body": True})
            raise ConnectionResetError("injected connection reset")
        elif fault.fault == "malformed_json":
            await _respond(send, 200, b'{"data": [{"id": "1", "na', "application/json", {})
        elif fault.fault == "html":
            page = (
                b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
                b"<body><h1>502 Bad Gateway</h1><p>The upstream server is unavailable.</p></body></html>"
            )
            await _respond(send, 502, page, "text/html; charset=utf-8", {})


def _retry_after_text(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


async def _respond(send: Send, status: int, body: bytes, content_type: str, headers: Mapping[str, str]) -> None:
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


SLOW_PAGE_ANSWERS = frozenset({"gateway_timeout", "stall"})
"""How every fake can answer a page too big to serve in time: ``gateway_timeout`` (a 504 with the
provider's gateway body) or ``stall`` (no answer until ``timeout_delay``, later than the client waits,
then a 504). A fake may add its own (Salesforce: ``query_timeout``)."""


@dataclass
class SlowPages:
    """A fake's record of the page sizes its listings asked for, and its rule for pages too big to serve.

    Under load, providers time out on big pages (a report over too much data: a 504 from their
    gateway, or no answer before the client gives up) and answer smaller ones; asking for fewer
    records is the remedy. A fake calls :meth:`meet` with each listing page it receives (after
    authentication) and plays the answer it returns, if any.
    """

    larger_than: int | None = None
    """Pages asking for more records than this time out; ``None``: none does."""
    answer: str = "gateway_timeout"
    remaining: int | None = None
    """How many more big pages time out before the rule ends; ``None``: every one."""
    _sizes: list[tuple[str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, larger_than: int | None, *, answer: str, times: int | None, answers: frozenset[str]) -> None:
        """Start (or, with ``larger_than=None``, end) the rule; ``answers`` are the ones the fake can play."""
        if larger_than is not None and (isinstance(larger_than, bool) or not isinstance(larger_than, int)):
            raise TypeError("larger_than must be an int or None")
        if larger_than is not None and larger_than < 0:
            raise ValueError("larger_than must be at least 0")
        if answer not in answers:
            raise ValueError(f"unknown answer {answer!r}; expected one of {sorted(answers)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None: every big page)")
        with self._lock:
            self.larger_than, self.answer, self.remaining = larger_than, answer, times

    def meet(self, listing: str, size: int) -> str | None:
        """Record one page of ``listing`` asking for ``size`` records; how it times out, or ``None``."""
        with self._lock:
            self._sizes.append((listing, size))
            if self.larger_than is None or size <= self.larger_than:
                return None
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining == 0:
                    self.larger_than = self.remaining = None
            return self.answer

    def sizes(self, listing: str | None = None) -> list[int]:
        """The page sizes asked for (of ``listing`` only, if given), in arrival order."""
        with self._lock:
            return [size for name, size in self._sizes if listing is None or name == listing]
