"""Deals are Salesforce Opportunities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.errors import ValidationError
from unified_sdk.models import Deal, construct
from unified_sdk.provider import FieldMap, MappedField, OperationContext, OperationFlow, convert
from unified_sdk_salesforce.crm._base import SalesforceObjectAdapter
from unified_sdk_salesforce.crm._values import custom_field_values, custom_fields, json_number, one
from unified_sdk_salesforce.crm.pipelines import PIPELINE_ID, PIPELINE_NAME


class DealsAdapter(SalesforceObjectAdapter[Deal]):
    """``crm.deals`` over ``Opportunity``. The stage id is the stage's API name (``StageName``)."""

    sobject = "Opportunity"
    fields = (
        "Id",
        "Name",
        "Amount",
        "Probability",
        "StageName",
        "CloseDate",
        "IsClosed",
        "IsWon",
        "LeadSource",
        "AccountId",
        "OwnerId",
        "CreatedDate",
        "LastModifiedDate",
    )
    filters = {
        "updated_after": "LastModifiedDate",
        "created_after": "CreatedDate",
        "stage_id": "StageName",
        "user_id": "OwnerId",
        "company_id": "AccountId",
        "query": "Name",
    }
    """Not ``pipeline_id`` (an org has one opportunity pipeline, its stages) nor ``contact_id`` (contacts
    link through OpportunityContactRole, which this adapter does not read)."""
    writable_fields = frozenset(
        {
            "name",
            "amount",
            "currency",
            "probability",
            "stage",
            "stage_id",
            "closing_at",
            "source",
            "user_id",
            "company_ids",
            "metadata",
            "pipeline",
            "pipeline_id",
        }
    )
    """Not ``closed_at`` (Salesforce sets it), ``won_reason``/``lost_reason``, ``tags`` or ``contact_ids``."""
    mapping = FieldMap(
        MappedField("id", "Id", writable=False),
        MappedField("created_at", "CreatedDate", read=convert.timestamp, writable=False),
        MappedField("updated_at", "LastModifiedDate", read=convert.timestamp, writable=False),
        ("name", "Name"),
        MappedField("amount", "Amount", read=convert.decimal, write=json_number),
        ("currency", "CurrencyIsoCode"),  # only multi-currency orgs have it; others answer INVALID_FIELD
        MappedField("probability", "Probability", read=convert.number),
        # StageName holds the stage's API name, and Salesforce takes a label there too (see resolve).
        MappedField("stage", "StageName", writable=False),
        ("stage_id", "StageName"),
        MappedField("closing_at", "CloseDate", read=convert.timestamp, write=convert.date_text),
        ("source", "LeadSource"),
        ("user_id", "OwnerId"),
        MappedField("company_ids", "AccountId", read=convert.listed, write=one("company_ids", "account")),
    )

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> Deal:
        values = self.mapping.read(record)
        staged = values["stage_id"] is not None
        values["pipeline"] = PIPELINE_NAME if staged else None
        values["pipeline_id"] = PIPELINE_ID if staged else None
        values["closed_at"] = values["closing_at"] if record.get("IsClosed") else None
        values["metadata"] = custom_fields(record)
        return construct(Deal, **values, raw=record)

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = self.mapping.write(data)
        if "metadata" in data:
            out.update(custom_field_values(data["metadata"]))
        return out

    def resolve(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[Mapping[str, Any]]:
        """A stage written by label is written as is (the picklist takes a label or an API name); the one
        pipeline (the org's opportunity stages) needs nothing written, and naming another is an error."""
        for field, only in (("pipeline_id", PIPELINE_ID), ("pipeline", PIPELINE_NAME)):
            named = data.get(field)
            if named is not None and str(named).casefold() != only.casefold():
                raise ValidationError(
                    f"a Salesforce org has one opportunity pipeline ({PIPELINE_ID!r}); {field}={named!r} is not it",
                    provider="salesforce",
                    hint=f"leave {field} out, or write {only!r}; nothing was sent",
                    details={"fields": [field]},
                )
        resolved = {k: v for k, v in data.items() if k not in ("stage", "pipeline", "pipeline_id")}
        if data.get("stage_id") is None and "stage" in data:
            resolved["stage_id"] = data["stage"]
        return resolved
        yield  # pragma: no cover - makes this a generator
