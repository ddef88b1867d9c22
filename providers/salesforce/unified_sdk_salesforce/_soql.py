"""SOQL text built safely: every value is written as a literal with Salesforce's escapes.

Values never reach a query any other way, so a company named
``O'Brien \\ Sons' OR Name != '`` is a string, not SOQL::

    >>> where("Name", "=", "O'Brien")
    "Name = 'O\\\\'Brien'"
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

#: Escapes for quoted strings, as documented ("Quoted String Escape Sequences").
_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_ESCAPE_RE = re.compile("[\\\\'\"\n\r\t\b\f]")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*$")
_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">=", "LIKE"})


def quote(value: str) -> str:
    """``value`` as a quoted SOQL string literal."""
    return "'" + _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group()], value) + "'"


def like_pattern(value: str) -> str:
    """``value`` as a LIKE pattern matching itself literally (``%`` and ``_`` escaped)."""
    return quote(value).replace("%", "\\%").replace("_", "\\_")


def literal(value: Any) -> str:
    """Any Python value as a SOQL literal: strings quoted and escaped, dates and datetimes unquoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("SOQL has no literal for NaN or infinity")
        return repr(value)
    if isinstance(value, datetime):
        return datetime_literal(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return quote(value)
    raise TypeError(f"cannot write a {type(value).__name__} as a SOQL literal")


def datetime_literal(value: datetime) -> str:
    """A dateTime literal in UTC (``2024-01-31T12:00:00Z``); naive datetimes are taken as UTC.

    Fractions of a second are dropped (SOQL's documented formats have none), so
    a ``>`` filter may return records from the same second again: for
    incremental sync that errs on the safe side.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def identifier(name: str) -> str:
    """``name`` checked to be a field or object name (``Name``, ``Account.Name``, ``Tier__c``)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a Salesforce field or object name: {name!r}")
    return name


def where(field: str, op: str, value: Any) -> str:
    """One condition; lists and tuples become ``IN (…)``."""
    name = identifier(field)
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if not items:
            raise ValueError(f"an IN filter on {field} needs at least one value")
        negate = op in ("!=", "NOT IN")
        return f"{name} {'NOT IN' if negate else 'IN'} ({', '.join(literal(v) for v in items)})"
    op = op.upper()
    if op not in _OPERATORS:
        raise ValueError(f"unsupported SOQL operator {op!r}")
    return f"{name} {op} {literal(value)}"


def select(
    sobject: str,
    fields: Sequence[str],
    *,
    conditions: Iterable[str] = (),
    order_by: Sequence[str] = (),
    limit: int | None = None,
) -> str:
    """A ``SELECT`` statement. ``conditions`` come from :func:`where` and are joined with AND."""
    if not fields:
        raise ValueError("a SOQL query selects at least one field")
    parts = [f"SELECT {', '.join(identifier(f) for f in dict.fromkeys(fields))} FROM {identifier(sobject)}"]
    conds = list(conditions)
    if conds:
        parts.append("WHERE " + " AND ".join(conds))
    if order_by:
        parts.append("ORDER BY " + ", ".join(_order(o) for o in order_by))
    if limit is not None:
        parts.append(f"LIMIT {int(limit)}")
    return " ".join(parts)


def _order(spec: str) -> str:
    name, _, direction = spec.partition(" ")
    direction = direction.strip().upper()
    if direction not in ("", "ASC", "DESC"):
        raise ValueError(f"bad ORDER BY direction in {spec!r}")
    return f"{identifier(name)} {direction}".strip()
