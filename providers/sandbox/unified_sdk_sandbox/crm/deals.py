"""Deals: sandbox ``/v1/deals`` records as unified :class:`~unified_sdk.models.Deal`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import Deal, construct
from unified_sdk.provider import OperationContext, OperationFlow, ProviderRequest
from unified_sdk_sandbox.crm import _common as c

_timestamp = c.timestamp


def to_deal(r: dict[str, Any]) -> Deal:
    """One sandbox deal as a unified deal (probability: the sandbox's 0-1 fraction as percent)."""
    value = r.get("value")
    stage = r.get("stage")
    pipeline = r.get("pipeline")
    status = r.get("status")
    reason = r.get("close_reason")
    probability = r.get("win_probability")
    company = r.get("company_id")
    return construct(
        Deal,
        id=r["id"],
        created_at=_timestamp(r.get("created_at")),
        updated_at=_timestamp(r.get("updated_at")),
        name=r.get("title"),
        amount=c.decimal(value.get("amount")) if value else None,
        currency=value.get("currency") if value else None,
        probability=round(probability * 100, 6) if probability is not None else None,
        stage=stage.get("label") if stage else None,
        stage_id=stage.get("id") if stage else None,
        pipeline=pipeline.get("name") if pipeline else None,
        pipeline_id=pipeline.get("id") if pipeline else None,
        closing_at=c.day(r.get("expected_close_date")),
        closed_at=_timestamp(r.get("closed_at")),
        won_reason=reason if status == "won" else None,
        lost_reason=reason if status == "lost" else None,
        source=r.get("lead_source"),
        tags=r.get("labels") or [],
        user_id=r.get("owner_id"),
        company_ids=[company] if company else [],
        contact_ids=r.get("contact_ids") or [],
        metadata=c.metadata(r.get("custom_fields")),
        raw=r,
    )


def deal_body(data: Mapping[str, Any]) -> dict[str, Any]:
    """Unified deal fields as a sandbox write body (stage/pipeline labels must already be ids)."""
    out: dict[str, Any] = {}
    if "name" in data:
        out["title"] = data["name"]
    if "amount" in data or "currency" in data:
        amount = data.get("amount")
        if "amount" in data and amount is None:
            out["value"] = None
        else:
            value: dict[str, Any] = {}
            if amount is not None:
                value["amount"] = str(amount)
            if data.get("currency") is not None:
                value["currency"] = data["currency"]
            out["value"] = value
    if "probability" in data:
        p = data["probability"]
        out["win_probability"] = None if p is None else round(float(p) / 100, 6)
    for unified, sandbox in (
        ("stage_id", "stage_id"),
        ("pipeline_id", "pipeline_id"),
        ("source", "lead_source"),
        ("user_id", "owner_id"),
        ("contact_ids", "contact_ids"),
        ("tags", "labels"),
    ):
        if unified in data:
            out[sandbox] = data[unified]
    if "closing_at" in data:
        out["expected_close_date"] = c.write_day(data["closing_at"])
    if "closed_at" in data:
        out["closed_at"] = c.write_timestamp(data["closed_at"])
    if "won_reason" in data and "lost_reason" in data and data["won_reason"] and data["lost_reason"]:
        raise c.invalid("won_reason", "a deal has one close reason; give won_reason or lost_reason")
    for field in ("won_reason", "lost_reason"):
        if field in data and (data[field] is not None or "close_reason" not in out):
            out["close_reason"] = data[field]
    if "company_ids" in data:
        out["company_id"] = c.single(data, "company_ids", "company")
    if "metadata" in data:
        out["custom_fields"] = c.write_metadata(data["metadata"])
    return out


class DealsAdapter(c.SandboxObjectAdapter[Deal]):
    """``crm.deals``: list, get, create, update, delete.

    A write may name the stage or pipeline by label (``stage="Proposal"``)
    instead of id; the adapter then reads ``/v1/pipelines`` once to find the id.
    """

    path = "deals"
    filters = frozenset(
        {"updated_after", "created_after", "stage_id", "pipeline_id", "user_id", "company_id", "contact_id", "query"}
    )
    sorts = frozenset({"created_at", "updated_at", "name"})

    def to_model(self, record: dict[str, Any]) -> Deal:
        return to_deal(record)

    def to_body(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return deal_body(data)

    def build_body(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[dict[str, Any]]:
        wants_stage = data.get("stage") is not None and data.get("stage_id") is None
        wants_pipeline = data.get("pipeline") is not None and data.get("pipeline_id") is None
        if not (wants_stage or wants_pipeline):
            return deal_body(data)
        response = yield ProviderRequest("GET", "/v1/pipelines")
        pipelines: list[dict[str, Any]] = response.json()["data"]
        resolved = dict(data)
        if wants_pipeline:
            match = [p for p in pipelines if p["name"].casefold() == str(data["pipeline"]).casefold()]
            if not match:
                raise c.invalid("pipeline", f"no sandbox pipeline is named {data['pipeline']!r}")
            resolved["pipeline_id"] = match[0]["id"]
        if wants_stage:
            pipeline_id = resolved.get("pipeline_id")
            label = str(data["stage"]).casefold()
            stages = [
                s["id"]
                for p in pipelines
                if pipeline_id is None or p["id"] == pipeline_id
                for s in p["stages"]
                if s["label"].casefold() == label
            ]
            if len(stages) != 1:
                problem = "no" if not stages else "more than one"
                raise c.invalid(
                    "stage", f"{problem} sandbox stage is labelled {data['stage']!r}; give stage_id or pipeline_id"
                )
            resolved["stage_id"] = stages[0]
        return deal_body(resolved)
