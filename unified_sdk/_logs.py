"""Call logs: one redacted row per HTTP attempt (written off the hot path by ``_bookkeeping``)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from unified_sdk._redact import redact_headers, redact_text, redact_url, truncate

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
        return _storable(redact_text(truncate(raw[: BODY_LIMIT * 2].decode("utf-8", "replace"), BODY_LIMIT), secrets))

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
        "error": _storable(redact_text(error, secrets)) if error else None,
        # A provider's value: as long and odd as it likes, but the column holds 255 characters.
        "provider_request_id": _storable(provider_request_id)[:255] if provider_request_id else None,
        "created_at": created_at,
    }


def _storable(text: str) -> str:
    """``text`` as every database stores it: PostgreSQL refuses NUL characters (and with them the whole
    batch of rows), so a provider's NUL (e.g. in a binary body or an error message) becomes U+FFFD."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text
