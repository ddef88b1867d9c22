"""The fake's SOQL subset: a tokenizer, a parser and a compiler to Python predicates.

Accepted::

    SELECT field[, field…] FROM Object
      [WHERE condition]   -- =, !=, <>, <, <=, >, >=, LIKE, IN (…), NOT IN (…), AND, OR, NOT, ( )
      [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST][, …]]
      [LIMIT n] [OFFSET n]

``field`` may be a parent relationship path (``Account.Name``). Literals:
quoted strings with Salesforce's documented escapes, numbers, ``true``,
``false``, ``null``, date (``2024-01-31``) and dateTime
(``2024-01-31T12:00:00Z``) literals, unquoted. Anything else (aggregates,
subqueries, GROUP BY, date functions…) is answered with ``MALFORMED_QUERY``,
as the real service answers text it cannot parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from unified_sdk_salesforce.fake._schema import NUMBER_TYPES, STRING_TYPES, Field, SObject, sobject


class SoqlError(Exception):
    """A query the fake rejects: ``code`` is the Salesforce errorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # ident, string, number, date, datetime, op, punct, eof
    text: str
    pos: int
    value: Any = None


_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\dT])")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?![\w.])")
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_OPS = ("!=", "<>", "<=", ">=", "=", "<", ">")

_SIMPLE_ESCAPES = {
    "n": "\n",
    "N": "\n",
    "r": "\r",
    "R": "\r",
    "t": "\t",
    "T": "\t",
    "b": "\b",
    "B": "\b",
    "f": "\f",
    "F": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}

_KEYWORDS = frozenset(
    {
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "in",
        "like",
        "order",
        "by",
        "asc",
        "desc",
        "nulls",
        "first",
        "last",
        "limit",
        "offset",
        "null",
        "true",
        "false",
    }
)
_UNSUPPORTED = frozenset(
    {"group", "having", "typeof", "with", "for", "using", "includes", "excludes", "rollup", "cube"}
)


def _malformed(query: str, pos: int, what: str) -> SoqlError:
    # The real service echoes the query, points at the column and names the token.
    line = query.replace("\n", " ")
    return SoqlError(
        "MALFORMED_QUERY",
        f"\n{line}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{what}",
    )


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "'":
            j = i + 1
            raw: list[str] = []
            while True:
                if j >= n:
                    raise _malformed(query, i, f"line 1:{n + 1} mismatched character '<EOF>' expecting '''")
                c = query[j]
                if c == "\\":
                    if j + 1 >= n:
                        raise _malformed(query, j, "Invalid string literal: a backslash ends the query")
                    raw.append(query[j : j + 2])
                    j += 2
                    continue
                if c == "'":
                    break
                raw.append(c)
                j += 1
            tokens.append(Token("string", query[i : j + 1], i, raw))
            i = j + 1
            continue
        m = _DATETIME.match(query, i)
        if m:
            tokens.append(Token("datetime", m.group(), i, _parse_datetime(m.group())))
            i = m.end()
            continue
        m = _DATE.match(query, i)
        if m:
            try:
                value = date.fromisoformat(m.group())
            except ValueError:
                raise _malformed(query, i, f"invalid date: {m.group()}") from None
            tokens.append(Token("date", m.group(), i, value))
            i = m.end()
            continue
        m = _NUMBER.match(query, i)
        if m and (ch.isdigit() or (i + 1 < n and query[i + 1].isdigit())):
            tokens.append(Token("number", m.group(), i, Decimal(m.group())))
            i = m.end()
            continue
        m = _IDENT.match(query, i)
        if m:
            tokens.append(Token("ident", m.group(), i))
            i = m.end()
            continue
        op = next((o for o in _OPS if query.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token("op", op, i))
            i += len(op)
            continue
        if ch in ",()":
            tokens.append(Token("punct", ch, i))
            i += 1
            continue
        raise _malformed(query, i, f"unexpected token: '{ch}'")
    tokens.append(Token("eof", "<EOF>", n))
    return tokens


def _parse_datetime(text: str) -> datetime:
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text).astimezone(UTC)


