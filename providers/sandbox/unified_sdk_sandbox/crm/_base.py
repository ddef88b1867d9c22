"""How sandbox CRM records travel: CRUD over ``/v1/<path>``, cursor paging and list parameters.

Transport only: records become unified models through the resource's hooks
(:meth:`~unified_sdk.provider.ObjectAdapter.unify`), and write bodies are built by them
(:meth:`~unified_sdk.provider.ObjectAdapter.provider_fields`); no field is named here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from unified_sdk.provider import (
    ListQuery,
    ListResult,
    ObjectAdapter,
    OperationContext,
    OperationFlow,
    ProviderRequest,
    build_path,
    convert,
)

M = TypeVar("M")

MAX_PAGE = 100
"""The sandbox's largest page size."""

FILTER_PARAMS = {
    "created_after": "created_since",
    "stage_id": "stage_id",
    "pipeline_id": "pipeline_id",
    "user_id": "owner_id",
    "company_id": "company_id",
    "contact_id": "contact_id",
    "email": "email",
    "query": "q",
}
"""Unified list filter -> the sandbox's query parameter."""


def list_params(query: ListQuery) -> dict[str, Any]:
    """The query parameters of one list page."""
    params: dict[str, Any] = {"limit": min(max(query.limit or MAX_PAGE, 1), MAX_PAGE)}
    if query.cursor:
        params["cursor"] = query.cursor
        return params  # the cursor carries the filters and the order of the first page
    if query.updated_after is not None:
        params["updated_since"] = convert.timestamp_text(query.updated_after)
    for key, value in query.filters.items():
        params[FILTER_PARAMS[key]] = convert.timestamp_text(value) if key == "created_after" else value
    if query.sort is not None:
        params["sort"] = ("-" if query.order == "desc" else "") + query.sort
    return params


class SandboxObjectAdapter(ObjectAdapter[M]):
    """CRUD over ``/v1/<path>``: a record is the JSON object, a write body is the provider fields."""

    path: ClassVar[str]
    """The collection's path segment (``deals``)."""
    max_page_size = MAX_PAGE

    def list(self, ctx: OperationContext, query: ListQuery) -> OperationFlow[ListResult[M]]:
        response = yield ProviderRequest("GET", f"/v1/{self.path}", params=list_params(query))
        body = response.json()
        items = yield from self.unify(ctx, body["data"])
        return ListResult(items, body.get("next_cursor"))

    def get(self, ctx: OperationContext, id: str) -> OperationFlow[M]:
        response = yield ProviderRequest("GET", self._record_path(id))
        return (yield from self.unify_one(ctx, response.json()))

    def create(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[M]:
        body = yield from self.provider_fields(ctx, data)
        response = yield ProviderRequest("POST", f"/v1/{self.path}", json=body)
        return (yield from self.unify_one(ctx, response.json()))

    def update(self, ctx: OperationContext, id: str, data: Mapping[str, Any]) -> OperationFlow[M]:
        body = yield from self.provider_fields(ctx, data)
        response = yield ProviderRequest("PATCH", self._record_path(id), json=body)
        return (yield from self.unify_one(ctx, response.json()))

    def delete(self, ctx: OperationContext, id: str) -> OperationFlow[None]:
        yield ProviderRequest("DELETE", self._record_path(id))
        return None

    def _record_path(self, id: str) -> str:
        return build_path("/v1/{resource}/{id}", resource=self.path, id=id)
