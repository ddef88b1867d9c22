"""Contacts are Salesforce Contacts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import Contact, Email, Telephone, construct
from unified_sdk_salesforce.crm._base import (
    SObjectAdapter,
    address_from,
    address_to,
    custom_fields,
    first_id,
    metadata_to,
    to_datetime,
    unsupported,
)

#: Salesforce phone fields and the unified telephone type of each.
PHONES = (("Phone", "work"), ("MobilePhone", "mobile"), ("HomePhone", "home"), ("OtherPhone", "other"), ("Fax", "fax"))
_PHONE_FIELD = {kind: name for name, kind in PHONES}


class ContactsAdapter(SObjectAdapter[Contact]):
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
        "MailingStreet",
        "MailingCity",
        "MailingState",
        "MailingPostalCode",
        "MailingCountry",
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

    def to_model(self, record: dict[str, Any]) -> Contact:
        account = record.get("AccountId")
        parent = record.get("Account")
        email = record.get("Email")
        return construct(
            Contact,
            id=record.get("Id"),
            created_at=to_datetime(record.get("CreatedDate")),
            updated_at=to_datetime(record.get("LastModifiedDate")),
            name=record.get("Name"),
            first_name=record.get("FirstName"),
            last_name=record.get("LastName"),
            title=record.get("Title"),
            department=record.get("Department"),
            company=parent.get("Name") if isinstance(parent, dict) else None,
            company_ids=[account] if account else [],
            emails=[construct(Email, email=email, type="work")] if email else [],
            telephones=[
                construct(Telephone, telephone=record[name], type=kind) for name, kind in PHONES if record.get(name)
            ],
            address=address_from(record, "Mailing"),
            user_id=record.get("OwnerId"),
            metadata=custom_fields(record),
            raw=record,
        )

    def to_fields(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        simple = {
            "first_name": "FirstName",
            "last_name": "LastName",
            "title": "Title",
            "department": "Department",
            "user_id": "OwnerId",
        }
        for key, value in data.items():
            if key in simple:
                out[simple[key]] = value
            elif key == "name" and "last_name" not in data:
                # Salesforce computes Name; a full name alone is split at its last space.
                first, _, last = str(value or "").strip().rpartition(" ")
                out["LastName"] = last or None
                if "first_name" not in data:
                    out["FirstName"] = first or None
            elif key == "emails":
                emails = [e if isinstance(e, Mapping) else e.model_dump() for e in value or []]
                out["Email"] = emails[0].get("email") if emails else None
            elif key == "telephones":
                for item in value or []:
                    phone = item if isinstance(item, Mapping) else item.model_dump()
                    name = _PHONE_FIELD.get(str(phone.get("type") or "work"), "Phone")
                    out.setdefault(name, phone.get("telephone"))
            elif key == "address":
                out.update(address_to(value, "Mailing"))
            elif key == "company_ids":
                out["AccountId"] = first_id(value)
            elif key == "metadata":
                out.update(metadata_to(value))
        extra = sorted(k for k in data if k not in self.writable_fields)  # the core refuses these first
        if extra:
            raise unsupported(self.sobject, extra)
        return out
