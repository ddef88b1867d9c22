"""Companies: sandbox ``/v1/companies`` records as unified :class:`~unified_sdk.models.Company`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import Company, Email, Telephone, construct
from unified_sdk_sandbox.crm import _common as c

_timestamp = c.timestamp


def to_company(r: dict[str, Any]) -> Company:
    """One sandbox company as a unified company."""
    domain = r.get("domain")
    website = r.get("website")
    phone = r.get("phone")
    email = r.get("email")
    return construct(
        Company,
        id=r["id"],
        created_at=_timestamp(r.get("created_at")),
        updated_at=_timestamp(r.get("updated_at")),
        name=r.get("name"),
        domains=[domain] if domain else [],
        websites=[website] if website else [],
        industry=r.get("industry"),
        employees=r.get("employee_count"),
        address=c.address(r.get("address")),
        telephones=[construct(Telephone, telephone=phone, type="main")] if phone else [],
        emails=[construct(Email, email=email, type="work")] if email else [],
        description=r.get("description"),
        user_id=r.get("owner_id"),
        metadata=c.metadata(r.get("custom_fields")),
        raw=r,
    )


def company_body(data: Mapping[str, Any]) -> dict[str, Any]:
    """Unified company fields as a sandbox write body (one domain, website, phone and email per company)."""
    out: dict[str, Any] = {}
    for unified, sandbox in (
        ("name", "name"),
        ("industry", "industry"),
        ("employees", "employee_count"),
        ("description", "description"),
        ("user_id", "owner_id"),
    ):
        if unified in data:
            out[sandbox] = data[unified]
    if "domains" in data:
        out["domain"] = c.single(data, "domains", "domain")
    if "websites" in data:
        out["website"] = c.single(data, "websites", "website")
    if "telephones" in data:
        phone = c.single(data, "telephones", "telephone")
        out["phone"] = phone.get("telephone") if phone else None
    if "emails" in data:
        email = c.single(data, "emails", "email")
        out["email"] = email.get("email") if email else None
    if "address" in data:
        out["address"] = c.write_address(data["address"])
    if "metadata" in data:
        out["custom_fields"] = c.write_metadata(data["metadata"])
    return out


class CompaniesAdapter(c.SandboxObjectAdapter[Company]):
    """``crm.companies``: list, get, create, update, delete."""

    path = "companies"
    filters = frozenset({"updated_after", "user_id", "query"})
    sorts = frozenset({"created_at", "updated_at", "name"})
    writable_fields = frozenset(
        {
            "address",
            "description",
            "domains",
            "emails",
            "employees",
            "industry",
            "metadata",
            "name",
            "telephones",
            "user_id",
            "websites",
        }
    )
    """Not ``contact_ids`` nor ``deal_ids``: links are set on the contact or deal."""

    def to_model(self, record: dict[str, Any]) -> Company:
        return to_company(record)

    def to_body(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return company_body(data)
