"""Record ids in URL paths: validated, then percent-encoded as exactly one path segment.

An id is data, never path syntax. ``../contacts/1`` must not reach another
object, ``.`` must not turn a read into a listing, ``1?x=1`` must not add a
query. So every id that goes into a path is checked here first (the resource
layer checks the ``id`` a caller passes before the adapter runs, and plugins
build their paths with :func:`build_path`), and the pipeline refuses any path
that still carries dot segments or control characters before sending.
"""

from __future__ import annotations

import re
import unicodedata
from string import Formatter
from urllib.parse import quote, unquote, urlsplit

from unified_sdk.errors import ValidationError

MAX_ID_LENGTH = 255
"""Longer ids are refused: no provider we know uses ids near this long."""

_FORBIDDEN = frozenset("/\\?#%")
"""Characters with a meaning in URLs (``%`` too: a proxy that decodes twice turns ``%2e%2e`` into ``..``)."""

_SAFE = "-._~!$&'()*+,;=:@"
"""RFC 3986 ``pchar`` characters left as they are; everything else is percent-encoded."""


def _problem(value: object, pattern: re.Pattern[str] | None) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return f"is {len(value)} characters long (at most {MAX_ID_LENGTH})"
    if value in (".", ".."):
        return "must not be a dot segment"
    if value != value.strip():
        return "must not start or end with whitespace"
    bad = sorted({c for c in value if c in _FORBIDDEN})
    if bad:
        return f"must not contain {' '.join(repr(c) for c in bad)}"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        return "must not contain control characters"
    if pattern is not None and not pattern.fullmatch(value):
        return f"does not look like an id of this provider (expected {pattern.pattern})"
    return None


def check_id(value: object, *, field: str = "id", pattern: re.Pattern[str] | str | None = None) -> str:
    """``value`` if it is safe as one path segment (and matches ``pattern``); else :class:`ValidationError`.

    The error names the field and says that nothing was sent. The value itself is
    shown only shortened and escaped, since it may be hostile.
    """
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    problem = _problem(value, compiled)
    if problem is None:
        assert isinstance(value, str)
        return value
    shown = repr(value[:40] + "…" if isinstance(value, str) and len(value) > 40 else value)
    raise ValidationError(
        f"invalid {field} {shown}: it {problem}",
        hint=f"pass the record's {field} exactly as the provider returned it; nothing was sent",
        details={"fields": [field], "reason": problem},
    )


def segment(value: object, *, field: str = "id", pattern: re.Pattern[str] | str | None = None) -> str:
    """``value`` checked with :func:`check_id` and percent-encoded as one path segment."""
    return quote(check_id(value, field=field, pattern=pattern), safe=_SAFE)


def build_path(template: str, /, **values: object) -> str:
    """Fill ``{name}`` placeholders of a path template with checked, percent-encoded segments.

    Every value is checked as an id (see :func:`check_id`; the placeholder's
    name is the field named in the error) and encoded as exactly one segment::

        build_path("/crm/v3/objects/{object_type}/{id}", object_type="deals", id=record_id)
    """
    names = [name for _, name, _, _ in Formatter().parse(template) if name is not None]
    missing = [n for n in names if n not in values]
    if missing or any(not n.isidentifier() for n in names):
        raise ValueError(f"path template {template!r} needs values for {missing or names}")
    return template.format_map({n: segment(values[n], field=n) for n in names})


def check_path(path: str) -> None:
    """Refuse a request path that could address something other than what it names.

    Dot segments (also percent-encoded ones), backslashes and control
    characters in the path part are refused with :class:`ValidationError`
    before anything is sent; the query part is left to the caller.
    """
    part = urlsplit(path).path if path.startswith(("http://", "https://")) else path.split("?", 1)[0]
    problem = None
    if "#" in path:
        problem = "a fragment ('#')"
    elif "\\" in part:
        problem = "a backslash"
    elif any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in path):
        problem = "control characters"
    else:
        decoded = [unquote(unquote(s)) for s in part.split("/")]
        if any(s in (".", "..") for s in decoded):
            problem = "a dot segment ('.' or '..')"
        elif any("/" in s or "\\" in s for s in decoded):
            problem = "an encoded slash"
    if problem is not None:
        shown = repr(path[:80] + "…" if len(path) > 80 else path)
        raise ValidationError(
            f"refusing to send a request to path {shown}: it contains {problem}",
            hint="record ids must go into paths through build_path(); nothing was sent",
            details={"fields": ["path"], "reason": problem},
        )
