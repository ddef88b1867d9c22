"""Building blocks for local provider fakes: a loopback ASGI server and fault injection.

Every provider plugin ships a fake of its provider built on these, so tests and
app developers drive any fake alike (see DESIGN.md, "Plugin contract").
Requires the ``testing`` extra (uvicorn, starlette).
"""

from unified_sdk.testing._faults import FAULTS, Fault, FaultInjector
from unified_sdk.testing._oauth import (
    AuthorizationServer,
    OAuthClient,
    OAuthError,
    TokenInfo,
    TokenStatus,
    oauth_routes,
    pkce_challenge,
)
from unified_sdk.testing._server import LocalServer, run_forever

__all__ = [
    "FAULTS",
    "AuthorizationServer",
    "Fault",
    "FaultInjector",
    "LocalServer",
    "OAuthClient",
    "OAuthError",
    "TokenInfo",
    "TokenStatus",
    "oauth_routes",
    "pkce_challenge",
    "run_forever",
]
