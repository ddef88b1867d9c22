"""Events: in-process listeners and webhooks signed per Standard Webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable
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


Listener = Callable[[Event], None]


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

    def on(self, event_type: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for each event of ``event_type`` (``"*"`` for all).

        Returns a function that unsubscribes it.
        """
        if event_type != "*" and event_type not in EVENT_TYPES:
            from unified_sdk.errors import ConfigurationError

            raise ConfigurationError(
                f"unknown event type {event_type!r}",
                hint=f"use one of: {', '.join(sorted(EVENT_TYPES))} or '*'",
            )
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
            try:
                listener(event)
            except Exception:  # one broken listener must not break the call
                logger.exception("event listener %r failed on %s", listener, event.type)
        if self._webhook_url:
            self._enqueue(event)

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
