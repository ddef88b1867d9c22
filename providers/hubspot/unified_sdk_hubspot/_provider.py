"""The HubSpot provider: identity, auth (OAuth 2 v3 and private-app tokens), scopes and health check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from unified_sdk import ActionRule, ResponseAction
from unified_sdk.provider import (
    AuthType,
    Category,
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
from unified_sdk_hubspot import _errors, _ratelimit

if TYPE_CHECKING:
    pass

_CRM = "unified_sdk_hubspot.crm"


class HubSpotProvider(Provider):
    """HubSpot CRM: deals, contacts, companies, owners (users) and deal pipelines.

    Authenticates with OAuth 2 (authorization code + PKCE; the v3 token,
    revoke and introspect endpoints) or with a private-app access token given
    as ``credentials={"api_key": "pat-..."}`` (sent as a Bearer token).
    """

    name: ClassVar[str] = "hubspot"
    display_name: ClassVar[str] = "HubSpot"
    categories: ClassVar[frozenset[str]] = frozenset({"crm"})
    version: ClassVar[str] = "0.1.0"
    auth_types: ClassVar[frozenset[AuthType]] = frozenset({AuthType.OAUTH2, AuthType.API_KEY})
    base_url: ClassVar[str] = "https://api.hubapi.com"
    docs_url: ClassVar[str | None] = "https://developers.hubspot.com/docs/api/crm/understanding-the-crm"
    oauth: ClassVar[OAuth2Spec | None] = OAuth2Spec(
        authorize_url="https://app.hubspot.com/oauth/authorize",
        # v3 endpoints: v1 is deprecated on 2027-02-16. Every parameter goes in the form body.
        token_url="https://api.hubapi.com/oauth/v3/token",
        revoke_url="https://api.hubapi.com/oauth/v3/token/revoke",
        introspect_url="https://api.hubapi.com/oauth/v3/token/introspect",
        scope_separator=" ",
        # UNCONFIRMED: HubSpot's token endpoints accept code_verifier, but the authorize-side
        # parameter names are not documented; we send the standard code_challenge/S256.
        pkce=True,
        token_endpoint_auth_method="client_secret_post",
        optional_scope_param="optional_scope",
        always_scopes=("oauth",),
        # HubSpot says to follow expires_in (30 minutes today); this is only the fallback.
        expires_in_default=1800,
    )
    scopes: ClassVar[Mapping[str, ScopeMapping]] = {
        "crm_deal_read": ScopeMapping(required=("crm.objects.deals.read",)),
        "crm_deal_write": ScopeMapping(required=("crm.objects.deals.write",)),
        "crm_contact_read": ScopeMapping(required=("crm.objects.contacts.read",)),
        "crm_contact_write": ScopeMapping(required=("crm.objects.contacts.write",)),
        "crm_company_read": ScopeMapping(required=("crm.objects.companies.read",)),
        "crm_company_write": ScopeMapping(required=("crm.objects.companies.write",)),
        "crm_user_read": ScopeMapping(required=("crm.objects.owners.read",)),
        # Deal pipelines are readable with any of a long list of scopes; deals read is the
        # narrowest that also lets the deals adapter fill stage labels.
        "crm_pipeline_read": ScopeMapping(required=("crm.objects.deals.read",)),
    }
    adapters: ClassVar[Mapping[str, str]] = {
        "crm.deals": f"{_CRM}.deals:DealsAdapter",
        "crm.contacts": f"{_CRM}.contacts:ContactsAdapter",
        "crm.companies": f"{_CRM}.companies:CompaniesAdapter",
        "crm.pipelines": f"{_CRM}.pipelines:PipelinesAdapter",
        "crm.users": f"{_CRM}.users:UsersAdapter",
    }
    response_actions: ClassVar[Mapping[str, ActionRule]] = {
        # A 429 carries the wait it needs (policy interval, or until the daily reset); a daily
        # limit asks for hours, more than max_wait, so it fails at once and is not retried.
        Category.RATE_LIMITED: ActionRule(ResponseAction.WAIT_AND_RETRY, max_retries=5, max_wait=15.0),
        # The daily limit is not retried until it resets, whatever wait it announces.
        "code:DAILY": ActionRule(ResponseAction.FAIL),
    }

    def classify(self, response: ProviderResponse) -> Outcome:
        """HubSpot's error body (category, policyName, errors[].context) as a unified outcome."""
        return _errors.classify(response, self.scopes, super().classify)

    def parse_rate_limit(self, headers: Mapping[str, str]) -> RateLimit | None:
        """The tightest of HubSpot's rolling, per-second and daily budgets."""
        return _ratelimit.parse_rate_limit(headers)

    def health_check(self, ctx: OperationContext) -> OperationFlow[None]:
        """``GET /account-info/v3/details``: needs no CRM scope, so it proves only the token."""
        yield ProviderRequest("GET", "/account-info/v3/details")
        return None

    def classify_token_error(self, response: ProviderResponse) -> Outcome:
        """HubSpot's token-endpoint errors (``BAD_REFRESH_TOKEN``, ``BAD_AUTH_CODE``, ...)."""
        body = response.json_or_none()
        if isinstance(body, Mapping) and isinstance(body.get("status"), str) and "error" not in body:
            outcome = _errors.classify(response, self.scopes, super().classify_token_error)
            if outcome.category is not None:
                return outcome
        return super().classify_token_error(response)

    def introspection_request(
        self, url: str, credentials: Credentials, client_id: str, client_secret: str | None
    ) -> ProviderRequest:
        """v3 introspection: every parameter, the client's credentials included, in the form body."""
        data = {
            "client_id": client_id,
            "client_secret": client_secret or "",
            "token": credentials.access_token or "",
            "token_type_hint": "access_token",
        }
        return ProviderRequest("POST", url, data=data, authenticated=False)
