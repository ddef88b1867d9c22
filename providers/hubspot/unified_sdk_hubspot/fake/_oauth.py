"""The fake's authorization side: HubSpot's OAuth 2 on the shared testing authorization server,
plus private-app tokens.

HubSpot specifics layered on :class:`unified_sdk.testing.AuthorizationServer`:
every authorization must ask for the ``oauth`` scope; optional scopes come in
``optional_scope``; access tokens live 30 minutes; token responses carry
``hub_id`` and a ``scopes`` list (no ``scope`` string, so clients learn the
grant from introspection); refresh tokens are returned on every refresh
(HubSpot does not document rotation, so the fake can do either); token-endpoint
errors use HubSpot's ``status`` codes (``BAD_REFRESH_TOKEN``, ``BAD_AUTH_CODE``...).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from unified_sdk.testing import AuthorizationServer, OAuthError, TokenInfo, oauth_routes
from unified_sdk.testing._oauth import AuthorizationRequest
from unified_sdk_hubspot.fake._errors import correlation_id, error_response, json_response


class AuthorizeError(ValueError):
    """The authorization request is one HubSpot would refuse with an error page (no redirect)."""


class _HubSpotServer(AuthorizationServer):
    def validate_authorization_request(self, params: Mapping[str, str]) -> AuthorizationRequest:
        request = super().validate_authorization_request(params)
        if "oauth" not in (params.get("scope") or "").split():
            raise OAuthError(
                "invalid_scope",
                "every HubSpot app must request the 'oauth' scope",
                redirect_uri=request.redirect_uri,
                state=request.state,
            )
        return request


def _token_error(exc: OAuthError, grant_type: str) -> tuple[str, str]:
    """HubSpot's ``status`` code and message for a token-endpoint failure."""
    description = exc.description or exc.error
    if exc.error == "invalid_client":
        if "does not exist" in description or "client_id" in description:
            return "BAD_CLIENT_ID", "missing or invalid client_id"
        return "BAD_CLIENT_SECRET", "missing or invalid client_secret"
    if exc.error == "unsupported_grant_type" or not grant_type:
        return "BAD_GRANT_TYPE", f"unsupported grant_type {grant_type!r}"
    if grant_type == "refresh_token" and exc.error in ("invalid_grant", "invalid_request"):
        return "BAD_REFRESH_TOKEN", "missing or invalid refresh token"
    if grant_type == "authorization_code" and "redirect_uri" in description:
        return "BAD_REDIRECT_URI", "redirect_uri does not match the authorization request"
    if grant_type == "authorization_code" and exc.error in ("invalid_grant", "invalid_request"):
        return "BAD_AUTH_CODE", f"missing or unknown auth code ({description})"
    return exc.error.upper(), description


