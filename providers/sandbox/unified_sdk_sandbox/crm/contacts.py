"""Contacts: sandbox ``/v1/contacts`` records as unified :class:`~unified_sdk.models.Contact`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from unified_sdk.models import Contact, Email, Telephone, construct
from unified_sdk.provider import FieldMap, MappedField, convert
from unified_sdk_sandbox.crm import _values as v
from unified_sdk_sandbox.crm._base import SandboxObjectAdapter


def _emails(items: Sequence[Mapping[str, Any]] | None) -> list[Email]:
    return [convert.email(e["address"], e.get("label")) for e in items or ()]


def _email_items(emails: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"address": e.get("email"), "label": e.get("type")} for e in emails]


def _telephones(items: Sequence[Mapping[str, Any]] | None) -> list[Telephone]:
    return [convert.telephone(p["number"], p.get("label")) for p in items or ()]


def _phone_items(telephones: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"number": t.get("telephone"), "label": t.get("type")} for t in telephones]


class ContactsAdapter(SandboxObjectAdapter[Contact]):
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

    mapping = FieldMap(
        *v.RECORD_FIELDS,
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("title", "job_title"),
        ("department", "department"),
        ("image_url", "photo_url"),
        ("user_id", "owner_id"),
        MappedField("emails", "emails", read=_emails, write=_email_items),
        MappedField("telephones", "phones", read=_telephones, write=_phone_items),
        MappedField("address", "address", read=v.address, write=v.address_fields),
    )
    """Not one-to-one: ``name`` (first and last), ``company``/``company_ids`` (the ``company`` object) and
    ``metadata``."""

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> Contact:
        company = record.get("company") or {}
        return construct(
            Contact,
            id=record["id"],
            **self.mapping.read(record),
            name=convert.join_name(record.get("first_name"), record.get("last_name")),
            company=company.get("name"),
            company_ids=convert.listed(company.get("id")),
            raw=record,
        )

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``name`` alone (no ``first_name``/``last_name``) is split at its last space."""
        out = self.mapping.write(data)
        if data.get("name") and "first_name" not in data and "last_name" not in data:
            out["first_name"], out["last_name"] = convert.split_name(data["name"])
        if "company_ids" in data:
            out["company_id"] = convert.single(data["company_ids"], "company_ids", provider=v.PROVIDER, what="company")
        if "metadata" in data:
            out["custom_fields"] = v.custom_fields(data["metadata"])
        return out
