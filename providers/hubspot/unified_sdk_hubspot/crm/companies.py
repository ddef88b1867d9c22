"""Companies: HubSpot's ``companies`` object as unified :class:`~unified_sdk.models.Company`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from unified_sdk.models import Company, Telephone, construct
from unified_sdk.provider import OperationContext, OperationFlow
from unified_sdk_hubspot.crm import _values as v
from unified_sdk_hubspot.crm._objects import HubSpotObjectAdapter
from unified_sdk_hubspot.crm.contacts import address_of, address_properties

_PROPERTIES = (
    "name",
    "domain",
    "hs_additional_domains",
    "website",
    "industry",
    "numberofemployees",
    "phone",
    "address",
    "address2",
    "city",
    "state",
    "zip",
    "country",
    "description",
    "hubspot_owner_id",
    "createdate",
    "hs_lastmodifieddate",
)
_KNOWN = frozenset({*_PROPERTIES, "hs_object_id"})
_ADDRESS = {
    "address": "address1",
    "address2": "address2",
    "city": "city",
    "state": "region",
    "zip": "postal_code",
    "country": "country",
}


def _construct(**values: Any) -> Company:
    return construct(Company, **values)


def _phone(**values: Any) -> Telephone:
    return construct(Telephone, **values)


class CompaniesAdapter(HubSpotObjectAdapter[Company]):
    """``crm.companies``: HubSpot companies with their contact and deal associations."""

    object_type: ClassVar[str] = "companies"
    filters = frozenset({"updated_after", "user_id", "query"})
    search_filters: ClassVar[Mapping[str, str]] = {"user_id": "hubspot_owner_id"}
    sorts = frozenset({"created_at", "updated_at", "name"})
    sort_properties: ClassVar[Mapping[str, str]] = {
        "created_at": "createdate",
        "updated_at": "hs_lastmodifieddate",
        "name": "name",
    }
    properties: ClassVar[tuple[str, ...]] = _PROPERTIES
    associations: ClassVar[tuple[str, ...]] = ("contacts", "deals")
    association_type_ids: ClassVar[Mapping[str, int]] = {"contacts": 280, "deals": 342}
    association_fields: ClassVar[Mapping[str, str]] = {"contact_ids": "contacts", "deal_ids": "deals"}

    def to_model(self, record: Mapping[str, Any], extra: Any, with_associations: bool) -> Company:
        p = record.get("properties") or {}
        domains = [p["domain"]] if p.get("domain") else []
        domains += [d.strip() for d in (p.get("hs_additional_domains") or "").split(";") if d.strip()]
        assoc = record.get("associations") if with_associations else None
        return _construct(
            id=str(record["id"]),
            created_at=v.timestamp(record.get("createdAt") or p.get("createdate")),
            updated_at=v.timestamp(record.get("updatedAt") or p.get("hs_lastmodifieddate")),
            name=p.get("name") or None,
            domains=domains,
            websites=[p["website"]] if p.get("website") else [],
            industry=p.get("industry") or None,
            employees=v.integer(p.get("numberofemployees")),
            address=address_of(p, _ADDRESS),
            telephones=[_phone(telephone=p["phone"], type="work")] if p.get("phone") else [],
            emails=[],
            description=p.get("description") or None,
            user_id=p.get("hubspot_owner_id") or None,
            contact_ids=v.ids(assoc, "contacts") if with_associations else None,
            deal_ids=v.ids(assoc, "deals") if with_associations else None,
            metadata=v.metadata(p, _KNOWN),
            raw=record,
        )

    def to_properties(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[dict[str, Any]]:
        props: dict[str, Any] = {}
        for field, prop in (
            ("name", "name"),
            ("industry", "industry"),
            ("description", "description"),
            ("user_id", "hubspot_owner_id"),
        ):
            if field in data:
                props[prop] = data[field]
        if "employees" in data:
            props["numberofemployees"] = None if data["employees"] is None else str(data["employees"])
        if "domains" in data:
            props["domain"] = (data["domains"] or [None])[0]
        if "websites" in data:
            props["website"] = (data["websites"] or [None])[0]
        if "telephones" in data:
            phones = [v.get(t, "telephone") for t in data["telephones"] or ()]
            props["phone"] = phones[0] if phones else None
        if "address" in data:
            props.update(address_properties(data["address"], _ADDRESS))
        props.update(v.custom_properties(data.get("metadata")))
        return props
        yield  # pragma: no cover - a generator without requests
