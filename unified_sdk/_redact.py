"""Redaction of secrets from URLs, headers, bodies, error details and log records."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"

_SECRET_NAME = re.compile(
    r"(auth|token|secret|password|passwd|api[-_]?key|apikey|session|cookie|signature|"
    r"code_verifier|client_secret|^code$|credential|private)",
    re.IGNORECASE,
)
# JSON string fields whose names look secret: "access_token": "…"
_JSON_SECRET_FIELD = re.compile(
    r'("[^"]*(?:token|secret|password|api_?key|apikey|code_verifier|authorization)[^"]*"\s*:\s*)"[^"]*"',
    re.IGNORECASE,
)
# form-encoded secrets and query parameters: refresh_token=…& or ?api_key=…
_FORM_SECRET_FIELD = re.compile(
    r"((?:(?:^|[&?#\s])[^=&?#\s]*(?:token|secret|password|api_?key|code_verifier)[^=&?#\s]*|(?:^|[&?#])code)=)"
    r"[^&#\s\"']*",
    re.IGNORECASE,
)
# "Bearer <token>" anywhere (a header echoed in an error); prose ("a bearer token") has no digit in the word.
_BEARER = re.compile(r"(\bbearer\s+)(?=[\w.~+/-]*\d)[\w.~+/-]{8,}=*", re.IGNORECASE)
# Names of structured fields whose string values are secrets outright.
_SECRET_FIELD_NAME = re.compile(
    r"(token|secret|password|passwd|api_?key|apikey|code_verifier|authorization)", re.IGNORECASE
)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


_HINTS = ("token", "secret", "password", "api_key", "apikey", "authorization", "code", "bearer")


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace known secret values and secret-looking JSON/form fields in ``text``."""
    for value in secrets:
        if value and len(value) >= 4 and value in text:
            text = text.replace(value, REDACTED)
    lowered = text.lower()
    if not any(hint in lowered for hint in _HINTS):
        return text  # nothing named like a secret: skip the regexes (most response bodies)
    if '"' in text:
        text = _JSON_SECRET_FIELD.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    if "=" in text:
        text = _FORM_SECRET_FIELD.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    if "bearer" in lowered:
        text = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


def redact_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` with every string inside it (dicts, lists, tuples) redacted by :func:`redact_text`.

    Strings under a secret-looking key (``access_token``, ``client_secret``…) are replaced
    outright. Tuples come back as lists (JSON's shape); other values are returned as they are.
    """
    secret_list = secrets if isinstance(secrets, list | tuple) else list(secrets)
    return _redact_value(value, secret_list)


def _redact_value(value: Any, secrets: list[str] | tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {
            k: REDACTED
            if isinstance(v, str) and isinstance(k, str) and _SECRET_FIELD_NAME.search(k)
            else _redact_value(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_value(v, secrets) for v in value]
    return value


def redact_headers(
    headers: Iterable[tuple[str, str]] | Mapping[str, str], secrets: Iterable[str] = ()
) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    secret_list = list(secrets)
    out: dict[str, str] = {}
    for name, value in items:
        out[name] = REDACTED if is_secret_name(name) else redact_text(value, secret_list)
    return out


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:  # user:password@host
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = [(k, REDACTED if is_secret_name(k) else v) for k, v in parse_qsl(query, keep_blank_values=True)]
        query = urlencode(pairs, safe="[]")
    return redact_text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)), secrets)


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


# -- log records of the HTTP libraries -------------------------------------------------------
# httpx2 logs every request's URL at INFO ("HTTP Request: GET https://…?api_key=…") and
# httpcore2 traces connections at DEBUG. The SDK cannot keep secrets out of URLs (some
# providers take their key in the query), nor change the application's logging setup. So one
# filter sits on those libraries' own loggers and redacts a record only while the SDK sends a
# request in the current thread or task (a context variable holds that request's secrets);
# records of the application's own requests pass through untouched.
_HTTP_LOGGERS = (
    "httpx2",
    "httpcore2.connection",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "httpcore2.socks",
)
_sending: ContextVar[tuple[str, ...] | None] = ContextVar("unified_sdk_sending_secrets", default=None)
_installed = False
_install_lock = threading.Lock()


@contextmanager
def sending(secrets: Iterable[str] = ()) -> Iterator[None]:
    """Mark the SDK's send of one request: library log records emitted meanwhile are redacted."""
    token = _sending.set(tuple(s for s in secrets if s))
    try:
        yield
    finally:
        _sending.reset(token)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _sending.get()
        if secrets is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's to report, not ours
            return True
        redacted = redact_text(message, secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction() -> None:
    """Attach the redacting filter to the HTTP libraries' loggers (once per process).

    It adds no handler and changes no level: it only rewrites records emitted
    inside :func:`sending`.
    """
    global _installed
    if _installed:
        return
    with _install_lock:
        if not _installed:
            shared = _RedactingFilter()
            for name in _HTTP_LOGGERS:
                logging.getLogger(name).addFilter(shared)
            _installed = True
