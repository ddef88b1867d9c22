"""Deals: sandbox ``/v1/deals`` records as unified :class:`~unified_sdk.models.Deal`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.errors import ValidationError
from unified_sdk.models import Deal, construct
from unified_sdk.provider import FieldMap, MappedField, OperationContext, OperationFlow, ProviderRequest, convert
from unified_sdk_sandbox.crm import _values as v
from unified_sdk_sandbox.crm._base import SandboxObjectAdapter


class DealsAdapter(SandboxObjectAdapter[Deal]):
    """``crm.deals``: list, get, create, update, delete.

    A write may name the stage or pipeline by label (``stage="Proposal"``)
    instead of id; the adapter then reads ``/v1/pipelines`` once to find the id.
    """

    path = "deals"
    filters = frozenset(
        {"updated_after", "created_after", "stage_id", "pipeline_id", "user_id", "company_id", "contact_id", "query"}
    )
    sorts = frozenset({"created_at", "updated_at", "name"})

    mapping = FieldMap(
        *v.RECORD_FIELDS,
        ("name", "title"),
        MappedField(
            "probability", "win_probability", read=convert.percent_from_fraction, write=convert.fraction_from_percent
        ),
        MappedField("closing_at", "expected_close_date", read=convert.timestamp, write=convert.date_text),
        MappedField("closed_at", "closed_at", read=convert.timestamp, write=convert.timestamp_text),
        ("source", "lead_source"),
        MappedField("tags", "labels", read=v.items),
        ("user_id", "owner_id"),
        MappedField("company_ids", "company_id", read=convert.listed, write=v.one("company_ids", "company")),
        MappedField("contact_ids", "contact_ids", read=v.items),
    )
    """Not one-to-one: ``amount``/``currency`` (the ``value`` object), ``stage``/``pipeline`` (objects with
    their ids), ``won_reason``/``lost_reason`` (``close_reason``, by ``status``) and ``metadata``."""

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> Deal:
        value = record.get("value") or {}
        stage = record.get("stage") or {}
        pipeline = record.get("pipeline") or {}
        status = record.get("status")
        reason = record.get("close_reason")
        return construct(
            Deal,
            id=record["id"],
            **self.mapping.read(record),
            amount=convert.decimal(value.get("amount")),
            currency=value.get("currency"),
            stage=stage.get("label"),
            stage_id=stage.get("id"),
            pipeline=pipeline.get("name"),
            pipeline_id=pipeline.get("id"),
            won_reason=reason if status == "won" else None,
            lost_reason=reason if status == "lost" else None,
            raw=record,
        )

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Stage and pipeline by id (:meth:`resolve` has turned labels into ids)."""
        out = self.mapping.write(data)
        if "amount" in data or "currency" in data:
            out["value"] = _value(data)
        for name in ("stage_id", "pipeline_id"):
            if name in data:
                out[name] = data[name]
        if data.get("won_reason") and data.get("lost_reason"):
            raise _invalid("won_reason", "a deal has one close reason; give won_reason or lost_reason")
        for name in ("won_reason", "lost_reason"):
            if name in data and (data[name] is not None or "close_reason" not in out):
                out["close_reason"] = data[name]
        if "metadata" in data:
            out["custom_fields"] = v.custom_fields(data["metadata"])
        return out

    def resolve(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[Mapping[str, Any]]:
        """A stage or pipeline written by label (case-insensitive) as its id, from one read of ``/v1/pipelines``."""
        wants_stage = data.get("stage") is not None and data.get("stage_id") is None
        wants_pipeline = data.get("pipeline") is not None and data.get("pipeline_id") is None
        if not (wants_stage or wants_pipeline):
            return data
        response = yield ProviderRequest("GET", "/v1/pipelines")
        pipelines: list[dict[str, Any]] = response.json()["data"]
        resolved = dict(data)
        if wants_pipeline:
            match = [p for p in pipelines if p["name"].casefold() == str(data["pipeline"]).casefold()]
            if not match:
                raise _invalid("pipeline", f"no sandbox pipeline is named {data['pipeline']!r}")
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
                raise _invalid(
                    "stage", f"{problem} sandbox stage is labelled {data['stage']!r}; give stage_id or pipeline_id"
                )
            resolved["stage_id"] = stages[0]
        return resolved


def _value(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The sandbox ``value`` object of a write that sets ``amount`` and/or ``currency`` (``amount=None`` clears it)."""
    if "amount" in data and data["amount"] is None:
        return None
    value: dict[str, Any] = {}
    if data.get("amount") is not None:
        value["amount"] = convert.decimal_text(data["amount"])
    if data.get("currency") is not None:
        value["currency"] = data["currency"]
    return value


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(
        f"sandbox: {message}",
        provider="sandbox",
        details={"fields": [field]},
        hint="change the request; nothing was sent",
    )
