"""Companies are Salesforce Accounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import Company, construct
from unified_sdk.provider import FieldMap, MappedField, convert
from unified_sdk_salesforce.crm._base import SalesforceObjectAdapter
from unified_sdk_salesforce.crm._values import (
    CompoundAddress,
    custom_field_values,
    custom_fields,
    domains,
    one,
    work_telephones,
)

ADDRESS = CompoundAddress("Billing")


class CompaniesAdapter(SalesforceObjectAdapter[Company]):
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
        *ADDRESS.provider_names,
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
    mapping = FieldMap(
        MappedField("id", "Id", writable=False),
        MappedField("created_at", "CreatedDate", read=convert.timestamp, writable=False),
        MappedField("updated_at", "LastModifiedDate", read=convert.timestamp, writable=False),
        ("name", "Name"),
        ("industry", "Industry"),
        MappedField("employees", "NumberOfEmployees", read=convert.integer),
        ("description", "Description"),
        ("user_id", "OwnerId"),
        # One Website: domains are read from it, and written to it when no website is given (to_provider).
        MappedField("domains", "Website", read=domains, writable=False),
        MappedField("websites", "Website", read=convert.listed, write=one("websites", "website")),
        MappedField("telephones", "Phone", read=work_telephones, write=one("telephones", "telephone", key="telephone")),
    )
    also_written = dict.fromkeys(ADDRESS.provider_names, "address")

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> Company:
        values = self.mapping.read(record)
        values["address"] = ADDRESS.read(record)
        values["metadata"] = custom_fields(record)
        return construct(Company, **values, raw=record)

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = self.mapping.write(data)
        if "domains" in data and "websites" not in data:
            out["Website"] = one("domains", "website")(data["domains"])
        if "address" in data:
            out.update(ADDRESS.write(data["address"]))
        if "metadata" in data:
            out.update(custom_field_values(data["metadata"]))
        return out
