"""Sandbox value shapes that more than one resource has, as unified values and back.

Generic conversions (amounts, timestamps, names, metadata) are ``unified_sdk.provider.convert``'s;
this module has only what is the sandbox's own: its address object, its record fields, and the
unified lists it stores as one value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from unified_sdk.models import Address, Metadata
from unified_sdk.provider import FieldMap, MappedField, convert

PROVIDER = "sandbox"

ADDRESS = FieldMap(
    ("address1", "line1"),
    ("address2", "line2"),
    ("city", "city"),
    ("region", "state"),
    ("region_code", "state_code"),
    ("postal_code", "postal_code"),
    ("country", "country"),
    ("country_code", "country_code"),
)
"""The sandbox ``address`` object's fields."""

_NO_ADDRESS = dict.fromkeys(field.unified for field in ADDRESS.fields)


def address(value: Mapping[str, Any] | None) -> Address | None:
    """A sandbox address object as a unified address (``None`` when it is empty)."""
    return convert.address(ADDRESS.read(value)) if value else None


def address_fields(value: Mapping[str, Any]) -> dict[str, Any]:
    """A unified address as the sandbox's object. The sandbox replaces an address whole, so every part
    the caller left out is written as ``None``, which says so."""
    return ADDRESS.write({**_NO_ADDRESS, **value})


def items(value: list[Any] | None) -> list[Any]:
    """A sandbox list, with ``null`` read as empty."""
    return value or []


def one(field: str, what: str) -> Callable[[Sequence[Any] | None], Any]:
    """The writer of unified list ``field`` that the sandbox stores as one ``what``
    (:func:`~unified_sdk.provider.convert.single_writer`: more than one is a ``ValidationError`` naming ``field``)."""
    return convert.single_writer(field, provider=PROVIDER, what=what)


def metadata(custom: Mapping[str, Any] | None) -> list[Metadata]:
    """Sandbox ``custom_fields`` as unified metadata."""
    return convert.metadata(custom) if custom else []


def custom_fields(entries: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Unified metadata as sandbox ``custom_fields``, which the sandbox merges into the record's:
    an entry whose value is ``None`` deletes that field; no entries change nothing."""
    return convert.metadata_values(entries, provider=PROVIDER)


RECORD_FIELDS = (
    MappedField("created_at", "created_at", read=convert.timestamp, writable=False),
    MappedField("updated_at", "updated_at", read=convert.timestamp, writable=False),
    MappedField("metadata", "custom_fields", read=metadata, writable=False),
)
"""The fields every sandbox record has; ``metadata`` is written by :func:`custom_fields`, as ``None``
means "no change" and not "clear"."""
