"""The toy server behind our reusable OAuth authorization server: bearer tokens on /items."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.toy.server import ToyServer
from unified_sdk.testing import AuthorizationServer, oauth_routes


class OAuthToyServer(ToyServer):
    """A toy API protected by OAuth; tokens come from :class:`AuthorizationServer`."""

    redirect_uri = "https://app.example.com/oauth/callback"

    def __init__(self, items: int = 25, client_auth_method: str = "client_secret_post", **oauth_options: Any) -> None:
        super().__init__(items)
        self.auth = AuthorizationServer(scopes={"items:read", "items:write", "profile"}, **oauth_options)
        client = self.auth.register_client(
            redirect_uris=[self.redirect_uri], token_endpoint_auth_method=client_auth_method
        )
        self.oauth_client_id = client.client_id
        self.oauth_client_secret = client.client_secret or ""

    @property
    def config(self) -> dict[str, str]:
        return {
            "base_url": self.url,
            "authorize_url": f"{self.url}/oauth/authorize",
            "token_url": f"{self.url}/oauth/token",
            "revoke_url": f"{self.url}/oauth/revoke",
            "introspect_url": f"{self.url}/oauth/introspect",
        }

    @property
    def token_requests(self) -> dict[str, int]:
        return self.auth.token_requests

    def approve(self, authorization_url: str, **kwargs: Any) -> str:
        return self.auth.approve(authorization_url, **kwargs)

    def expire_access_tokens(self) -> int:
        return self.auth.expire_access_tokens()

    def build_app(self) -> Any:
        api = super().build_app()
        oauth = Starlette(routes=oauth_routes(self.auth))

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].startswith("/oauth"):
                await oauth(scope, receive, send)
                return
            if scope["type"] == "http":
                request = Request(scope)
                header = request.headers.get("authorization", "")
                token = header[7:] if header.lower().startswith("bearer ") else ""
                status = self.auth.check_access_token(token)
                if not status.active:
                    response = JSONResponse({"error": f"token {status.reason}"}, status_code=401)
                    await response(scope, receive, send)
                    return
            await api(scope, receive, send)

        return app
