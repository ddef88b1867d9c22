"""Events: in-process listeners and webhooks signed per Standard Webhooks.

A listener is a function or an ``async def``. Most events are emitted in a
worker thread (storage work of a call); a sync listener runs there, and an
async one is scheduled on the event loop the :class:`~unified_sdk.AsyncClient`
runs on, so it is awaited there and never blocks it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import json
import logging
import queue
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger("unified_sdk.events")

EVENT_TYPES = frozenset(
    {
        "connection.created",
        "connection.updated",
        "connection.deleted",
        "connection.healthy",
        "connection.unhealthy",
        "connection.rate_limit_warning",
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a connection."""

    type: str
    connection_id: str
    provider: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: "evt_" + secrets.token_hex(12))
    timestamp: float = field(default_factory=time.time)


Listener = Callable[[Event], None] | Callable[[Event], Awaitable[None]]
"""A function or coroutine function called with each event."""

#: How long ``AsyncClient.aclose`` waits for async listeners still running.
LISTENER_DRAIN_TIMEOUT = 10.0


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks ``webhook-signature`` header value (``v1,<base64 HMAC-SHA256>``).

    ``secret`` is ``whsec_<base64 key>`` (or a raw string, used as the key bytes).
    """
    key = base64.b64decode(secret[len("whsec_") :]) if secret.startswith("whsec_") else secret.encode()
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_webhook(secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300) -> bool:
    """Check a received webhook's signature and timestamp (for app developers and tests)."""
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    try:
        timestamp = int(ts)
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign_webhook(secret, msg_id, timestamp, body).split(",", 1)[1]
    given = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if "," in s]
    return any(hmac.compare_digest(expected, g) for g in given)


