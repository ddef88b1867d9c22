"""Pipelines: sandbox ``/v1/pipelines`` (with their stages) as unified :class:`~unified_sdk.models.Pipeline`."""

from __future__ import annotations

from typing import Any

from unified_sdk.models import Pipeline, Stage, construct
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


def to_pipeline(r: dict[str, Any]) -> Pipeline:
    """One sandbox pipeline; stage probabilities are already percentages."""
    stages = [
        construct(
            Stage,
            id=s["id"],
            name=s.get("label"),
            active=s.get("active"),
            deal_probability=float(s["probability"]) if s.get("probability") is not None else None,
            display_order=s.get("position"),
        )
        for s in r.get("stages") or ()
    ]
    return construct(
        Pipeline,
        id=r["id"],
        created_at=convert.timestamp(r.get("created_at")),
        updated_at=convert.timestamp(r.get("updated_at")),
        name=r.get("name"),
        is_active=r.get("active"),
        display_order=r.get("position"),
        stages=stages,
        raw=r,
    )


class PipelinesAdapter(ReadOnlyAdapter[Pipeline]):
    """``crm.pipelines``: list (one page: the sandbox returns every pipeline) and get."""

    def list(self, ctx: OperationContext, query: ListQuery) -> OperationFlow[ListResult[Pipeline]]:
        response = yield ProviderRequest("GET", "/v1/pipelines")
        return ListResult([to_pipeline(r) for r in response.json()["data"]], None)

    def get(self, ctx: OperationContext, id: str) -> OperationFlow[Pipeline]:
        response = yield ProviderRequest("GET", build_path("/v1/pipelines/{id}", id=id))
        return to_pipeline(response.json())
