"""Deals: HubSpot's ``deals`` object as unified :class:`~unified_sdk.models.Deal`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from unified_sdk.errors import ValidationError
from unified_sdk.models import Deal, construct
from unified_sdk.provider import OperationContext, OperationFlow, Provider
from unified_sdk_hubspot.crm import _values as v
from unified_sdk_hubspot.crm._objects import HubSpotObjectAdapter
from unified_sdk_hubspot.crm._stages import EMPTY, StageCache, Stages

_PROPERTIES = (
    "dealname",
    "amount",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "closedate",
    "hs_deal_stage_probability",
    "closed_won_reason",
    "closed_lost_reason",
    "hs_analytics_source",
    "hubspot_owner_id",
    "createdate",
    "hs_lastmodifieddate",
)
#: Properties mapped to unified fields or internal to HubSpot; every other one goes to ``metadata``.
_KNOWN = frozenset({*_PROPERTIES, "hs_object_id"})


def _construct(**values: Any) -> Deal:
    return construct(Deal, **values)


class DealsAdapter(HubSpotObjectAdapter[Deal]):
    """``crm.deals``: list, get, create, update and delete deals, with stage labels and associations."""

    object_type: ClassVar[str] = "deals"
    filters = frozenset(
        {"updated_after", "created_after", "stage_id", "pipeline_id", "user_id", "company_id", "contact_id", "query"}
    )
    search_filters: ClassVar[Mapping[str, str]] = {
        "stage_id": "dealstage",
        "pipeline_id": "pipeline",
        "user_id": "hubspot_owner_id",
        "company_id": "associations.company",
        "contact_id": "associations.contact",
    }
    sorts = frozenset({"created_at", "updated_at", "name"})
    sort_properties: ClassVar[Mapping[str, str]] = {
        "created_at": "createdate",
        "updated_at": "hs_lastmodifieddate",
        "name": "dealname",
    }
    properties: ClassVar[tuple[str, ...]] = _PROPERTIES
    associations: ClassVar[tuple[str, ...]] = ("contacts", "companies")
    association_type_ids: ClassVar[Mapping[str, int]] = {"contacts": 3, "companies": 5}
    association_fields: ClassVar[Mapping[str, str]] = {"contact_ids": "contacts", "company_ids": "companies"}

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider)
        self.stage_cache = StageCache()

    def prepare(self, ctx: OperationContext, records: Sequence[Mapping[str, Any]]) -> OperationFlow[Any]:
        if not records:
            return EMPTY
        wanted = {(r.get("properties") or {}).get("dealstage") for r in records}
        return (yield from self.stage_cache.stages(ctx, wanted))

    def to_model(self, record: Mapping[str, Any], extra: Any, with_associations: bool) -> Deal:
        stages: Stages = extra
        p = record.get("properties") or {}
        stage_id = p.get("dealstage") or None
        stage = stages.stages.get(stage_id) if stage_id else None
        pipeline_id = p.get("pipeline") or None
        closing = v.timestamp(p.get("closedate"))
        assoc = record.get("associations") if with_associations else None
        return _construct(
            id=str(record["id"]),
            created_at=v.timestamp(record.get("createdAt") or p.get("createdate")),
            updated_at=v.timestamp(record.get("updatedAt") or p.get("hs_lastmodifieddate")),
            name=p.get("dealname") or None,
            amount=v.decimal(p.get("amount")),
            currency=p.get("deal_currency_code") or None,
            probability=v.percent(p.get("hs_deal_stage_probability")),
            stage=stage.label if stage is not None else None,
            stage_id=stage_id,
            pipeline=stages.pipelines.get(pipeline_id) if pipeline_id else None,
            pipeline_id=pipeline_id,
            closing_at=closing,
            closed_at=closing if stage is not None and stage.closed else None,
            won_reason=p.get("closed_won_reason") or None,
            lost_reason=p.get("closed_lost_reason") or None,
            source=p.get("hs_analytics_source") or None,
            tags=None,
            user_id=p.get("hubspot_owner_id") or None,
            contact_ids=v.ids(assoc, "contacts") if with_associations else None,
            company_ids=v.ids(assoc, "companies") if with_associations else None,
            metadata=v.metadata(p, _KNOWN),
            raw=record,
        )

    def to_properties(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[dict[str, Any]]:
        for field in ("probability", "closed_at", "tags", "source"):
            if data.get(field) is not None:
                raise ValidationError(
                    f"HubSpot derives a deal's {field} itself; it cannot be written",
                    provider="hubspot",
                    hint=f"leave {field} out (probability follows the stage; closed_at the close date)",
                )
        props: dict[str, Any] = {}
        simple = {
            "name": "dealname",
            "currency": "deal_currency_code",
            "stage_id": "dealstage",
            "pipeline_id": "pipeline",
            "user_id": "hubspot_owner_id",
            "won_reason": "closed_won_reason",
            "lost_reason": "closed_lost_reason",
        }
        for field, prop in simple.items():
            if field in data:
                props[prop] = data[field]
        if "amount" in data:
            props["amount"] = None if data["amount"] is None else v.amount_text(data["amount"])
        if "closing_at" in data:
            props["closedate"] = None if data["closing_at"] is None else v.iso(data["closing_at"])
        if data.get("stage") and not data.get("stage_id"):
            props["dealstage"] = yield from self._stage_id(ctx, data["stage"], data.get("pipeline_id"))
        if data.get("pipeline") and not data.get("pipeline_id"):
            props["pipeline"] = yield from self._pipeline_id(ctx, data["pipeline"])
        props.update(v.custom_properties(data.get("metadata")))
        return props

    def _stage_id(self, ctx: OperationContext, label: str, pipeline_id: str | None) -> OperationFlow[str]:
        stages = yield from self.stage_cache.stages(ctx)
        wanted = label.strip().lower()
        matches = [
            sid
            for sid, info in stages.stages.items()
            if info.label.lower() == wanted and (pipeline_id is None or info.pipeline_id == pipeline_id)
        ]
        if len(matches) != 1:
            raise ValidationError(
                f"no single HubSpot deal stage is labelled {label!r}"
                + (f" in pipeline {pipeline_id}" if pipeline_id else ""),
                provider="hubspot",
                hint="pass stage_id (see client.crm.pipelines.list) or pipeline_id to disambiguate",
                details={"fields": ["stage"], "matches": matches},
            )
        return matches[0]

    def _pipeline_id(self, ctx: OperationContext, label: str) -> OperationFlow[str]:
        stages = yield from self.stage_cache.stages(ctx)
        for pid, plabel in stages.pipelines.items():
            if plabel.lower() == label.strip().lower():
                return pid
        raise ValidationError(
            f"no HubSpot deal pipeline is labelled {label!r}",
            provider="hubspot",
            hint="pass pipeline_id (see client.crm.pipelines.list)",
            details={"fields": ["pipeline"]},
        )
