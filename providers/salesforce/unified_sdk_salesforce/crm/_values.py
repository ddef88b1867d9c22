"""Value conversion only Salesforce needs, around the shared ``unified_sdk.provider.convert``.

Salesforce writes numbers as JSON numbers and the zero offset as ``+0000``, stores one value where
unified models have lists (an account, a website, an email), spreads an address over five fields
whose ``Street`` holds every street line, and names custom fields ``…__c``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from unified_sdk.models import Address, Metadata
from unified_sdk.provider import FieldMap, convert
from unified_sdk_salesforce import _soql

PROVIDER = "salesforce"


# -- reading ------------------------------------------------------------------------------------------
def work_emails(value: Any) -> list[Any]:
    """A Salesforce ``Email`` field as unified ``emails`` (Salesforce has no type: ``work``)."""
    return [convert.email(value, "work")] if value else []


def work_telephones(value: Any) -> list[Any]:
    """A Salesforce ``Phone`` field as unified ``telephones`` (the business phone: ``work``)."""
    return [convert.telephone(value, "work")] if value else []


def domain(website: str) -> str | None:
    """The host of a website without ``www.`` (``https://www.acme.example/`` -> ``acme.example``)."""
    host = urlsplit(website if "//" in website else "//" + website).hostname
    return host.removeprefix("www.") if host else None


def domains(website: Any) -> list[str]:
    """A Salesforce ``Website`` as unified ``domains``."""
    found = domain(str(website)) if website else None
    return [found] if found else []


def custom_fields(record: Mapping[str, Any]) -> list[Metadata]:
    """The record's custom fields (``…__c``) as unified metadata."""
    return convert.metadata({k: v for k, v in record.items() if k.endswith("__c")})


# -- writing ------------------------------------------------------------------------------------------
def json_number(value: Any) -> Any:
    """A unified number as a JSON number (Salesforce numbers are never strings)."""
    return float(value) if isinstance(value, Decimal) else value


def timestamp_text(value: Any) -> str | None:
    """A datetime as Salesforce writes one: ``2024-01-31T12:00:00.000+0000``."""
    return convert.timestamp_text(value, utc="+0000")


def one(field: str, what: str, key: str | None = None) -> Callable[[Sequence[Any] | None], Any]:
    """A writer of the one value Salesforce stores for unified list ``field`` (``key``: of each entry)."""
    return convert.single_writer(field, provider=PROVIDER, what=what, key=key)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp_text(value)
    if isinstance(value, date):
        return convert.date_text(value)
    return json_number(value)


def _is_custom_field(name: str) -> bool:
    if not name.endswith("__c"):
        return False
    try:
        _soql.identifier(name)
    except ValueError:
        return False
    return True


def custom_field_values(items: Iterable[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Unified ``metadata`` as custom-field values; only valid ``…__c`` names are accepted."""
    return convert.metadata_values(
        items,
        provider=PROVIDER,
        accept=_is_custom_field,
        rule="a custom field API name ending in __c",
        value=_json_value,
    )


# -- addresses ----------------------------------------------------------------------------------------
class CompoundAddress:
    """A Salesforce compound address (``MailingStreet``, ``MailingCity``, …) as a unified :class:`Address`.

    ``Street`` holds every street line: its first line is ``address1``, the rest ``address2``."""

    __slots__ = ("_rest", "provider_names", "street")

    def __init__(self, prefix: str) -> None:
        self.street = f"{prefix}Street"
        self._rest = FieldMap(
            ("city", f"{prefix}City"),
            ("region", f"{prefix}State"),
            ("postal_code", f"{prefix}PostalCode"),
            ("country", f"{prefix}Country"),
        )
        self.provider_names: tuple[str, ...] = (self.street, *self._rest.provider_names)
        """The Salesforce fields of the address."""

    def read(self, record: Mapping[str, Any]) -> Address | None:
        values = self._rest.read(record)
        street = record.get(self.street)
        if street:
            first, _, rest = str(street).partition("\n")
            values["address1"], values["address2"] = first or None, rest.strip() or None
        return convert.address(values)

    def write(self, address: Mapping[str, Any] | None) -> dict[str, Any]:
        """The fields of the address parts set in ``address`` (``None``: nothing)."""
        if address is None:
            return {}
        out = self._rest.write(address)
        if "address1" in address or "address2" in address:
            lines = (address.get("address1"), address.get("address2"))
            out[self.street] = "\n".join(str(line) for line in lines if line) or None
        return out
