"""Contacts: HubSpot's ``contacts`` object as unified :class:`~unified_sdk.models.Contact`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from unified_sdk.models import Contact, construct
from unified_sdk.provider import FieldMap, MappedField, convert
from unified_sdk_hubspot.crm._base import HubSpotObjectAdapter, Page
from unified_sdk_hubspot.crm._values import associated_ids, listed, metadata, property_value

#: The unified address of a contact: its fields and the properties holding them.
ADDRESS = FieldMap(
    ("address1", "address"),
    ("city", "city"),
    ("region", "state"),
    ("postal_code", "zip"),
    ("country", "country"),
    default_read=convert.text,
)


def _construct(**values: Any) -> Contact:
    return construct(Contact, **values)


class ContactsAdapter(HubSpotObjectAdapter[Contact]):
    """``crm.contacts``: HubSpot contacts with their company and deal associations."""

    object_type: ClassVar[str] = "contacts"
    mapping = FieldMap(
        ("first_name", "firstname"),
        ("last_name", "lastname"),
        ("title", "jobtitle"),
        ("company", "company"),
        ("user_id", "hubspot_owner_id"),
        MappedField("created_at", "createdate", read=convert.timestamp, writable=False),
        MappedField("updated_at", "lastmodifieddate", read=convert.timestamp, writable=False),
        default_read=convert.text,
    )
    properties: ClassVar[tuple[str, ...]] = (
        *mapping.provider_names,
        "email",
        "hs_additional_emails",
        "phone",
        "mobilephone",
        *ADDRESS.provider_names,
    )
    #: Properties mapped to unified fields or internal to HubSpot; every other one goes to ``metadata``.
    known: ClassVar[frozenset[str]] = frozenset({*properties, "hs_object_id", "hs_lastmodifieddate"})
    writable_fields = mapping.writable | {
        "name",
        "emails",
        "telephones",
        "address",
        "company_ids",
        "deal_ids",
        "metadata",
    }
    """Not ``department`` nor ``image_url``: HubSpot contacts have no property for them."""
    filters = frozenset({"updated_after", "email", "company_id", "user_id", "query"})
    search_filters: ClassVar[Mapping[str, str]] = {
        "email": "email",
        "company_id": "associations.company",
        "user_id": "hubspot_owner_id",
    }
    sorts = frozenset({"created_at", "updated_at"})
    """Not ``name``: the unified name is first and last name, and a search sorts by one property."""
    sort_properties: ClassVar[Mapping[str, str]] = {"created_at": "createdate", "updated_at": "lastmodifieddate"}
    associations: ClassVar[tuple[str, ...]] = ("companies", "deals")
    modified_property: ClassVar[str] = "lastmodifieddate"
    association_type_ids: ClassVar[Mapping[str, int]] = {"companies": 279, "deals": 4}
    association_fields: ClassVar[Mapping[str, str]] = {"company_ids": "companies", "deal_ids": "deals"}

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> Contact:
        page: Page = lookups
        p = record.get("properties") or {}
        values = self.mapping.read(p)
        emails = [convert.email(p["email"], "work")] if p.get("email") else []
        emails += [convert.email(other, "other") for other in listed(p.get("hs_additional_emails"))]
        phones = [convert.telephone(p["phone"], "work")] if p.get("phone") else []
        if p.get("mobilephone"):
            phones.append(convert.telephone(p["mobilephone"], "mobile"))
        linked = record.get("associations") if page.linked else None
        return _construct(
            **values,
            id=str(record["id"]),
            name=convert.join_name(values["first_name"], values["last_name"]),
            emails=emails,
            telephones=phones,
            address=convert.address(ADDRESS.read(p)),
            company_ids=associated_ids(linked, "companies") if page.linked else None,
            deal_ids=associated_ids(linked, "deals") if page.linked else None,
            metadata=metadata(p, self.known),
            raw=record,
        )

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        props = self.mapping.write(data)
        if data.get("name") and "first_name" not in data and "last_name" not in data:
            props["firstname"], props["lastname"] = convert.split_name(data["name"])
        if "emails" in data:
            email = convert.single(data["emails"], "emails", provider="hubspot", what="primary email address")
            props["email"] = email.get("email") if email else None
        if "telephones" in data:
            # HubSpot has one work phone and one mobile phone: the list replaces both.
            phones = data["telephones"] or ()
            mobile = [t for t in phones if t.get("type") == "mobile"]
            other = [t for t in phones if t.get("type") != "mobile"]
            work = convert.single(other, "telephones", provider="hubspot", what="phone besides the mobile phone")
            cell = convert.single(mobile, "telephones", provider="hubspot", what="mobile phone")
            props["phone"] = work.get("telephone") if work else None
            props["mobilephone"] = cell.get("telephone") if cell else None
        if "address" in data:
            address = data["address"]
            props.update(ADDRESS.write(address) if address is not None else dict.fromkeys(ADDRESS.provider_names))
        props.update(convert.metadata_values(data.get("metadata"), provider="hubspot", value=property_value))
        return props
