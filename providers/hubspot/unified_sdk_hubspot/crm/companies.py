"""Companies: HubSpot's ``companies`` object as unified :class:`~unified_sdk.models.Company`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from unified_sdk.models import Company, construct
from unified_sdk.provider import FieldMap, MappedField, convert
from unified_sdk_hubspot.crm._base import HubSpotObjectAdapter, Page
from unified_sdk_hubspot.crm._values import associated_ids, listed, metadata, property_value

#: The unified address of a company: its fields and the properties holding them.
ADDRESS = FieldMap(
    ("address1", "address"),
    ("address2", "address2"),
    ("city", "city"),
    ("region", "state"),
    ("postal_code", "zip"),
    ("country", "country"),
    default_read=convert.text,
)


def _construct(**values: Any) -> Company:
    return construct(Company, **values)


class CompaniesAdapter(HubSpotObjectAdapter[Company]):
    """``crm.companies``: HubSpot companies with their contact and deal associations."""

    object_type: ClassVar[str] = "companies"
    mapping = FieldMap(
        ("name", "name"),
        ("industry", "industry"),
        MappedField("employees", "numberofemployees", read=convert.integer, write=str),
        ("description", "description"),
        ("user_id", "hubspot_owner_id"),
        MappedField("created_at", "createdate", read=convert.timestamp, writable=False),
        MappedField("updated_at", "hs_lastmodifieddate", read=convert.timestamp, writable=False),
        default_read=convert.text,
    )
    properties: ClassVar[tuple[str, ...]] = (
        *mapping.provider_names,
        "domain",
        "hs_additional_domains",
        "website",
        "phone",
        *ADDRESS.provider_names,
    )
    #: Properties mapped to unified fields or internal to HubSpot; every other one goes to ``metadata``.
    known: ClassVar[frozenset[str]] = frozenset({*properties, "hs_object_id"})
    writable_fields = mapping.writable | {
        "domains",
        "websites",
        "telephones",
        "address",
        "contact_ids",
        "deal_ids",
        "metadata",
    }
    """Not ``emails``: HubSpot companies have no email property."""
    filters = frozenset({"updated_after", "user_id", "query"})
    search_filters: ClassVar[Mapping[str, str]] = {"user_id": "hubspot_owner_id"}
    sorts = frozenset({"created_at", "updated_at", "name"})
    sort_properties: ClassVar[Mapping[str, str]] = {
        "created_at": "createdate",
        "updated_at": "hs_lastmodifieddate",
        "name": "name",
    }
    associations: ClassVar[tuple[str, ...]] = ("contacts", "deals")
    association_type_ids: ClassVar[Mapping[str, int]] = {"contacts": 280, "deals": 342}
    association_fields: ClassVar[Mapping[str, str]] = {"contact_ids": "contacts", "deal_ids": "deals"}

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> Company:
        page: Page = lookups
        p = record.get("properties") or {}
        domains = [p["domain"]] if p.get("domain") else []
        domains += listed(p.get("hs_additional_domains"))
        linked = record.get("associations") if page.linked else None
        return _construct(
            **self.mapping.read(p),
            id=str(record["id"]),
            domains=domains,
            websites=[p["website"]] if p.get("website") else [],
            address=convert.address(ADDRESS.read(p)),
            telephones=[convert.telephone(p["phone"], "work")] if p.get("phone") else [],
            emails=[],
            contact_ids=associated_ids(linked, "contacts") if page.linked else None,
            deal_ids=associated_ids(linked, "deals") if page.linked else None,
            metadata=metadata(p, self.known),
            raw=record,
        )

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        props = self.mapping.write(data)
        if "domains" in data:
            props["domain"] = convert.single(data["domains"], "domains", provider="hubspot", what="primary domain")
        if "websites" in data:
            props["website"] = convert.single(data["websites"], "websites", provider="hubspot", what="website")
        if "telephones" in data:
            phone = convert.single(data["telephones"], "telephones", provider="hubspot", what="phone number")
            props["phone"] = phone.get("telephone") if phone else None
        if "address" in data:
            address = data["address"]
            props.update(ADDRESS.write(address) if address is not None else dict.fromkeys(ADDRESS.provider_names))
        props.update(convert.metadata_values(data.get("metadata"), provider="hubspot", value=property_value))
        return props
