"""The Salesforce provider: identity, OAuth, scopes, errors, rate limits and adapters.

Salesforce differs from most CRMs in ways the plugin absorbs:

- every API call goes to the org's own host, the token response's ``instance_url``;
- OAuth has no per-object scopes: every unified scope needs ``api`` (plus
  ``refresh_token`` for offline access), and object access is decided by the
  user's profile at call time (a missing object permission is a permission error then);
- token responses carry no ``expires_in``, so sessions are refreshed when a call
  is answered 401 ``INVALID_SESSION_ID`` (once, then the call is retried once);
- the daily allocation ends in 403 ``REQUEST_LIMIT_EXCEEDED``, which is
  rate limited, not a permission problem, and is not retried.

Connection config keys: ``base_url`` (normally set from ``instance_url``),
``api_version`` (default :data:`DEFAULT_API_VERSION`), ``login_host``
(``login.salesforce.com``, ``test.salesforce.com`` for sandboxes, or a My
Domain host; see :func:`login_endpoints`), ``describe`` (default true: list
calls read the object's fields once per hour to pick up custom fields).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from unified_sdk import ActionRule, Outcome, ResponseAction
from unified_sdk.provider import (
    AuthType,
    OAuth2Spec,
    OperationContext,
    OperationFlow,
    Provider,
    ProviderRequest,
    ProviderResponse,
    RateLimit,
    ScopeMapping,
)
from unified_sdk_salesforce import _errors

#: The REST API version used unless a connection's config sets ``api_version``
#: (Winter '25; every current org serves it).
DEFAULT_API_VERSION = "v62.0"

LOGIN_HOST = "login.salesforce.com"
SANDBOX_HOST = "test.salesforce.com"

_VERSION = re.compile(r"^v?(\d{2,3})(?:\.0)?$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::\d+)?$")

#: Salesforce has no per-object OAuth scopes: ``api`` grants REST access to
#: whatever the user's profile allows, ``refresh_token`` grants offline access.
_API = ScopeMapping(required=("api", "refresh_token"))


def login_endpoints(host: str = LOGIN_HOST) -> dict[str, str]:
    """OAuth endpoint overrides for a login host, to merge into a connection or integration config.

    ``host`` is ``login.salesforce.com`` (production), ``test.salesforce.com``
    (sandboxes) or a My Domain host such as ``acme.my.salesforce.com``.

    Example::

        config = {**login_endpoints("test.salesforce.com"), "api_version": "v61.0"}
    """
    host = host.removeprefix("https://").rstrip("/")
    if not _HOST.match(host):
        raise ValueError(f"not a Salesforce login host: {host!r}")
    base = f"https://{host}/services/oauth2"
    return {
        "authorize_url": f"{base}/authorize",
        "token_url": f"{base}/token",
        "revoke_url": f"{base}/revoke",
        "introspect_url": f"{base}/introspect",
    }


def api_version(config: Mapping[str, Any]) -> str:
    """The connection's API version as ``vNN.0`` (config ``api_version``: ``62``, ``"62.0"`` or ``"v62.0"``)."""
    value = config.get("api_version")
    if value is None or value == "":
        return DEFAULT_API_VERSION
    match = _VERSION.match(str(value).strip())
    if match is None:
        raise ValueError(f"api_version must look like 'v62.0', got {value!r}")
    return f"v{int(match.group(1))}.0"


class SalesforceProvider(Provider):
    """Salesforce (Sales Cloud) through the REST API: Opportunities, Contacts, Accounts, Users, stages."""

    name = "salesforce"
    display_name = "Salesforce"
    categories = frozenset({"crm"})
    version = "0.1.0"
    auth_types = frozenset({AuthType.OAUTH2})
    base_url = "https://login.salesforce.com"
    """Only a placeholder: a connection's API host is its ``instance_url`` (config ``base_url``)."""
    docs_url = "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/"
    oauth = OAuth2Spec(
        authorize_url=f"https://{LOGIN_HOST}/services/oauth2/authorize",
        token_url=f"https://{LOGIN_HOST}/services/oauth2/token",
        revoke_url=f"https://{LOGIN_HOST}/services/oauth2/revoke",
        introspect_url=f"https://{LOGIN_HOST}/services/oauth2/introspect",
        scope_separator=" ",
        pkce=True,
        token_endpoint_auth_method="client_secret_post",
        always_scopes=("api", "refresh_token"),
        # No expires_in in token responses; the session lifetime is an org setting. The core refreshes
        # reactively on 401 INVALID_SESSION_ID instead of guessing an expiry.
        expires_in_default=None,
    )
    scopes: ClassVar[Mapping[str, ScopeMapping]] = {
        "crm_deal_read": _API,
        "crm_deal_write": _API,
        "crm_contact_read": _API,
        "crm_contact_write": _API,
        "crm_company_read": _API,
        "crm_company_write": _API,
        "crm_pipeline_read": _API,
        "crm_user_read": _API,
    }
    adapters: ClassVar[Mapping[str, str]] = {
        "crm.deals": "unified_sdk_salesforce.crm.deals:DealsAdapter",
        "crm.contacts": "unified_sdk_salesforce.crm.contacts:ContactsAdapter",
        "crm.companies": "unified_sdk_salesforce.crm.companies:CompaniesAdapter",
        "crm.pipelines": "unified_sdk_salesforce.crm.pipelines:PipelinesAdapter",
        "crm.users": "unified_sdk_salesforce.crm.users:UsersAdapter",
    }
    response_actions: ClassVar[Mapping[str, ActionRule]] = {
        # A 403 is either a permission problem or the spent daily allocation
        # (REQUEST_LIMIT_EXCEEDED, classified rate_limited). Neither can succeed
        # before the rolling 24-hour window frees requests, so never retry.
        "403": ActionRule(ResponseAction.FAIL),
        "code:REQUEST_LIMIT_EXCEEDED": ActionRule(ResponseAction.FAIL),
    }

    def oauth_endpoints(self, config: Mapping[str, Any]) -> Mapping[str, str]:
        """Endpoints of the config's ``login_host`` (``test.salesforce.com``, a My Domain host)."""
        host = config.get("login_host")
        return login_endpoints(str(host)) if host else {}

    def base_url_from_token(self, token: Mapping[str, Any]) -> str | None:
        """The org's API host: the token response's ``instance_url``."""
        url = token.get("instance_url")
        return str(url).rstrip("/") if url else None

    def classify_token_error(self, response: ProviderResponse) -> Outcome:
        """Token-endpoint failures (``invalid_grant`` "expired access/refresh token", "inactive user", …)."""
        if response.status >= 500:
            return super().classify_token_error(response)
        return _errors.classify(response, super().classify_token_error)

    def classify(self, response: ProviderResponse) -> Outcome:
        return _errors.classify(response, super().classify)

    def parse_rate_limit(self, headers: Mapping[str, str]) -> RateLimit | None:
        return _errors.parse_rate_limit(headers)

    def health_check(self, ctx: OperationContext) -> OperationFlow[None]:
        """``GET /services/data/vXX.X/limits``: proves the session and reports the daily allocation."""
        yield ProviderRequest("GET", f"/services/data/{api_version(ctx.config)}/limits")
