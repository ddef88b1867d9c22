"""Pipelines: the org's opportunity stages (``OpportunityStage``), as one pipeline.

Salesforce orgs that define several sales processes (through Opportunity
record types) restrict which stages each record type uses; reading those
mappings needs the Metadata API, so this plugin offers the one pipeline of
all stages, in their sort order.
"""

from __future__ import annotations

from typing import Any

from unified_sdk.errors import NotFoundError
from unified_sdk.models import Pipeline, Stage, construct
from unified_sdk.provider import (
    ListQuery,
    ListResult,
    OperationContext,
    OperationFlow,
    ProviderRequest,
    ReadOnlyAdapter,
)
from unified_sdk_salesforce import _soql
from unified_sdk_salesforce._provider import api_version

PIPELINE_ID = "opportunity"
PIPELINE_NAME = "Opportunity"

_FIELDS = ("Id", "ApiName", "MasterLabel", "IsActive", "SortOrder", "DefaultProbability", "IsClosed", "IsWon")


def to_stage(record: dict[str, Any]) -> Stage:
    probability = record.get("DefaultProbability")
    return construct(
        Stage,
        # A deal's stage_id is its StageName, which holds the stage's API name.
        id=record.get("ApiName") or record.get("MasterLabel"),
        name=record.get("MasterLabel"),
        active=record.get("IsActive"),
        deal_probability=float(probability) if probability is not None else None,
        display_order=record.get("SortOrder"),
    )


class PipelinesAdapter(ReadOnlyAdapter[Pipeline]):
    """``crm.pipelines``: one pipeline (``opportunity``) whose stages are the org's opportunity stages."""

    def _pipeline(self, ctx: OperationContext) -> OperationFlow[Pipeline]:
        soql = _soql.select("OpportunityStage", _FIELDS, order_by=("SortOrder", "Id"))
        response = yield ProviderRequest("GET", f"/services/data/{api_version(ctx.config)}/query", params={"q": soql})
        body = response.json()
        records: list[dict[str, Any]] = body["records"]
        # A stage list never reaches a second batch in practice, but follow locators all the same.
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            response = yield ProviderRequest("GET", str(body["nextRecordsUrl"]))
            body = response.json()
            records += body["records"]
        return construct(
            Pipeline,
            id=PIPELINE_ID,
            name=PIPELINE_NAME,
            is_active=True,
            display_order=0,
            stages=[to_stage(r) for r in records],
            raw={"records": records},
        )

    def list(self, ctx: OperationContext, query: ListQuery) -> OperationFlow[ListResult[Pipeline]]:
        pipeline = yield from self._pipeline(ctx)
        return ListResult([pipeline], None)

    def get(self, ctx: OperationContext, id: str) -> OperationFlow[Pipeline]:
        if id != PIPELINE_ID:
            raise NotFoundError(
                f"Salesforce has no pipeline {id!r}",
                provider="salesforce",
                connection_id=ctx.connection_id,
                hint=f"the only pipeline is {PIPELINE_ID!r} (the org's opportunity stages); nothing was sent",
            )
        return (yield from self._pipeline(ctx))
