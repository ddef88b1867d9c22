"""The sandbox provider: identity, auth, scopes, rate limits and the health check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.provider import (
    AuthType,
    Credentials,
    OAuth2Spec,
    OperationContext,
    OperationFlow,
    Outcome,
    Provider,
    ProviderRequest,
    ProviderResponse,
    RateLimit,
    ScopeMapping,
)
from unified_sdk_sandbox._errors import classify_response

DEFAULT_BASE_URL = "http://127.0.0.1:8765"

_CRM = "unified_sdk_sandbox.crm"


_OAUTH_PATHS = {
    "authorize_url": "authorize",
    "token_url": "token",
    "revoke_url": "revoke",
    "introspect_url": "introspect",
}


class SandboxProvider(Provider):
    """Sandbox CRM: a local CRM with its own API, API keys and OAuth 2 (PKCE, rotating refresh tokens).

    Point a connection at a running :class:`~unified_sdk_sandbox.fake.SandboxServer`
    with its ``config`` (``base_url`` and the OAuth endpoints)::

        conn = client.connections.create(
            provider="sandbox", credentials={"api_key": server.api_key}, config=server.config
        )
    """

    name = "sandbox"
    display_name = "Sandbox CRM"
    categories = frozenset({"crm"})
    version = "0.1.0"
    auth_types = frozenset({AuthType.API_KEY, AuthType.OAUTH2})
    base_url = DEFAULT_BASE_URL
    oauth = OAuth2Spec(
        authorize_url=f"{DEFAULT_BASE_URL}/oauth/authorize",
        token_url=f"{DEFAULT_BASE_URL}/oauth/token",
        revoke_url=f"{DEFAULT_BASE_URL}/oauth/revoke",
        introspect_url=f"{DEFAULT_BASE_URL}/oauth/introspect",
        scope_separator=" ",
        pkce=True,
        token_endpoint_auth_method="client_secret_post",
        issuer=DEFAULT_BASE_URL,
    )
    scopes = {
        "crm_deal_read": ScopeMapping(required=("deals:read",), optional=("pipelines:read",)),
        "crm_deal_write": ScopeMapping(required=("deals:write",)),
        "crm_contact_read": ScopeMapping(required=("contacts:read",)),
        "crm_contact_write": ScopeMapping(required=("contacts:write",)),
        "crm_company_read": ScopeMapping(required=("companies:read",)),
        "crm_company_write": ScopeMapping(required=("companies:write",)),
        "crm_pipeline_read": ScopeMapping(required=("pipelines:read",)),
        "crm_user_read": ScopeMapping(required=("users:read",)),
        "webhook": ScopeMapping(required=("webhooks:manage",)),
    }
    adapters = {
        "crm.deals": f"{_CRM}.deals:DealsAdapter",
        "crm.contacts": f"{_CRM}.contacts:ContactsAdapter",
        "crm.companies": f"{_CRM}.companies:CompaniesAdapter",
        "crm.pipelines": f"{_CRM}.pipelines:PipelinesAdapter",
        "crm.users": f"{_CRM}.users:UsersAdapter",
    }
    idempotency_header = "Idempotency-Key"
    docs_url = "https://github.com/unified-sdk/unified-sdk/tree/main/providers/sandbox"

    def oauth_endpoints(self, config: Mapping[str, Any]) -> Mapping[str, str]:
        """The sandbox serves OAuth on its API host: a connection's ``base_url`` moves both (and its
        issuer, the URL it names in every authorization response, RFC 9207)."""
        base = config.get("base_url")
        if not base:
            return {}
        base = str(base).rstrip("/")
        return {"issuer": base, **{name: f"{base}/oauth/{path}" for name, path in _OAUTH_PATHS.items()}}

    def auth_headers(self, credentials: Credentials) -> Mapping[str, str]:
        """API keys go in ``X-Api-Key``; OAuth access tokens in ``Authorization: Bearer``."""
        if credentials.type == AuthType.API_KEY and credentials.api_key:
            return {"X-Api-Key": credentials.api_key}
        if credentials.access_token:
            return {"Authorization": f"Bearer {credentials.access_token}"}
        return {}

    def classify(self, response: ProviderResponse) -> Outcome:
        """Translate a sandbox response (its own error types) into a unified :class:`Outcome`."""
        return classify_response(self, response)

    def parse_rate_limit(self, headers: Mapping[str, str]) -> RateLimit | None:
        """Read ``X-RateLimit-Limit``/``-Remaining`` and ``-Reset`` (seconds until the window resets)."""
        remaining = _int(headers.get("x-ratelimit-remaining"))
        if remaining is None:
            return None
        reset = headers.get("x-ratelimit-reset")
        try:
            reset_after = max(float(reset), 0.0) if reset is not None else None
        except ValueError:
            reset_after = None
        return RateLimit(remaining=remaining, limit=_int(headers.get("x-ratelimit-limit")), reset_after=reset_after)

    def health_check(self, ctx: OperationContext) -> OperationFlow[None]:
        """``GET /v1/me``: cheap, needs no scope, and fails on a bad key or token."""
        yield ProviderRequest("GET", "/v1/me")
        return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
