"""Companies are Salesforce Accounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from unified_sdk.models import Company, Telephone, construct
from unified_sdk_salesforce.crm._base import (
    SObjectAdapter,
    address_from,
    address_to,
    custom_fields,
    metadata_to,
    to_datetime,
    unsupported,
)


def _domain(website: str) -> str | None:
    host = urlsplit(website if "//" in website else "//" + website).hostname
    return host.removeprefix("www.") if host else None


class CompaniesAdapter(SObjectAdapter[Company]):
    """``crm.companies`` over ``Account`` (billing address, main phone, website)."""

    sobject = "Account"
    fields = (
        "Id",
        "Name",
        "Website",
        "Industry",
        "NumberOfEmployees",
        "Phone",
        "Description",
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountry",
        "OwnerId",
        "CreatedDate",
        "LastModifiedDate",
    )
    filters = {"updated_after": "LastModifiedDate", "user_id": "OwnerId", "query": "Name"}
    writable_fields = frozenset(
        {
            "name",
            "industry",
            "employees",
            "description",
            "user_id",
            "websites",
            "domains",
            "telephones",
            "address",
            "metadata",
        }
    )

    def to_model(self, record: dict[str, Any]) -> Company:
        website = record.get("Website")
        domain = _domain(website) if website else None
        phone = record.get("Phone")
        return construct(
            Company,
            id=record.get("Id"),
            created_at=to_datetime(record.get("CreatedDate")),
            updated_at=to_datetime(record.get("LastModifiedDate")),
            name=record.get("Name"),
            websites=[website] if website else [],
            domains=[domain] if domain else [],
            industry=record.get("Industry"),
            employees=record.get("NumberOfEmployees"),
            telephones=[construct(Telephone, telephone=phone, type="work")] if phone else [],
            description=record.get("Description"),
            address=address_from(record, "Billing"),
            user_id=record.get("OwnerId"),
            metadata=custom_fields(record),
            raw=record,
        )

    def to_fields(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        simple = {
            "name": "Name",
            "industry": "Industry",
            "employees": "NumberOfEmployees",
            "description": "Description",
            "user_id": "OwnerId",
        }
        for key, value in data.items():
            if key in simple:
                out[simple[key]] = value
            elif key == "websites" or (key == "domains" and "websites" not in data):
                out["Website"] = (value or [None])[0]
            elif key == "telephones":
                phones = [p if isinstance(p, Mapping) else p.model_dump() for p in value or []]
                out["Phone"] = phones[0].get("telephone") if phones else None
            elif key == "address":
                out.update(address_to(value, "Billing"))
            elif key == "metadata":
                out.update(metadata_to(value))
        extra = sorted(k for k in data if k not in self.writable_fields)  # the core refuses these first
        if extra:
            raise unsupported(self.sobject, extra)
        return out
