"""Contacts: HubSpot's ``contacts`` object as unified :class:`~unified_sdk.models.Contact`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from unified_sdk.models import Address, Contact, Email, Telephone, construct
from unified_sdk.provider import OperationContext, OperationFlow
from unified_sdk_hubspot.crm import _values as v
from unified_sdk_hubspot.crm._objects import HubSpotObjectAdapter

_PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "hs_additional_emails",
    "phone",
    "mobilephone",
    "jobtitle",
    "company",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "hubspot_owner_id",
    "createdate",
    "lastmodifieddate",
)
_KNOWN = frozenset({*_PROPERTIES, "hs_object_id", "hs_lastmodifieddate"})
_ADDRESS = {"address": "address1", "city": "city", "state": "region", "zip": "postal_code", "country": "country"}


def _construct(**values: Any) -> Contact:
    return construct(Contact, **values)


def _email(**values: Any) -> Email:
    return construct(Email, **values)


def _phone(**values: Any) -> Telephone:
    return construct(Telephone, **values)


def _address(**values: Any) -> Address:
    return construct(Address, **values)


def address_of(p: Mapping[str, Any], fields: Mapping[str, str]) -> Address | None:
    values = {unified: p.get(prop) or None for prop, unified in fields.items()}
    return _address(**values) if any(values.values()) else None


def address_properties(address: Any, fields: Mapping[str, str]) -> dict[str, Any]:
    if address is None:
        return {prop: None for prop in fields}
    return {prop: v.get(address, unified) for prop, unified in fields.items() if v.get(address, unified) is not None}


class ContactsAdapter(HubSpotObjectAdapter[Contact]):
    """``crm.contacts``: HubSpot contacts with their company and deal associations."""

    object_type: ClassVar[str] = "contacts"
    filters = frozenset({"updated_after", "email", "company_id", "user_id", "query"})
    search_filters: ClassVar[Mapping[str, str]] = {
        "email": "email",
        "company_id": "associations.company",
        "user_id": "hubspot_owner_id",
    }
    sorts = frozenset({"created_at", "updated_at"})
    """Not ``name``: the unified name is first and last name, and a search sorts by one property."""
    sort_properties: ClassVar[Mapping[str, str]] = {"created_at": "createdate", "updated_at": "lastmodifieddate"}
    properties: ClassVar[tuple[str, ...]] = _PROPERTIES
    associations: ClassVar[tuple[str, ...]] = ("companies", "deals")
    modified_property: ClassVar[str] = "lastmodifieddate"
    association_type_ids: ClassVar[Mapping[str, int]] = {"companies": 279, "deals": 4}
    association_fields: ClassVar[Mapping[str, str]] = {"company_ids": "companies", "deal_ids": "deals"}

    def to_model(self, record: Mapping[str, Any], extra: Any, with_associations: bool) -> Contact:
        p = record.get("properties") or {}
        first = p.get("firstname") or None
        last = p.get("lastname") or None
        emails = []
        if p.get("email"):
            emails.append(_email(email=p["email"], type="work"))
        for other in (p.get("hs_additional_emails") or "").split(";"):
            if other.strip():
                emails.append(_email(email=other.strip(), type="other"))
        phones = []
        if p.get("phone"):
            phones.append(_phone(telephone=p["phone"], type="work"))
        if p.get("mobilephone"):
            phones.append(_phone(telephone=p["mobilephone"], type="mobile"))
        assoc = record.get("associations") if with_associations else None
        return _construct(
            id=str(record["id"]),
            created_at=v.timestamp(record.get("createdAt") or p.get("createdate")),
            updated_at=v.timestamp(record.get("updatedAt") or p.get("lastmodifieddate")),
            name=" ".join(x for x in (first, last) if x) or None,
            first_name=first,
            last_name=last,
            title=p.get("jobtitle") or None,
            department=None,
            company=p.get("company") or None,
            company_ids=v.ids(assoc, "companies") if with_associations else None,
            deal_ids=v.ids(assoc, "deals") if with_associations else None,
            emails=emails,
            telephones=phones,
            address=address_of(p, _ADDRESS),
            image_url=None,
            user_id=p.get("hubspot_owner_id") or None,
            metadata=v.metadata(p, _KNOWN),
            raw=record,
        )

    def to_properties(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[dict[str, Any]]:
        props: dict[str, Any] = {}
        if "first_name" in data:
            props["firstname"] = data["first_name"]
        if "last_name" in data:
            props["lastname"] = data["last_name"]
        if data.get("name") and "first_name" not in data and "last_name" not in data:
            first, _, last = str(data["name"]).strip().partition(" ")
            props["firstname"], props["lastname"] = first, last or None
        for field, prop in (("title", "jobtitle"), ("company", "company"), ("user_id", "hubspot_owner_id")):
            if field in data:
                props[prop] = data[field]
        if "emails" in data:
            found = [v.get(e, "email") for e in data["emails"] or () if v.get(e, "email")]
            props["email"] = found[0] if found else None
        if "telephones" in data:
            phones = list(data["telephones"] or ())
            mobile = [v.get(t, "telephone") for t in phones if v.get(t, "type") == "mobile"]
            other = [v.get(t, "telephone") for t in phones if v.get(t, "type") != "mobile"]
            props["phone"] = other[0] if other else None
            if mobile:
                props["mobilephone"] = mobile[0]
        if "address" in data:
            props.update(address_properties(data["address"], _ADDRESS))
        props.update(v.custom_properties(data.get("metadata")))
        return props
        yield  # pragma: no cover - a generator without requests
