"""Call logs: one redacted row per HTTP attempt, written off the hot path."""

from __future__ import annotations

import logging
import queue
import shlex
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from unified_sdk._redact import redact_headers, redact_text, redact_url, truncate

if TYPE_CHECKING:
    from unified_sdk._storage import Store

logger = logging.getLogger("unified_sdk.logs")

BODY_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class CallLog:
    """One HTTP attempt, as stored: secrets redacted, bodies truncated."""

    id: str
    connection_id: str | None
    provider: str | None
    operation: str | None
    method: str
    url: str
    status: int | None
    duration_ms: float | None
    category: str | None
    """Unified error category, ``None`` for a success."""
    action: str | None
    """The response action applied (``retry``, ``fail``, …)."""
    action_reason: str | None
    """Which rule chose the action, e.g. ``default(category=rate_limited)``."""
    attempt: int
    request_headers: Mapping[str, str]
    request_body: str | None
    response_headers: Mapping[str, str]
    response_body: str | None
    error: str | None
    provider_request_id: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CallLog:
        values = dict(row)
        values["created_at"] = datetime.fromtimestamp(row["created_at"], UTC)
        values["request_headers"] = row.get("request_headers") or {}
        values["response_headers"] = row.get("response_headers") or {}
        return cls(**values)

    def as_curl(self) -> str:
        """A ``curl`` command that repeats this request; secrets stay redacted."""
        parts = ["curl", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.request_headers.items():
            if name.lower() in {"content-length", "host", "accept-encoding", "connection", "user-agent"}:
                continue
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.request_body:
            parts += ["--data-raw", shlex.quote(self.request_body)]
        return " ".join(parts)


def build_row(
    *,
    log_id: str,
    connection_id: str | None,
    provider: str | None,
    operation: str | None,
    method: str,
    url: str,
    request_headers: Any,
    request_body: bytes | None,
    status: int | None,
    response_headers: Any,
    response_body: bytes | None,
    duration_ms: float,
    category: str | None,
    action: str | None,
    action_reason: str | None,
    attempt: int,
    error: str | None,
    provider_request_id: str | None,
    created_at: float,
    secrets: list[str],
) -> dict[str, Any]:
    """A redacted, truncated call-log row. Called on the writer thread."""

    def body(raw: bytes | None) -> str | None:
        if not raw:
            return None
        return redact_text(truncate(raw[: BODY_LIMIT * 2].decode("utf-8", "replace"), BODY_LIMIT), secrets)

    return {
        "id": log_id,
        "connection_id": connection_id,
        "provider": provider,
        "operation": operation,
        "method": method,
        "url": redact_url(url, secrets),
        "status": status,
        "duration_ms": round(duration_ms, 3),
        "category": category,
        "action": action,
        "action_reason": action_reason,
        "attempt": attempt,
        "request_headers": redact_headers(request_headers, secrets),
        "request_body": body(request_body),
        "response_headers": redact_headers(response_headers, secrets) if response_headers is not None else None,
        "response_body": body(response_body),
        "error": redact_text(error, secrets) if error else None,
        "provider_request_id": provider_request_id,
        "created_at": created_at,
    }


_STOP = object()


class LogWriter:
    """A bounded queue and one daemon thread that batches rows into the store.

    ``flush()`` returns once every row submitted before it is committed.
    """

    def __init__(self, store: Store, *, maxsize: int = 10_000, batch: int = 500, linger: float = 0.02) -> None:
        self._store = store
        self._linger = linger
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self._batch = batch
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, **fields: Any) -> None:
        self._ensure_thread()
        self._queue.put(fields)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="unified-sdk-log-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            items = [item]
            # Linger briefly so rows of a burst of calls share one transaction.
            deadline = time.monotonic() + self._linger
            while len(items) < self._batch and item is not _STOP:
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                items.append(item)
            stop = any(i is _STOP for i in items)
            rows = [build_row(**i) for i in items if i is not _STOP and isinstance(i, dict)]
            try:
                self._store.insert_call_logs(rows)
            except Exception:  # a logging failure must never break calls
                logger.exception("could not write %d call-log rows", len(rows))
            finally:
                for _ in items:
                    self._queue.task_done()
            if stop:
                return

    def flush(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
        self._thread = None
