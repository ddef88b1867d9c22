"""Deal pipelines with their stages, as unified :class:`~unified_sdk.models.Pipeline`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import Pipeline, Stage
from unified_sdk.provider import (
    ListQuery,
    ListResult,
    OperationContext,
    OperationFlow,
    ProviderRequest,
    ReadOnlyAdapter,
    build_path,
    convert,
)
from unified_sdk_hubspot.crm._stages import PIPELINES_PATH


def to_pipeline(p: Mapping[str, Any]) -> Pipeline:
    stages = [
        Stage.model_construct(
            id=str(s.get("id")),
            name=s.get("label"),
            active=not s.get("archived", False),
            deal_probability=convert.percent_from_fraction((s.get("metadata") or {}).get("probability")),
            display_order=s.get("displayOrder"),
        )
        for s in sorted(p.get("stages") or (), key=lambda s: s.get("displayOrder") or 0)
    ]
    return Pipeline.model_construct(
        id=str(p.get("id")),
        created_at=convert.timestamp(p.get("createdAt")),
        updated_at=convert.timestamp(p.get("updatedAt")),
        name=p.get("label"),
        is_active=not p.get("archived", False),
        display_order=p.get("displayOrder"),
        stages=stages,
        raw=dict(p),
    )


class PipelinesAdapter(ReadOnlyAdapter[Pipeline]):
    """``crm.pipelines``: HubSpot's deal pipelines (one request, no paging). Stage probabilities
    are in percent, like :attr:`Deal.probability`."""

    def list(self, ctx: OperationContext, query: ListQuery) -> OperationFlow[ListResult[Pipeline]]:
        response = yield ProviderRequest("GET", PIPELINES_PATH)
        results = (response.json() or {}).get("results") or []
        return ListResult([to_pipeline(p) for p in results], None)

    def get(self, ctx: OperationContext, id: str) -> OperationFlow[Pipeline]:
        response = yield ProviderRequest("GET", PIPELINES_PATH + build_path("/{id}", id=id))
        return to_pipeline(response.json())
