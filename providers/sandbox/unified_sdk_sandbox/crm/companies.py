"""Companies: sandbox ``/v1/companies`` records as unified :class:`~unified_sdk.models.Company`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from unified_sdk.models import Company, Email, Telephone, construct
from unified_sdk.provider import FieldMap, MappedField, convert
from unified_sdk_sandbox.crm import _values as v
from unified_sdk_sandbox.crm._base import SandboxObjectAdapter


def _telephones(phone: str | None) -> list[Telephone]:
    return [convert.telephone(phone, "main")] if phone else []


def _phone(telephones: Sequence[Mapping[str, Any]]) -> str | None:
    found = convert.single(telephones, "telephones", provider=v.PROVIDER, what="telephone")
    return found.get("telephone") if found else None


def _emails(email: str | None) -> list[Email]:
    return [convert.email(email, "work")] if email else []


def _email(emails: Sequence[Mapping[str, Any]]) -> str | None:
    found = convert.single(emails, "emails", provider=v.PROVIDER, what="email")
    return found.get("email") if found else None


class CompaniesAdapter(SandboxObjectAdapter[Company]):
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

    mapping = FieldMap(
        *v.RECORD_FIELDS,
        ("name", "name"),
        MappedField("domains", "domain", read=convert.listed, write=v.one("domains", "domain")),
        MappedField("websites", "website", read=convert.listed, write=v.one("websites", "website")),
        ("industry", "industry"),
        ("employees", "employee_count"),
        MappedField("address", "address", read=v.address, write=v.address_fields),
        MappedField("telephones", "phone", read=_telephones, write=_phone),
        MappedField("emails", "email", read=_emails, write=_email),
        ("description", "description"),
        ("user_id", "owner_id"),
    )
    """The sandbox stores one domain, website, phone and email per company. Not one-to-one: ``metadata``."""

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> Company:
        return construct(Company, id=record["id"], **self.mapping.read(record), raw=record)

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = self.mapping.write(data)
        if "metadata" in data:
            out["custom_fields"] = v.custom_fields(data["metadata"])
        return out