class HubSpotAuth:
    """OAuth tokens (through the shared authorization server) and private-app tokens of one account."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        scopes: Iterable[str],
        access_token_ttl: float = 1800.0,
        rotate_refresh_tokens: bool = False,
        hub_id: int = 62515,
        redirect_urls: Iterable[str] = (),
    ) -> None:
        self.hub_id = hub_id
        self.server = _HubSpotServer(
            scopes=scopes,
            access_token_ttl=access_token_ttl,
            rotate_refresh_tokens=rotate_refresh_tokens,
            optional_scope_param="optional_scope",
            token_prefix="",
            token_response=self._shape_token,
        )
        self.client = self.server.register_client(client_id, client_secret, redirect_uris=redirect_urls)
        self.private_tokens: dict[str, tuple[str, ...]] = {}
        self.introspections: list[dict[str, str]] = []
        """The form of every introspection request (secrets included: test use only)."""

    def _shape_token(self, body: dict[str, Any], info: TokenInfo) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "token_type": "bearer",
            "access_token": body["access_token"],
            "expires_in": body.get("expires_in"),
            "hub_id": self.hub_id,
            "scopes": list(info.scopes),
        }
        if "refresh_token" in body:
            shaped["refresh_token"] = body["refresh_token"]
        return shaped

    # -- the common fake API ------------------------------------------------------------------------
    def approve(self, authorization_url: str, *, deny: bool = False, grant_optional: bool = True) -> str:
        """Consent as the installing user; the redirect URL HubSpot would send the browser to."""
        query = dict(parse_qsl(urlsplit(authorization_url).query, keep_blank_values=True))
        grant = None if grant_optional else (query.get("scope") or "").split()
        try:
            return self.server.approve(authorization_url, grant, deny=deny)
        except OAuthError as exc:
            raise AuthorizeError(str(exc)) from None

    def allow_redirect_url(self, url: str) -> None:
        """Add ``url`` to the app's redirect URLs (HubSpot's app settings), as a developer would."""
        client = self.client
        if url not in client.redirect_uris:
            self.client = self.server.register_client(
                client.client_id, client.client_secret, redirect_uris=(*client.redirect_uris, url)
            )

    @property
    def token_requests(self) -> dict[str, int]:
        return self.server.token_requests

    def expire_access_tokens(self) -> None:
        self.server.expire_access_tokens()

    # -- the API side -------------------------------------------------------------------------------------
    def add_private_token(self, scopes: Iterable[str]) -> str:
        token = "pat-na1-" + secrets.token_hex(16)
        self.private_tokens[token] = tuple(scopes)
        return token

    def authenticate(self, token: str) -> tuple[str, tuple[str, ...] | None, float | None]:
        """``(kind, scopes, expired_seconds_ago)``; kind is ``private``, ``oauth`` or ``unknown``."""
        scopes = self.private_tokens.get(token)
        if scopes is not None:
            return "private", scopes, None
        if not token:
            return "unknown", None, None
        status = self.server.check_access_token(token)
        if status.info is None or status.reason == "revoked":
            return "unknown", None, None
        if status.reason == "expired":
            late = time.time() - (status.info.expires_at or time.time())
            return "oauth", status.info.scopes, max(late, 0.0)
        return "oauth", status.info.scopes, None

    # -- routes -----------------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        """``/oauth/authorize`` (consent page), and the v3 token, revoke and introspect endpoints."""
        authorize = [r for r in oauth_routes(self.server, title="Install app") if r.path == "/oauth/authorize"]

        async def form(request: Request) -> dict[str, str]:
            body = (await request.body()).decode("utf-8", errors="replace")
            return dict(parse_qsl(body, keep_blank_values=True))

        def failed(exc: OAuthError, grant_type: str) -> Response:
            code, message = _token_error(exc, grant_type)
            body = {
                "status": code,
                "message": message,
                "correlationId": correlation_id(),
                "category": "VALIDATION_ERROR",
            }
            return error_response(400, body)

        async def token(request: Request) -> Response:
            params = await form(request)
            grant_type = params.get("grant_type", "")
            try:
                body = self.server.token(params)
            except OAuthError as exc:
                return failed(exc, grant_type)
            if grant_type == "refresh_token" and "refresh_token" not in body:
                # Not rotating: HubSpot returns the same refresh token with every refresh.
                body["refresh_token"] = params["refresh_token"]
            return json_response(body, headers={"Cache-Control": "no-store"})

        async def revoke(request: Request) -> Response:
            try:
                self.server.revoke(await form(request))
            except OAuthError as exc:
                return failed(exc, "revoke")
            return Response(status_code=200)

        async def introspect(request: Request) -> Response:
            params = await form(request)
            self.introspections.append(params)
            try:
                body = self.server.introspect(params)
            except OAuthError as exc:
                return failed(exc, "introspect")
            if body.get("active"):
                body["scopes"] = body.get("scope", "").split()
                body["hub_id"] = self.hub_id
            return json_response(body)

        return [
            *authorize,
            Route("/oauth/v3/token", token, methods=["POST"]),
            Route("/oauth/v3/token/revoke", revoke, methods=["POST"]),
            Route("/oauth/v3/token/introspect", introspect, methods=["POST"]),
        ]
