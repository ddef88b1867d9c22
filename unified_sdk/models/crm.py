"""Unified CRM models, with the field names of the unified-API field (Unified.to's).

Reads never fail on what a provider leaves out: every field but ``id`` is
optional, unknown enum-like values are kept as strings, the provider's record
stays in ``raw`` and provider custom fields in ``metadata``. Every record read
from a provider has its ``id``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from unified_sdk.models._base import UnifiedModel


class Metadata(UnifiedModel):
    """One provider custom field."""

    id: str | None = None
    slug: str | None = None
    """The provider's field name (API name), e.g. ``customer_tier__c``."""
    value: Any = None


class Email(UnifiedModel):
    email: str | None = None
    type: str | None = None
    """``work``, ``home``, ``other`` or the provider's own label."""


class Telephone(UnifiedModel):
    telephone: str | None = None
    type: str | None = None


class Address(UnifiedModel):
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    region: str | None = None
    region_code: str | None = None
    postal_code: str | None = None
    country: str | None = None
    country_code: str | None = None


class Deal(UnifiedModel):
    """A sales opportunity."""

    id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    name: str | None = None
    amount: Decimal | None = None
    """Exact amount: providers that send strings are converted without float rounding."""
    currency: str | None = None
    probability: float | None = None
    """Win probability in percent (0-100)."""
    stage: str | None = None
    """The stage's label, e.g. ``Qualified``."""
    stage_id: str | None = None
    pipeline: str | None = None
    pipeline_id: str | None = None
    closing_at: datetime | None = None
    """When the deal is expected to close."""
    closed_at: datetime | None = None
    won_reason: str | None = None
    lost_reason: str | None = None
    source: str | None = None
    tags: list[str] | None = None
    user_id: str | None = None
    """The owner of the deal."""
    company_ids: list[str] | None = None
    contact_ids: list[str] | None = None
    metadata: list[Metadata] | None = None
    raw: dict[str, Any] | None = Field(default=None, repr=False)


class Contact(UnifiedModel):
    """A person."""

    id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    department: str | None = None
    company: str | None = None
    company_ids: list[str] | None = None
    deal_ids: list[str] | None = None
    emails: list[Email] | None = None
    telephones: list[Telephone] | None = None
    address: Address | None = None
    image_url: str | None = None
    user_id: str | None = None
    metadata: list[Metadata] | None = None
    raw: dict[str, Any] | None = Field(default=None, repr=False)


class Company(UnifiedModel):
    """An organisation (account)."""

    id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    name: str | None = None
    domains: list[str] | None = None
    websites: list[str] | None = None
    industry: str | None = None
    employees: int | None = None
    address: Address | None = None
    telephones: list[Telephone] | None = None
    emails: list[Email] | None = None
    description: str | None = None
    user_id: str | None = None
    contact_ids: list[str] | None = None
    deal_ids: list[str] | None = None
    metadata: list[Metadata] | None = None
    raw: dict[str, Any] | None = Field(default=None, repr=False)


class Stage(UnifiedModel):
    """One stage of a pipeline."""

    id: str | None = None
    name: str | None = None
    active: bool | None = None
    deal_probability: float | None = None
    display_order: int | None = None


class Pipeline(UnifiedModel):
    """A deal pipeline with its stages."""

    id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    name: str | None = None
    is_active: bool | None = None
    display_order: int | None = None
    stages: list[Stage] | None = None
    raw: dict[str, Any] | None = Field(default=None, repr=False)


class User(UnifiedModel):
    """A user of the provider account (deal and record owners)."""

    id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    emails: list[Email] | None = None
    title: str | None = None
    is_active: bool | None = None
    raw: dict[str, Any] | None = Field(default=None, repr=False)


class _StrictWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


def write_model(model: type[UnifiedModel]) -> type[BaseModel]:
    """The strict variant of ``model`` used to validate writes before sending."""
    found = _WRITE_MODELS.get(model)
    if found is None:
        found = _WRITE_MODELS[model] = _strict(model)
    return found


def _strict(model: type[UnifiedModel]) -> type[BaseModel]:
    from pydantic import create_model

    fields: dict[str, Any] = {
        name: (info.annotation, None)
        for name, info in model.model_fields.items()
        if name not in {"id", "created_at", "updated_at", "raw"}
    }
    return create_model(f"{model.__name__}Write", __base__=_StrictWrite, **fields)


_WRITE_MODELS: dict[type[UnifiedModel], type[BaseModel]] = {m: _strict(m) for m in (Deal, Contact, Company)}
