"""Deals are Salesforce Opportunities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import Deal, construct
from unified_sdk_salesforce.crm._base import (
    SObjectAdapter,
    custom_fields,
    first_id,
    metadata_to,
    to_datetime,
    to_decimal,
    to_float,
    unsupported,
)
from unified_sdk_salesforce.crm.pipelines import PIPELINE_ID, PIPELINE_NAME


class DealsAdapter(SObjectAdapter[Deal]):
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

    def to_model(self, record: dict[str, Any]) -> Deal:
        stage = record.get("StageName")
        close = to_datetime(record.get("CloseDate"))
        account = record.get("AccountId")
        return construct(
            Deal,
            id=record.get("Id"),
            created_at=to_datetime(record.get("CreatedDate")),
            updated_at=to_datetime(record.get("LastModifiedDate")),
            name=record.get("Name"),
            amount=to_decimal(record.get("Amount")),
            currency=record.get("CurrencyIsoCode"),
            probability=to_float(record.get("Probability")),
            stage=stage,
            stage_id=stage,
            pipeline=PIPELINE_NAME if stage else None,
            pipeline_id=PIPELINE_ID if stage else None,
            closing_at=close,
            closed_at=close if record.get("IsClosed") else None,
            source=record.get("LeadSource"),
            user_id=record.get("OwnerId"),
            company_ids=[account] if account else [],
            metadata=custom_fields(record),
            raw=record,
        )

    def to_fields(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key == "name":
                out["Name"] = value
            elif key == "amount":
                out["Amount"] = None if value is None else float(value)
            elif key == "currency":
                out["CurrencyIsoCode"] = value  # only multi-currency orgs have it; others answer INVALID_FIELD
            elif key == "probability":
                out["Probability"] = value
            elif key in ("stage", "stage_id"):
                out["StageName"] = data.get("stage_id") or value
            elif key == "closing_at":
                out["CloseDate"] = value.date().isoformat() if value is not None else None
            elif key == "source":
                out["LeadSource"] = value
            elif key == "user_id":
                out["OwnerId"] = value
            elif key == "company_ids":
                out["AccountId"] = first_id(value)
            elif key == "metadata":
                out.update(metadata_to(value))
            elif key in ("pipeline", "pipeline_id"):
                continue  # one pipeline: the org's opportunity stages
        extra = sorted(k for k in data if k not in self.writable_fields)  # the core refuses these first
        if extra:
            raise unsupported(self.sobject, extra)
        return out
