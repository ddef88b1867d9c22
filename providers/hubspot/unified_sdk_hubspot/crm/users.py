"""Users: HubSpot's owners (the ids deals, contacts and companies name in ``hubspot_owner_id``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import User
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

OWNERS_PATH = "/crm/v3/owners"


def to_user(o: Mapping[str, Any]) -> User:
    first = o.get("firstName") or None
    last = o.get("lastName") or None
    return User.model_construct(
        id=str(o.get("id")),
        created_at=convert.timestamp(o.get("createdAt")),
        updated_at=convert.timestamp(o.get("updatedAt")),
        name=convert.join_name(first, last),
        first_name=first,
        last_name=last,
        emails=[convert.email(o["email"], "work")] if o.get("email") else [],
        title=None,
        is_active=not o.get("archived", False),
        raw=dict(o),
    )


class UsersAdapter(ReadOnlyAdapter[User]):
    """``crm.users``: active HubSpot owners; ``id`` is the owner id used by ``user_id`` on records."""

    id_pattern = r"[0-9]+"
    max_page_size = 500  # the owners endpoint's largest page

    def list(self, ctx: OperationContext, query: ListQuery) -> OperationFlow[ListResult[User]]:
        params: dict[str, Any] = {"limit": min(query.limit or 100, 500), "archived": "false"}
        if query.cursor:
            params["after"] = query.cursor
        response = yield ProviderRequest("GET", OWNERS_PATH, params=params)
        body = response.json() or {}
        next_after = ((body.get("paging") or {}).get("next") or {}).get("after")
        return ListResult([to_user(o) for o in body.get("results") or []], str(next_after) if next_after else None)

    def get(self, ctx: OperationContext, id: str) -> OperationFlow[User]:
        response = yield ProviderRequest("GET", build_path(OWNERS_PATH + "/{id}", id=id))
        return to_user(response.json())
