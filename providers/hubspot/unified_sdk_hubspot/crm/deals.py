"""Deals: HubSpot's ``deals`` object as unified :class:`~unified_sdk.models.Deal`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from unified_sdk.errors import ValidationError
from unified_sdk.models import Deal, construct
from unified_sdk.provider import FieldMap, MappedField, OperationContext, OperationFlow, Provider, convert
from unified_sdk_hubspot.crm._base import HubSpotObjectAdapter, Page
from unified_sdk_hubspot.crm._stages import EMPTY, StageCache, Stages
from unified_sdk_hubspot.crm._values import associated_ids, metadata, property_value


def _construct(**values: Any) -> Deal:
    return construct(Deal, **values)


@dataclass(frozen=True, slots=True)
class DealPage(Page):
    """A page of deals also needs the stage and pipeline labels."""

    stages: Stages = EMPTY


class DealsAdapter(HubSpotObjectAdapter[Deal]):
    """``crm.deals``: list, get, create, update and delete deals, with stage labels and associations."""

    object_type: ClassVar[str] = "deals"
    mapping = FieldMap(
        ("name", "dealname"),
        MappedField("amount", "amount", read=convert.decimal, write=convert.decimal_text),
        ("currency", "deal_currency_code"),
        ("stage_id", "dealstage"),
        ("pipeline_id", "pipeline"),
        MappedField("closing_at", "closedate", read=convert.timestamp, write=convert.timestamp_text),
        MappedField("probability", "hs_deal_stage_probability", read=convert.percent_from_fraction, writable=False),
        ("won_reason", "closed_won_reason"),
        ("lost_reason", "closed_lost_reason"),
        MappedField("source", "hs_analytics_source", writable=False),
        ("user_id", "hubspot_owner_id"),
        MappedField("created_at", "createdate", read=convert.timestamp, writable=False),
        MappedField("updated_at", "hs_lastmodifieddate", read=convert.timestamp, writable=False),
        default_read=convert.text,
    )
    properties: ClassVar[tuple[str, ...]] = mapping.provider_names
    #: Properties mapped to unified fields or internal to HubSpot; every other one goes to ``metadata``.
    known: ClassVar[frozenset[str]] = frozenset({*properties, "hs_object_id"})
    writable_fields = mapping.writable | {"stage", "pipeline", "company_ids", "contact_ids", "metadata"}
    """Not what HubSpot derives: ``probability`` (follows the stage), ``closed_at`` (the close date of a closed
    stage: write ``closing_at``), ``source`` (recorded by HubSpot); nor ``tags`` (deals have none)."""
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
    associations: ClassVar[tuple[str, ...]] = ("contacts", "companies")
    association_type_ids: ClassVar[Mapping[str, int]] = {"contacts": 3, "companies": 5}
    association_fields: ClassVar[Mapping[str, str]] = {"contact_ids": "contacts", "company_ids": "companies"}

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider)
        self.stage_cache = StageCache()

    def lookups(self, ctx: OperationContext, records: Sequence[Mapping[str, Any]]) -> OperationFlow[Any]:
        page: Page = yield from super().lookups(ctx, records)
        if not records:
            return DealPage(page.linked)
        wanted = {(r.get("properties") or {}).get("dealstage") for r in records}
        return DealPage(page.linked, (yield from self.stage_cache.stages(ctx, wanted)))

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> Deal:
        page: DealPage = lookups
        p = record.get("properties") or {}
        values = self.mapping.read(p)
        stage_id = values["stage_id"]
        stage = page.stages.stages.get(stage_id) if stage_id else None
        pipeline_id = values["pipeline_id"]
        linked = record.get("associations") if page.linked else None
        return _construct(
            **values,
            id=str(record["id"]),
            stage=stage.label if stage is not None else None,
            pipeline=page.stages.pipelines.get(pipeline_id) if pipeline_id else None,
            closed_at=values["closing_at"] if stage is not None and stage.closed else None,
            contact_ids=associated_ids(linked, "contacts") if page.linked else None,
            company_ids=associated_ids(linked, "companies") if page.linked else None,
            metadata=metadata(p, self.known),
            raw=record,
        )

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        props = self.mapping.write(data)
        props.update(convert.metadata_values(data.get("metadata"), provider="hubspot", value=property_value))
        return props

    def resolve(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[Mapping[str, Any]]:
        """Stage and pipeline labels (``stage=``, ``pipeline=``) written without their ids, as ids."""
        if data.get("pipeline") and not data.get("pipeline_id"):
            data = {**data, "pipeline_id": (yield from self._pipeline_id(ctx, data["pipeline"]))}
        if data.get("stage") and not data.get("stage_id"):
            data = {**data, "stage_id": (yield from self._stage_id(ctx, data["stage"], data.get("pipeline_id")))}
        return data

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
