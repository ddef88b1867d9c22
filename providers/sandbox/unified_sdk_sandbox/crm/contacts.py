"""Contacts: sandbox ``/v1/contacts`` records as unified :class:`~unified_sdk.models.Contact`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import Contact, construct
from unified_sdk_sandbox.crm import _common as c

_timestamp = c.timestamp


def to_contact(r: dict[str, Any]) -> Contact:
    """One sandbox contact as a unified contact."""
    first = r.get("first_name")
    last = r.get("last_name")
    company = r.get("company")
    return construct(
        Contact,
        id=r["id"],
        created_at=_timestamp(r.get("created_at")),
        updated_at=_timestamp(r.get("updated_at")),
        name=f"{first} {last}" if first and last else first or last,
        first_name=first,
        last_name=last,
        title=r.get("job_title"),
        department=r.get("department"),
        company=company.get("name") if company else None,
        company_ids=[company["id"]] if company else [],
        emails=c.emails(r.get("emails")),
        telephones=c.telephones(r.get("phones")),
        address=c.address(r.get("address")),
        image_url=r.get("photo_url"),
        user_id=r.get("owner_id"),
        metadata=c.metadata(r.get("custom_fields")),
        raw=r,
    )


def contact_body(data: Mapping[str, Any]) -> dict[str, Any]:
    """Unified contact fields as a sandbox write body; ``name`` alone is split into first and last."""
    out: dict[str, Any] = {}
    for unified, sandbox in (
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("title", "job_title"),
        ("department", "department"),
        ("image_url", "photo_url"),
        ("user_id", "owner_id"),
    ):
        if unified in data:
            out[sandbox] = data[unified]
    if data.get("name") and "first_name" not in data and "last_name" not in data:
        first, _, last = str(data["name"]).strip().rpartition(" ")
        out["first_name"], out["last_name"] = (first, last) if first else (last, None)
    if "emails" in data:
        out["emails"] = [{"address": e.get("email"), "label": e.get("type")} for e in data["emails"] or ()]
    if "telephones" in data:
        out["phones"] = [{"number": t.get("telephone"), "label": t.get("type")} for t in data["telephones"] or ()]
    if "address" in data:
        out["address"] = c.write_address(data["address"])
    if "company_ids" in data:
        out["company_id"] = c.single(data, "company_ids", "company")
    if "metadata" in data:
        out["custom_fields"] = c.write_metadata(data["metadata"])
    return out


class ContactsAdapter(c.SandboxObjectAdapter[Contact]):
    """``crm.contacts``: list, get, create, update, delete."""

    path = "contacts"
    filters = frozenset({"updated_after", "email", "company_id", "user_id", "query"})
    sorts = frozenset({"created_at", "updated_at", "name"})
    writable_fields = frozenset(
        {
            "address",
            "company_ids",
            "department",
            "emails",
            "first_name",
            "image_url",
            "last_name",
            "metadata",
            "name",
            "telephones",
            "title",
            "user_id",
        }
    )
    """Not ``company`` (the name follows ``company_ids``) nor ``deal_ids`` (set on the deal)."""

    def to_model(self, record: dict[str, Any]) -> Contact:
        return to_contact(record)

    def to_body(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return contact_body(data)
