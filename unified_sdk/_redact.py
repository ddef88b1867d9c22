"""Redaction of secrets from URLs, headers and bodies before anything is logged."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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
# form-encoded secrets: refresh_token=…&
_FORM_SECRET_FIELD = re.compile(
    r"((?:^|&)(?:[^=&]*(?:token|secret|password|api_?key|code_verifier)[^=&]*|code)=)[^&]*",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


_HINTS = ("token", "secret", "password", "api_key", "apikey", "authorization", "code")


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
    return text


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
