"""The ``toy`` provider: one list endpoint, records ``{"key", "label"}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import Deal
from unified_sdk.provider import (
    AuthType,
    CrmObjectAdapter,
    ListQuery,
    ListResult,
    OAuth2Spec,
    OperationContext,
    OperationFlow,
    Provider,
    ProviderRequest,
    RateLimit,
    ScopeMapping,
)


class ToyDeals(CrmObjectAdapter[Deal]):
    def list(self, ctx: OperationContext, query: ListQuery) -> OperationFlow[ListResult[Deal]]:
        params: dict[str, Any] = {"n": query.limit or 10}
        if query.cursor:
            params["after"] = query.cursor
        response = yield ProviderRequest("GET", "/items", params=params)
        body = response.json()
        items = [Deal(id=str(r["key"]), name=r["label"], raw=r) for r in body["items"]]
        return ListResult(items, body.get("after"))

    def create(self, ctx: OperationContext, data: Any) -> OperationFlow[Deal]:
        response = yield ProviderRequest("POST", "/items", json={"label": data.get("name")})
        r = response.json()
        return Deal(id=str(r["key"]), name=r["label"], raw=r)


class ToyProvider(Provider):
    name = "toy"
    display_name = "Toy"
    base_url = "http://127.0.0.1:9"
    scopes = {"crm_deal_read": ScopeMapping(required=("items",))}
    adapters = {"crm.deals": "tests.toy.toy_plugin:ToyDeals"}

    def parse_rate_limit(self, headers: Mapping[str, str]) -> RateLimit | None:
        remaining, _, limit = (headers.get("x-budget") or "").partition("/")
        return RateLimit(remaining=int(remaining), limit=int(limit)) if limit else None

    def health_check(self, ctx: OperationContext) -> OperationFlow[None]:
        yield ProviderRequest("GET", "/items", params={"n": 1})


class OAuthToyProvider(ToyProvider):
    """The toy API behind OAuth 2, with scopes mapped required and optional."""

    name = "oauthtoy"
    display_name = "OAuth Toy"
    auth_types = frozenset({AuthType.OAUTH2})
    oauth = OAuth2Spec(
        authorize_url="https://toy.invalid/oauth/authorize",
        token_url="https://toy.invalid/oauth/token",
        revoke_url="https://toy.invalid/oauth/revoke",
    )
    scopes = {
        "crm_deal_read": ScopeMapping(required=("items:read",), optional=("profile",)),
        "crm_deal_write": ScopeMapping(required=("items:write",)),
    }
