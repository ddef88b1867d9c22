"""Users: sandbox ``/v1/users`` (record owners) as unified :class:`~unified_sdk.models.User`."""

from __future__ import annotations

from typing import Any

from unified_sdk.models import User, construct
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


def to_user(r: dict[str, Any]) -> User:
    first = r.get("first_name")
    last = r.get("last_name")
    email = r.get("email")
    return construct(
        User,
        id=r["id"],
        created_at=convert.timestamp(r.get("created_at")),
        updated_at=convert.timestamp(r.get("updated_at")),
        name=convert.join_name(first, last),
        first_name=first,
        last_name=last,
        emails=[convert.email(email, "work")] if email else [],
        title=r.get("job_title"),
        is_active=r.get("active"),
        raw=r,
    )


class UsersAdapter(ReadOnlyAdapter[User]):
    """``crm.users``: list (one page) and get."""

    def list(self, ctx: OperationContext, query: ListQuery) -> OperationFlow[ListResult[User]]:
        response = yield ProviderRequest("GET", "/v1/users")
        return ListResult([to_user(r) for r in response.json()["data"]], None)

    def get(self, ctx: OperationContext, id: str) -> OperationFlow[User]:
        response = yield ProviderRequest("GET", build_path("/v1/users/{id}", id=id))
        return to_user(response.json())
