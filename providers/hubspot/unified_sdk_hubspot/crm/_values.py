"""HubSpot-specific value shapes: association ids, ``;``-separated lists, extra properties as metadata,
and unified values written as property strings. Generic conversions are ``unified_sdk.provider.convert``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from unified_sdk.models import Metadata
from unified_sdk.provider import convert


def associated_ids(associations: Mapping[str, Any] | None, to_type: str) -> list[str]:
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


def listed(value: Any) -> list[str]:
    """A multi-value property HubSpot keeps as one ``;``-separated string (``hs_additional_emails``)."""
    return [part.strip() for part in value.split(";") if part.strip()] if value else []


def metadata(properties: Mapping[str, Any], known: frozenset[str]) -> list[Metadata]:
    """Every property the unified model has no field for (custom properties and extras asked for)."""
    extra = properties.keys() - known
    if not extra:
        return []
    return convert.metadata({name: properties[name] for name in properties if name in extra})


def property_value(value: Any) -> Any:
    """A unified value (e.g. a metadata entry's) as HubSpot writes it: exact decimals, ISO 8601 times in UTC."""
    if isinstance(value, Decimal):
        return convert.decimal_text(value)
    if isinstance(value, datetime):
        return convert.timestamp_text(value)
    if isinstance(value, date):
        return convert.date_text(value)
    return value