def decode_string(query: str, token: Token, *, like: bool) -> str:
    """The value of a quoted string token, applying SOQL's escape sequences.

    In a LIKE pattern ``\\%`` and ``\\_`` stay escaped so the matcher reads
    them as literal characters (and a literal backslash is passed on escaped);
    anywhere else they, and any other unknown escape, are errors, as documented.
    """
    pieces: list[str] = token.value
    out: list[str] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        i += 1
        if len(piece) == 1:
            out.append("\\\\" if like and piece == "\\" else piece)
            continue
        esc = piece[1]
        if esc in _SIMPLE_ESCAPES:
            value = _SIMPLE_ESCAPES[esc]
            out.append("\\\\" if like and value == "\\" else value)
        elif like and esc in "%_":
            out.append(piece)
        elif esc == "u":
            digits = "".join(pieces[i : i + 4])
            if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise _malformed(query, token.pos, f"Invalid string literal '{token.text}'. Illegal unicode escape")
            char = chr(int(digits, 16))
            out.append("\\\\" if like and char == "\\" else char)
            i += 4
        else:
            raise _malformed(
                query, token.pos, f"Invalid string literal '{token.text}'. Illegal character sequence '{piece}'"
            )
    return "".join(out)


# -- the syntax tree -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Column:
    path: tuple[str, ...]  # canonical names: ("Name",) or ("Account", "Name")
    field: Field


@dataclass(frozen=True, slots=True)
class OrderKey:
    column: Column
    descending: bool
    nulls_last: bool


@dataclass(slots=True)
class Query:
    sobject: SObject
    columns: list[Column]
    predicate: Callable[[Any], bool] | None
    order: list[OrderKey]
    limit: int | None
    offset: int


Resolver = Callable[[str, str], dict[str, Any] | None]
"""(sobject name, record id) -> record; used to follow relationship paths."""


