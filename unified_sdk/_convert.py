"""Value converters between provider values and unified ones, shared by every plugin.

Plugins reach them as ``unified_sdk.provider.convert``. Readers (provider -> unified) are lenient:
an empty or unparsable provider value reads as ``None`` (the record's ``raw`` keeps it), so one odd
record never fails a listing. Writers (unified -> provider) take the already validated unified
values the core passes and are exact: amounts never go through a float, times are written in UTC.

Readers build exactly-typed values without validation (``datetime.fromisoformat``, ``Decimal(str)``),
so models can be made with :func:`unified_sdk.models.construct`; listings map thousands of records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from unified_sdk.errors import ValidationError
from unified_sdk.models import Address, Email, Metadata, Telephone, construct

__all__ = [
    "address",
    "boolean",
    "date_text",
    "decimal",
    "decimal_text",
    "email",
    "fraction_from_percent",
    "integer",
    "join_name",
    "listed",
    "metadata",
    "metadata_values",
    "millis",
    "number",
    "percent_from_fraction",
    "single",
    "single_writer",
    "split_name",
    "telephone",
    "text",
    "timestamp",
    "timestamp_text",
]

_fromiso = datetime.fromisoformat
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)

# -- reading: provider -> unified ---------------------------------------------------------------------


def text(value: Any) -> str | None:
    """A provider string, with an empty string (HubSpot's "unset") read as ``None``."""
    return str(value) if value else None


def decimal(value: Any) -> Decimal | None:
    """An exact amount: ``"1234.50"`` and ``1234.5`` stay exact (floats go through ``str``), never rounded."""
    kind = type(value)
    if kind is str or kind is int or kind is float:
        if not value and kind is str:
            return None
        try:
            result = Decimal(value if kind is str else str(value))
        except (InvalidOperation, ValueError):
            return None
        return result if result.is_finite() else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if value is None or isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None
    return result if result.is_finite() else None


def integer(value: Any) -> int | None:
    """A whole number (``"12"``, ``12``, ``12.0``); ``None`` for anything with a fraction."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    found = decimal(value)
    if found is None or found != found.to_integral_value():
        return None
    return int(found)


def number(value: Any) -> float | None:
    """A float (probabilities, percentages): unified fields that are floats, not amounts."""
    kind = type(value)
    if kind is float:
        return value if value - value == 0 else None  # not inf or nan
    if kind is int:
        return float(value)
    found = decimal(value)
    return None if found is None else float(found)


def boolean(value: Any) -> bool | None:
    """``True``/``False`` from a JSON boolean or a provider's string (``"true"``, ``"false"``, ``"1"``, ``"0"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    return None


def percent_from_fraction(value: Any) -> float | None:
    """A provider's 0..1 fraction (``"0.25"``) as a unified percentage (``25.0``), exactly."""
    found = decimal(value)
    return None if found is None else float(found * 100)


def timestamp(value: Any) -> datetime | None:
    """An aware datetime from ISO 8601 (``2024-01-15T10:20:30.123Z``, ``…+0000``), a date (``2024-01-15``,
    midnight UTC) or epoch milliseconds (``1705314030123``). A time without an offset is taken as UTC."""
    if type(value) is str and value and not value.isdigit():  # the common case first: ISO 8601 text
        try:
            parsed = _fromiso(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if not value:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    elif isinstance(value, str) and value.isdigit():
        # Before ISO parsing: Python reads 13 digits as a "basic format" date (1706702400000 -> year 1706).
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    else:
        try:
            parsed = _fromiso(value)
        except (TypeError, ValueError):
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def listed(value: Any) -> list[Any]:
    """One provider value as the unified list that holds it (``AccountId`` -> ``company_ids``); ``[]`` when unset.
    The read side of :func:`single`."""
    return [value] if value else []


def email(address: Any, type: str | None = None) -> Email:
    """A unified email entry."""
    return construct(Email, email=address, type=type)


def telephone(number: Any, type: str | None = None) -> Telephone:
    """A unified telephone entry."""
    return construct(Telephone, telephone=number, type=type)


def address(values: Mapping[str, Any]) -> Address | None:
    """A unified address from its unified field values (e.g. a ``FieldMap`` read), ``None`` when all are empty."""
    for value in values.values():
        if value is not None and value != "":
            return construct(Address, **{k: (v if v != "" else None) for k, v in values.items()})
    return None


def metadata(values: Mapping[str, Any]) -> list[Metadata]:
    """Provider fields the unified model has no field for (custom fields), as unified ``metadata``:
    the provider's field name is both ``id`` and ``slug``."""
    return [construct(Metadata, id=name, slug=name, value=value) for name, value in values.items()]


# -- writing: unified -> provider ---------------------------------------------------------------------


def decimal_text(value: Any) -> str | None:
    """A unified amount as an exact decimal string (``"1234.50"``; no exponent, no float)."""
    if value is None:
        return None
    found = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(found, "f")


def fraction_from_percent(value: Any) -> float | None:
    """A unified percentage (``25``) as a provider's 0..1 fraction (``0.25``)."""
    found = decimal(value)
    return None if found is None else float(found / 100)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def timestamp_text(value: Any, *, timespec: str = "milliseconds", utc: str = "Z") -> str | None:
    """A datetime as ISO 8601 in UTC (``2024-01-15T10:20:30.123Z``); a naive one is taken as UTC.

    ``utc`` is how the provider writes the zero offset (``"Z"``, or ``"+0000"`` for Salesforce);
    ``timespec`` as :meth:`datetime.isoformat`. A date is written as its midnight UTC."""
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, datetime):
        return str(value)
    return _utc(value).replace(tzinfo=None).isoformat(timespec=timespec) + utc


def date_text(value: Any) -> str | None:
    """A date (``2024-01-15``): a datetime's date in UTC (a naive one's own date)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo is not None else value).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def millis(value: datetime) -> int:
    """Epoch milliseconds of a datetime (a naive one taken as UTC)."""
    # Integer arithmetic: ``timestamp() * 1000`` is a float and lands 1 ms early for some times.
    return (_utc(value) - _EPOCH) // _ONE_MS


def split_name(full: Any) -> tuple[str | None, str | None]:
    """A full name as (first, last), split at its last space: ``"Mary Ann Smith"`` -> (``"Mary Ann"``, ``"Smith"``);
    one word is a last name. Every provider splits the same way, so ``name=`` means the same everywhere."""
    words = str(full or "").split()
    if not words:
        return None, None
    return (" ".join(words[:-1]) or None), words[-1]


def join_name(first: Any, last: Any) -> str | None:
    """First and last name as one full name (either may be missing)."""
    return " ".join(str(part) for part in (first, last) if part) or None


def single(values: Sequence[Any] | None, field: str, *, provider: str, what: str) -> Any:
    """The one value of a unified list field (``company_ids``, ``websites``) a provider stores as one.

    ``None`` for an empty list; more than one is a :class:`~unified_sdk.errors.ValidationError` naming
    ``field`` (never silently the first), raised before anything is sent."""
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError(
            f"{provider} stores one {what} per record; {field} has {len(values)}",
            provider=provider,
            hint=f"give at most one value in {field}; nothing was sent",
            details={"fields": [field]},
        )
    return values[0]


def single_writer(
    field: str, *, provider: str, what: str, key: str | None = None
) -> Callable[[Sequence[Any] | None], Any]:
    """:func:`single` as a :class:`~unified_sdk.provider.MappedField` ``write``: the one value of list ``field``
    (of each entry's ``key`` when given, e.g. ``"email"`` of ``emails``)."""

    def write(values: Sequence[Any] | None) -> Any:
        found = single(values, field, provider=provider, what=what)
        return found.get(key) if key is not None and isinstance(found, Mapping) else found

    return write


def metadata_values(
    items: Iterable[Mapping[str, Any]] | None,
    *,
    provider: str,
    accept: Callable[[str], bool] | None = None,
    rule: str = "a custom field name",
    value: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """Unified ``metadata`` entries as provider field values, keyed by each entry's ``slug`` (else ``id``).

    ``accept`` says which names are the provider's custom fields (e.g. Salesforce's ``…__c``); an entry
    without a name, or with a name it refuses, is a ``ValidationError`` naming ``metadata`` that says
    ``rule``. ``value`` converts each value (e.g. a Decimal to text); a ``None`` value clears the field."""
    out: dict[str, Any] = {}
    for item in items or ():
        name = item.get("slug") or item.get("id")
        if not isinstance(name, str) or not name or (accept is not None and not accept(name)):
            raise ValidationError(
                f"metadata entry {name!r} is not a {provider} custom field",
                provider=provider,
                hint=f"each metadata entry's slug (or id) must be {rule}; nothing was sent",
                details={"fields": ["metadata"]},
            )
        found = item.get("value")
        out[name] = value(found) if value is not None and found is not None else found
    return out
