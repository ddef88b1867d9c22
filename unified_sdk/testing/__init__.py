"""Building blocks for local provider fakes: a loopback ASGI server and fault injection.

Every provider plugin ships a fake of its provider built on these, so tests and
app developers drive any fake alike (see DESIGN.md, "Plugin contract").
Requires the ``testing`` extra (uvicorn, starlette).

For tests against any fake: :func:`sqlite_client` (a client on a SQLite file),
:func:`authorize` (an OAuth connection through the whole flow, consent included) and
:class:`LossyProxy` (a proxy that lets the server process a request, then loses its answer);
the conformance checks :func:`check_hostile_ids_refused` and :func:`check_exact_paging`.
"""

from unified_sdk.testing._clients import (
    DEFAULT_REDIRECT_URI,
    OAuthFake,
    authorize,
    authorize_async,
    configure_integration,
    configure_integration_async,
    set_clock,
    set_jitter,
    sqlite_client,
)
from unified_sdk.testing._conformance import HOSTILE_IDS, check_hostile_ids_refused
from unified_sdk.testing._faults import FAULTS, SLOW_PAGE_ANSWERS, Fault, FaultInjector, SlowPages
from unified_sdk.testing._oauth import (
    AuthorizationServer,
    OAuthClient,
    OAuthError,
    TokenInfo,
    TokenStatus,
    oauth_routes,
    pkce_challenge,
)
from unified_sdk.testing._paging import PagingFake, PagingReport, check_exact_paging, paging_cases
from unified_sdk.testing._proxy import LossyProxy, ProxiedRequest
from unified_sdk.testing._server import LocalServer, run_forever

__all__ = [
    "DEFAULT_REDIRECT_URI",
    "FAULTS",
    "HOSTILE_IDS",
    "SLOW_PAGE_ANSWERS",
    "AuthorizationServer",
    "Fault",
    "FaultInjector",
    "LocalServer",
    "LossyProxy",
    "OAuthClient",
    "OAuthError",
    "OAuthFake",
    "PagingFake",
    "PagingReport",
    "ProxiedRequest",
    "SlowPages",
    "TokenInfo",
    "TokenStatus",
    "authorize",
    "authorize_async",
    "check_exact_paging",
    "check_hostile_ids_refused",
    "configure_integration",
    "configure_integration_async",
    "oauth_routes",
    "paging_cases",
    "pkce_challenge",
    "run_forever",
    "set_clock",
    "set_jitter",
    "sqlite_client",
]