class _Parser:
    def __init__(self, query: str, resolve: Resolver, hidden: Callable[[str], bool]) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0
        self.resolve = resolve
        self.hidden = hidden

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _kw(self, *words: str) -> bool:
        t = self.tok
        return t.kind == "ident" and t.text.lower() in words

    def _expect_kw(self, word: str) -> Token:
        if not self._kw(word):
            raise self._unexpected()
        return self._next()

    def _next(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def _unexpected(self) -> SoqlError:
        t = self.tok
        text = t.text if t.kind != "eof" else "<EOF>"
        return _malformed(self.query, t.pos, f"unexpected token: '{text}'")

    # -- grammar
    def parse(self) -> Query:
        self._expect_kw("select")
        select_tokens: list[Token] = []
        while True:
            t = self.tok
            if t.kind != "ident" or t.text.lower() in _KEYWORDS:
                raise self._unexpected()
            self._next()
            if self.tok.kind == "punct" and self.tok.text == "(":
                raise _malformed(
                    self.query, t.pos, f"unexpected token: '{t.text}' (functions are not supported by this fake)"
                )
            select_tokens.append(t)
            if self.tok.kind == "punct" and self.tok.text == ",":
                self._next()
                continue
            break
        self._expect_kw("from")
        obj_tok = self._next()
        if obj_tok.kind != "ident" or "." in obj_tok.text:
            raise _malformed(self.query, obj_tok.pos, f"unexpected token: '{obj_tok.text}'")
        target = sobject(obj_tok.text)
        if target is None or self.hidden(target.name):
            raise SoqlError(
                "INVALID_TYPE",
                f"\n{self.query}\n{' ' * obj_tok.pos}^\nERROR at Row:1:Column:{obj_tok.pos + 1}\n"
                f"sObject type '{obj_tok.text}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name.",
            )
        columns: list[Column] = []
        seen: set[tuple[str, ...]] = set()
        for t in select_tokens:
            col = self._column(target, t)
            if col.path in seen:
                raise _malformed(self.query, t.pos, f"duplicate field selected: {t.text}")
            seen.add(col.path)
            columns.append(col)
        predicate = None
        if self._kw("where"):
            self._next()
            predicate = self._or(target)
        order: list[OrderKey] = []
        if self._kw("order"):
            self._next()
            self._expect_kw("by")
            while True:
                t = self._next()
                if t.kind != "ident":
                    raise _malformed(self.query, t.pos, f"unexpected token: '{t.text}'")
                col = self._column(target, t)
                descending = False
                if self._kw("asc", "desc"):
                    descending = self._next().text.lower() == "desc"
                nulls_last = descending
                if self._kw("nulls"):
                    self._next()
                    if not self._kw("first", "last"):
                        raise self._unexpected()
                    nulls_last = self._next().text.lower() == "last"
                order.append(OrderKey(col, descending, nulls_last))
                if self.tok.kind == "punct" and self.tok.text == ",":
                    self._next()
                    continue
                break
        limit = self._int_clause("limit")
        offset = self._int_clause("offset") or 0
        if self.tok.kind != "eof":
            if self.tok.kind == "ident" and self.tok.text.lower() in _UNSUPPORTED:
                raise _malformed(
                    self.query,
                    self.tok.pos,
                    f"unexpected token: '{self.tok.text}' (not supported by this fake)",
                )
            raise self._unexpected()
        return Query(target, columns, predicate, order, limit, offset)

    def _int_clause(self, word: str) -> int | None:
        if not self._kw(word):
            return None
        self._next()
        t = self._next()
        if t.kind != "number" or "." in t.text or t.text.startswith(("-", "+")):
            raise _malformed(self.query, t.pos, f"unexpected token: '{t.text}'")
        return int(t.text)

    def _column(self, target: SObject, t: Token) -> Column:
        parts = t.text.split(".")
        if parts[0].lower() == target.name.lower() and len(parts) > 1:
            parts = parts[1:]  # "Opportunity.Name" is allowed in SOQL
        current = target
        path: list[str] = []
        for part in parts[:-1]:
            ref = current.relationship(part)
            parent = sobject(ref.reference_to) if ref is not None and ref.reference_to else None
            if ref is None or parent is None or ref.relationship_name is None:
                raise self._no_column(t, current, part)
            path.append(ref.relationship_name)
            current = parent
        found = current.field(parts[-1])
        if found is None:
            raise self._no_column(t, current, parts[-1])
        path.append(found.name)
        return Column(tuple(path), found)

    def _no_column(self, t: Token, target: SObject, name: str) -> SoqlError:
        return SoqlError(
            "INVALID_FIELD",
            f"\n{self.query}\n{' ' * t.pos}^\nERROR at Row:1:Column:{t.pos + 1}\n"
            f"No such column '{name}' on entity '{target.name}'. If you are attempting to use a custom "
            "field, be sure to append the '__c' after the custom field name. Please reference your WSDL "
            "or the describe call for the appropriate names.",
        )

    def _or(self, target: SObject) -> Callable[[Any], bool]:
        parts = [self._and(target)]
        while self._kw("or"):
            self._next()
            parts.append(self._and(target))
        if len(parts) == 1:
            return parts[0]
        return lambda r: any(p(r) for p in parts)

    def _and(self, target: SObject) -> Callable[[Any], bool]:
        parts = [self._not(target)]
        while self._kw("and"):
            self._next()
            parts.append(self._not(target))
        if len(parts) == 1:
            return parts[0]
        return lambda r: all(p(r) for p in parts)

    def _not(self, target: SObject) -> Callable[[Any], bool]:
        if self._kw("not"):
            self._next()
            inner = self._not(target)
            return lambda r: not inner(r)
        if self.tok.kind == "punct" and self.tok.text == "(":
            self._next()
            inner = self._or(target)
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise self._unexpected()
            self._next()
            return inner
        return self._comparison(target)

    def _comparison(self, target: SObject) -> Callable[[Any], bool]:
        t = self._next()
        if t.kind != "ident" or t.text.lower() in _KEYWORDS:
            raise _malformed(self.query, t.pos, f"unexpected token: '{t.text}'")
        col = self._column(target, t)
        get = self._getter(target, col)
        negate = False
        if self._kw("not"):
            self._next()
            if not self._kw("in"):
                raise self._unexpected()
            negate = True
        if self._kw("in"):
            self._next()
            if not (self.tok.kind == "punct" and self.tok.text == "("):
                raise self._unexpected()
            self._next()
            values = []
            while True:
                values.append(self._literal(col.field, like=False))
                if self.tok.kind == "punct" and self.tok.text == ",":
                    self._next()
                    continue
                break
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise self._unexpected()
            self._next()
            keys = {_key(col.field, v) for v in values}

            def member(r: Any) -> bool:
                return (_key(col.field, get(r)) in keys) != negate

            return member
        if self._kw("like"):
            self._next()
            if col.field.type not in STRING_TYPES:
                raise SoqlError(
                    "INVALID_FIELD",
                    f"invalid operator on {col.field.type} field: {col.field.name}",
                )
            pattern_tok = self._next()
            if pattern_tok.kind != "string":
                raise _malformed(self.query, pattern_tok.pos, f"unexpected token: '{pattern_tok.text}'")
            regex = _like_regex(decode_string(self.query, pattern_tok, like=True))

            def like(r: Any) -> bool:
                value = get(r)
                return value is not None and regex.fullmatch(str(value)) is not None

            return like
        op_tok = self._next()
        if op_tok.kind != "op":
            raise _malformed(self.query, op_tok.pos, f"unexpected token: '{op_tok.text}'")
        literal = self._literal(col.field, like=False)
        return _compare(col.field, get, op_tok.text, literal)

    def _literal(self, f: Field, *, like: bool) -> Any:
        t = self._next()
        if t.kind == "ident" and t.text.lower() == "null":
            return None
        expected = _expected_kind(f)
        if t.kind == "string":
            if expected != "string":
                raise SoqlError(
                    "INVALID_FIELD",
                    f"\n{self.query}\n{' ' * t.pos}^\nERROR at Row:1:Column:{t.pos + 1}\n"
                    f"value of filter criterion for field '{f.name}' must be of type {_type_word(f)} "
                    "and should not be enclosed in quotes",
                )
            return decode_string(self.query, t, like=like)
        if t.kind == "ident" and t.text.lower() in ("true", "false"):
            value: Any = t.text.lower() == "true"
            kind = "boolean"
        elif t.kind in ("number", "date", "datetime"):
            value, kind = t.value, t.kind
        else:
            raise _malformed(self.query, t.pos, f"unexpected token: '{t.text}'")
        if kind == "date" and expected == "datetime":
            raise SoqlError(
                "INVALID_FIELD",
                f"value of filter criterion for field '{f.name}' must be of type dateTime and should not "
                "be enclosed in quotes",
            )
        if kind != expected:
            raise SoqlError(
                "INVALID_FIELD",
                f"\n{self.query}\n{' ' * t.pos}^\nERROR at Row:1:Column:{t.pos + 1}\n"
                f"value of filter criterion for field '{f.name}' must be of type {_type_word(f)}"
                + (" and should be enclosed in quotes" if expected == "string" else ""),
            )
        return value

    def _getter(self, target: SObject, col: Column) -> Callable[[Any], Any]:
        return getter(target, col, self.resolve)


def getter(target: SObject, col: Column, resolve: Resolver) -> Callable[[Any], Any]:
    """A function reading ``col`` from a record of ``target``, following relationships."""
    if len(col.path) == 1:
        name = col.path[0]
        return lambda r: r.get(name)
    chain: list[tuple[str, str]] = []
    current = target
    for rel in col.path[:-1]:
        ref = current.relationship(rel)
        assert ref is not None and ref.reference_to is not None
        chain.append((ref.name, ref.reference_to))
        parent = sobject(ref.reference_to)
        assert parent is not None
        current = parent
    leaf = col.path[-1]

    def follow(r: Any) -> Any:
        record = r
        for fk, obj in chain:
            ref_id = record.get(fk) if record is not None else None
            record = resolve(obj, ref_id) if ref_id else None
            if record is None:
                return None
        return record.get(leaf)

    return follow


def _expected_kind(f: Field) -> str:
    if f.type in STRING_TYPES:
        return "string"
    if f.type in NUMBER_TYPES:
        return "number"
    return {"boolean": "boolean", "date": "date", "datetime": "datetime"}.get(f.type, "string")


def _type_word(f: Field) -> str:
    return {"datetime": "dateTime", "int": "integer"}.get(f.type, f.type if f.type not in STRING_TYPES else "string")


def _key(f: Field, value: Any) -> Any:
    if value is None:
        return None
    if f.type in ("id", "reference") and isinstance(value, str):
        return value[:15]  # 15- and 18-character forms name the same record
    if f.type in STRING_TYPES:
        return str(value).casefold()  # SOQL string comparison ignores case
    if f.type in NUMBER_TYPES:
        return Decimal(str(value))
    return value


def _compare(f: Field, get: Callable[[Any], Any], op: str, literal: Any) -> Callable[[Any], bool]:
    want = _key(f, literal)
    if op in ("=", "!=", "<>"):
        equal = op == "="

        def eq(r: Any) -> bool:
            return bool((_key(f, get(r)) == want) == equal)

        return eq
    if want is None:
        return lambda r: False
    compare: Callable[[Any, Any], bool] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]

    def ordered(r: Any) -> bool:
        value = _key(f, get(r))
        return value is not None and compare(value, want)

    return ordered


