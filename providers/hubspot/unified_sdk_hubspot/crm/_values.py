"""Conversions between HubSpot property strings and unified values (exact, no float rounding)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from unified_sdk.models import Metadata, construct

T = TypeVar("T")


def _construct_metadata(**values: Any) -> Metadata:
    return construct(Metadata, **values)


def text(value: Any) -> str | None:
    """A property string, with HubSpot's empty string read as unset."""
    return value if value else None


def decimal(value: Any) -> Decimal | None:
    """An exact amount from HubSpot's string (``"1234.50"`` stays 1234.50, never a float)."""
    if value is None or value == "":
        return None
    try:
        result = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return result if result.is_finite() else None


def integer(value: Any) -> int | None:
    number = decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def percent(value: Any) -> float | None:
    """HubSpot's probability (0..1, as a string) in percent."""
    number = decimal(value)
    return None if number is None else float(number * 100)


_fromiso = datetime.fromisoformat


def timestamp(value: Any) -> datetime | None:
    """A datetime from HubSpot's ISO 8601 (``2024-01-15T10:20:30.123Z``), date or epoch milliseconds."""
    if not value:
        return None
    try:
        parsed = _fromiso(value)
    except (TypeError, ValueError):
        if isinstance(value, str) and value.isdigit():
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def to_millis(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def iso(value: Any) -> str:
    """A datetime (or date/str) as HubSpot's ISO 8601 in UTC."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def amount_text(value: Any) -> str:
    """A unified amount as the exact decimal string HubSpot stores (no exponent, no float)."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(number, "f")


def ids(associations: Mapping[str, Any] | None, to_type: str) -> list[str]:
    """Associated record ids of ``to_type``, each once, in HubSpot's order."""
    if not associations:
        return []
    found = associations.get(to_type)
    if not found:
        return []
    results: list[Mapping[str, Any]] = found.get("results") or []
    if len(results) == 1:
        return [str(results[0]["id"])]
    # A pair of records can be linked by several association types (e.g. labelled and unlabelled).
    return list(dict.fromkeys(str(r["id"]) for r in results))


def metadata(properties: Mapping[str, Any], known: frozenset[str]) -> list[Metadata]:
    """Every property the unified model has no field for (custom properties and extras asked for)."""
    extra = properties.keys() - known
    if not extra:
        return []
    return [_construct_metadata(id=name, slug=name, value=properties[name]) for name in properties if name in extra]


def get(item: Any, name: str) -> Any:
    """A field of a nested write value, whether the core passes models or plain dicts."""
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def custom_properties(items: Iterable[Any] | None) -> dict[str, Any]:
    """Unified ``metadata`` (``[{id, slug, value}]``) as HubSpot properties."""
    out: dict[str, Any] = {}
    for item in items or ():
        key = get(item, "slug") or get(item, "id")
        if key:
            value = get(item, "value")
            out[str(key)] = (
                amount_text(value)
                if isinstance(value, Decimal)
                else (iso(value) if isinstance(value, datetime) else value)
            )
    return out