class EventBus:
    """``client.events``: subscribe with ``on``; events also go to the webhook if configured."""

    def __init__(self, webhook_url: str | None = None, webhook_secret: str | None = None) -> None:
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._lock = threading.Lock()
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        self._outbox: queue.Queue[Event | None] | None = None
        self._sender: threading.Thread | None = None
        # The loop async listeners run on: the AsyncClient's (bound on each call), or the one
        # running when an async listener was registered.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._offload_sync = False  # set by an AsyncClient: sync listeners never run on its loop
        self._pending: set[asyncio.Future[None]] = set()  # strong references until each finishes

    def on(self, event_type: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for each event of ``event_type`` (``"*"`` for all).

        ``listener`` may be an ``async def``: on an :class:`~unified_sdk.AsyncClient` it is
        awaited on the client's event loop (``aclose`` waits for those still running); without
        a running loop it is run to completion where the event is emitted. A sync listener on
        an ``AsyncClient`` runs in the worker thread that emits the event, never on the loop.
        Exceptions raised by listeners are logged and never break the call.

        Returns a function that unsubscribes it.

        Example::

            async def on_unhealthy(event: Event) -> None:
                await notify(event.connection_id)

            client.events.on("connection.unhealthy", on_unhealthy)
        """
        if event_type != "*" and event_type not in EVENT_TYPES:
            from unified_sdk.errors import ConfigurationError

            raise ConfigurationError(
                f"unknown event type {event_type!r}",
                hint=f"use one of: {', '.join(sorted(EVENT_TYPES))} or '*'",
            )
        if _is_async(listener) and self._loop is None:
            self._loop = _running_loop()
        with self._lock:
            self._listeners[event_type].append(listener)

        def off() -> None:
            with self._lock:
                if listener in self._listeners[event_type]:
                    self._listeners[event_type].remove(listener)

        return off

    def emit(self, event: Event) -> None:
        with self._lock:
            listeners = [*self._listeners.get(event.type, ()), *self._listeners.get("*", ())]
        for listener in listeners:
            if _is_async(listener):
                self._schedule(listener, event)
            elif self._offload_sync and self._loop is not None and _running_loop() is self._loop:
                # Emitted on the AsyncClient's loop: a sync listener may block, so it runs in a worker thread.
                self._track(self._loop.run_in_executor(None, _call, listener, event))
            else:
                _call(listener, event)
        if self._webhook_url:
            self._enqueue(event)

    # -- async listeners ------------------------------------------------------------
    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run async listeners on ``loop`` and keep sync ones off it (the AsyncClient calls this)."""
        self._loop = loop
        self._offload_sync = True

    def _schedule(self, listener: Listener, event: Event) -> None:
        """Await an async listener on the bound loop; run it here when no loop can take it."""
        running = _running_loop()
        loop = self._loop
        if running is not None and (loop is None or loop is running or not _usable(loop)):
            self._start(running, listener, event)  # on a loop thread already
            return
        if loop is not None and _usable(loop):
            try:
                loop.call_soon_threadsafe(self._start, loop, listener, event)
                return
            except RuntimeError:  # closed meanwhile
                pass
        # No loop to run it on (e.g. a sync Client): run it to completion in the emitting thread.
        private = asyncio.new_event_loop()
        try:
            private.run_until_complete(_awaited(listener, event))
        finally:
            private.close()

    def _start(self, loop: asyncio.AbstractEventLoop, listener: Listener, event: Event) -> None:
        self._track(loop.create_task(_awaited(listener, event)))

    def _track(self, future: asyncio.Future[None]) -> None:
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    async def drain(self, timeout: float = LISTENER_DRAIN_TIMEOUT) -> None:
        """Wait (at most ``timeout`` seconds) for the listeners running on this loop; cancel the rest."""
        loop = asyncio.get_running_loop()
        pending = {f for f in self._pending if not f.done() and f.get_loop() is loop}
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout)
        for future in late:
            logger.warning("event listener still running after %.0f s at close: cancelled", timeout)
            future.cancel()

    # -- webhooks ---------------------------------------------------------------
    def _enqueue(self, event: Event) -> None:
        if self._outbox is None:
            with self._lock:
                if self._outbox is None:
                    self._outbox = queue.Queue()
                    self._sender = threading.Thread(target=self._deliver_loop, name="unified-sdk-webhooks", daemon=True)
                    self._sender.start()
        self._outbox.put(event)

    def _deliver_loop(self) -> None:
        import httpx2

        assert self._outbox is not None and self._webhook_url is not None
        with httpx2.Client(timeout=10) as http:
            while True:
                event = self._outbox.get()
                try:
                    if event is None:
                        return
                    self._deliver(http, event)
                finally:
                    self._outbox.task_done()

    def _deliver(self, http: Any, event: Event) -> None:
        body = json.dumps({"type": event.type, "timestamp": event.timestamp, "data": asdict(event)}).encode()
        headers = {"content-type": "application/json", "webhook-id": event.id}
        timestamp = int(time.time())
        headers["webhook-timestamp"] = str(timestamp)
        if self._webhook_secret:
            headers["webhook-signature"] = sign_webhook(self._webhook_secret, event.id, timestamp, body)
        for attempt in range(3):
            try:
                response = http.post(self._webhook_url, content=body, headers=headers)
                if response.status_code < 300:
                    return
            except Exception as exc:
                logger.warning("webhook delivery of %s failed: %s", event.id, type(exc).__name__)
            time.sleep(0.2 * (2**attempt))
        logger.error("webhook delivery of %s gave up after 3 attempts", event.id)

    def flush(self) -> None:
        if self._outbox is not None:
            self._outbox.join()

    def close(self) -> None:
        if self._outbox is not None and self._sender is not None and self._sender.is_alive():
            self._outbox.put(None)
            self._sender.join(timeout=10)


def _is_async(listener: Listener) -> bool:
    # An instance with an ``async def __call__`` counts too.
    return inspect.iscoroutinefunction(listener) or inspect.iscoroutinefunction(type(listener).__call__)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _usable(loop: asyncio.AbstractEventLoop) -> bool:
    return loop.is_running() and not loop.is_closed()


def _call(listener: Listener, event: Event) -> None:
    try:
        result = listener(event)
        if inspect.isawaitable(result):  # a sync callable that returned an awaitable: nobody would await it
            logger.error("event listener %r returned an awaitable; register an async def instead", listener)
            if inspect.iscoroutine(result):
                result.close()
    except Exception:  # one broken listener must not break the call
        logger.exception("event listener %r failed on %s", listener, event.type)


async def _awaited(listener: Listener, event: Event) -> None:
    try:
        result = listener(event)
        if inspect.isawaitable(result):
            await result
    except Exception:  # one broken listener must not break the call
        logger.exception("event listener %r failed on %s", listener, event.type)
