"""Contacts are Salesforce Contacts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import Contact, construct
from unified_sdk.provider import FieldMap, MappedField, convert
from unified_sdk_salesforce.crm._base import SalesforceObjectAdapter
from unified_sdk_salesforce.crm._values import (
    PROVIDER,
    CompoundAddress,
    custom_field_values,
    custom_fields,
    one,
    work_emails,
)

#: Salesforce phone fields and the unified telephone type of each.
PHONES = (("Phone", "work"), ("MobilePhone", "mobile"), ("HomePhone", "home"), ("OtherPhone", "other"), ("Fax", "fax"))
_PHONE_FIELD = {kind: name for name, kind in PHONES}
ADDRESS = CompoundAddress("Mailing")


class ContactsAdapter(SalesforceObjectAdapter[Contact]):
    """``crm.contacts`` over ``Contact`` (the account's name comes along as ``company``)."""

    sobject = "Contact"
    fields = (
        "Id",
        "Name",
        "FirstName",
        "LastName",
        "Title",
        "Department",
        "Email",
        *(name for name, _ in PHONES),
        *ADDRESS.provider_names,
        "AccountId",
        "OwnerId",
        "CreatedDate",
        "LastModifiedDate",
    )
    parent_fields = {"AccountId": ("Account.Name",)}
    filters = {
        "updated_after": "LastModifiedDate",
        "email": "Email",
        "company_id": "AccountId",
        "user_id": "OwnerId",
        "query": "Name",
    }
    writable_fields = frozenset(
        {
            "first_name",
            "last_name",
            "title",
            "department",
            "user_id",
            "name",
            "emails",
            "telephones",
            "address",
            "company_ids",
            "metadata",
        }
    )
    mapping = FieldMap(
        MappedField("id", "Id", writable=False),
        MappedField("created_at", "CreatedDate", read=convert.timestamp, writable=False),
        MappedField("updated_at", "LastModifiedDate", read=convert.timestamp, writable=False),
        MappedField("name", "Name", writable=False),  # Salesforce computes it from the first and last name
        ("first_name", "FirstName"),
        ("last_name", "LastName"),
        ("title", "Title"),
        ("department", "Department"),
        MappedField("emails", "Email", read=work_emails, write=one("emails", "email address", key="email")),
        ("user_id", "OwnerId"),
        MappedField("company_ids", "AccountId", read=convert.listed, write=one("company_ids", "account")),
    )
    also_written = {
        **{name: "telephones" for name, _ in PHONES},
        **dict.fromkeys(ADDRESS.provider_names, "address"),
    }

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> Contact:
        values = self.mapping.read(record)
        parent = record.get("Account")
        values["company"] = parent.get("Name") if isinstance(parent, Mapping) else None
        values["telephones"] = [convert.telephone(record[name], kind) for name, kind in PHONES if record.get(name)]
        values["address"] = ADDRESS.read(record)
        values["metadata"] = custom_fields(record)
        return construct(Contact, **values, raw=record)

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = self.mapping.write(data)
        if "name" in data and "last_name" not in data:
            # Salesforce computes Name; a full name alone is split as every provider splits it.
            first, last = convert.split_name(data["name"])
            out["LastName"] = last
            if "first_name" not in data:
                out["FirstName"] = first
        if "telephones" in data:
            out.update(_phones(data["telephones"]))
        if "address" in data:
            out.update(ADDRESS.write(data["address"]))
        if "metadata" in data:
            out.update(custom_field_values(data["metadata"]))
        return out


def _phones(telephones: Any) -> dict[str, Any]:
    """Each telephone in the Salesforce field of its type (no type: ``work``); one per field."""
    by_field: dict[str, list[Any]] = {}
    for item in telephones or ():
        by_field.setdefault(_PHONE_FIELD.get(str(item.get("type") or "work"), "Phone"), []).append(item)
    out: dict[str, Any] = {}
    for name, items in by_field.items():
        kind = next(kind for field, kind in PHONES if field == name)
        found = convert.single(items, "telephones", provider=PROVIDER, what=f"{kind} telephone ({name})")
        out[name] = found.get("telephone")
    return out