def _like_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def parse(query: str, resolve: Resolver, hidden: Callable[[str], bool] = lambda name: False) -> Query:
    """Parse ``query`` against the fake's schema; :class:`SoqlError` when Salesforce would refuse it.

    ``hidden`` names objects the connected user may not see (answered like unknown objects).
    """
    return _Parser(query, resolve, hidden).parse()


def run(query: Query, records: Sequence[dict[str, Any]], resolve: Resolver) -> list[dict[str, Any]]:
    """The records ``query`` selects, filtered, ordered and cut by LIMIT/OFFSET."""
    selected = [r for r in records if query.predicate(r)] if query.predicate else list(records)
    for key in reversed(query.order):
        col = key.column
        get = getter(query.sobject, col, resolve)
        present = [r for r in selected if get(r) is not None]
        missing = [r for r in selected if get(r) is None]
        present.sort(key=lambda r: _key(col.field, get(r)), reverse=key.descending)
        selected = present + missing if key.nulls_last else missing + present
    if query.offset:
        selected = selected[query.offset :]
    if query.limit is not None:
        selected = selected[: query.limit]
    return selected


def format_value(f: Field, value: Any) -> Any:
    """A stored value as the REST API writes it in JSON."""
    if value is None:
        return None
    if f.type == "datetime":
        assert isinstance(value, datetime)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if f.type == "date":
        assert isinstance(value, date)
        return value.isoformat()
    if f.type in ("double", "currency", "percent"):
        return float(value)
    return value


def soql_now() -> datetime:
    """Now, to the millisecond, as Salesforce stores timestamps."""
    now = datetime.now(UTC)
    return now - timedelta(microseconds=now.microsecond % 1000)


__all__ = ["Query", "SoqlError", "format_value", "parse", "run", "soql_now", "timezone"]
