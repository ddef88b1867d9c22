"""An OAuth 2 authorization server that is not ours: assembled from authlib's server components.

:class:`AuthlibOAuthServer` puts the toy ``/items`` API (:class:`tests.toy.server.ToyServer`)
behind an authorization server built from authlib's framework-neutral pieces:
``authlib.oauth2.rfc6749.AuthorizationServer`` with the ``AuthorizationCodeGrant``
(plus the RFC 7636 ``CodeChallenge`` extension, PKCE required for S256/plain)
and the ``RefreshTokenGrant`` (rotation: every refresh issues a new refresh
token and revokes the old one; a rotated refresh token presented again revokes
its whole token family), the RFC 6750 ``BearerTokenGenerator`` and the RFC 7009
``RevocationEndpoint``. Clients, codes and tokens are in-memory models built on
authlib's ``ClientMixin``, ``AuthorizationCodeMixin`` and ``TokenMixin``.

It exists so the SDK's OAuth flow is tested against an implementation other
than :mod:`unified_sdk.testing._oauth`. Its test-facing surface matches
``OAuthToyServer``: ``url``, ``config``, ``oauth_client_id``,
``oauth_client_secret``, ``redirect_uri``, ``approve(...)``,
``token_requests`` and ``expire_access_tokens()``.

The consent step runs over HTTP like a browser would: ``approve`` GETs the
authorization URL (a consent page), then POSTs the user's decision to it and
returns the ``Location`` of the 302 without following it.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx2
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    AuthorizationServer,
    ClientMixin,
    OAuth2Payload,
    OAuth2Request,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.toy.server import ToyServer

SCOPES = ("items:read", "items:write", "profile")
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


# -- in-memory models -------------------------------------------------------------------
@dataclass
class User:
    """The resource owner; ``granted`` narrows the requested scopes (None: all of them)."""

    id: str
    granted: frozenset[str] | None = None


@dataclass
class OAuthClient(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    scopes: tuple[str, ...] = SCOPES

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return " ".join(s for s in scope_to_list(scope) if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str | None
    scope: str
    user: User
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token(TokenMixin):  # type: ignore[misc]
    """One issuance from the token endpoint; ``family`` links the rotations of one grant."""

    access_token: str
    refresh_token: str | None
    client_id: str
    scope: str
    user: User
    family: str
    grant_type: str
    expires_at: float
    access_revoked: bool = False
    refresh_revoked: bool = False

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.access_revoked

    def get_user(self) -> User:
        return self.user

    @property
    def active(self) -> bool:
        return not self.access_revoked and not self.is_expired()


@dataclass
class Store:
    clients: dict[str, OAuthClient] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    by_access: dict[str, Token] = field(default_factory=dict)
    by_refresh: dict[str, Token] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def revoke_family(self, family: str) -> None:
        for token in self.by_access.values():
            if token.family == family:
                token.access_revoked = token.refresh_revoked = True


# -- authlib's framework glue, written for plain data -------------------------------------
class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._data: dict[str, str] = {}
        self._datalist: dict[str, list[str]] = {}
        for key, value in pairs:
            self._data.setdefault(key, value)
            self._datalist.setdefault(key, []).append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


@dataclass
class RawRequest:
    """What the HTTP layer hands to authlib: method, URL, headers, query and form pairs."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]


class _OAuth2Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, raw: RawRequest) -> None:
        super().__init__(method=raw.method, uri=raw.url, headers=raw.headers)
        self._args = dict(raw.query)
        self._form = dict(raw.form)
        self.payload = _Payload([*raw.query, *raw.form])

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class HttpResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]]


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, store: Store, access_token_ttl: int) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.store = store
        self.presented_refresh_tokens: list[str] = []
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: secrets.token_urlsafe(32),
                refresh_token_generator=lambda **_: secrets.token_urlsafe(32),
                expires_generator=access_token_ttl,
            ),
        )

    def query_client(self, client_id: str) -> OAuthClient | None:
        return self.store.clients.get(client_id)

    def save_token(self, token: Mapping[str, Any], request: OAuth2Request) -> None:
        # A grant's family is named after its authorization code and kept through every rotation.
        family = request.refresh_token.family if request.refresh_token else request.authorization_code.code
        record = Token(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            client_id=request.client.client_id,
            scope=token.get("scope", ""),
            user=request.user,
            family=family,
            grant_type=request.payload.grant_type,
            expires_at=time.time() + int(token.get("expires_in", 0)),
        )
        self.store.by_access[record.access_token] = record
        if record.refresh_token:
            self.store.by_refresh[record.refresh_token] = record

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: RawRequest | OAuth2Request) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return _OAuth2Request(request)

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON endpoints on this server")

    def handle_response(self, status: int, body: Any, headers: Iterable[tuple[str, str]]) -> HttpResponse:
        data = json.dumps(body).encode() if isinstance(body, dict) else str(body or "").encode()
        return HttpResponse(status, data, list(headers))


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        user: User = request.user
        scope = request.scope or ""
        if user.granted is not None:
            scope = " ".join(s for s in scope_to_list(scope) if s in user.granted)
        store: Store = self.server.store
        store.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=scope,
            user=user,
            code_challenge=request.payload.data.get("code_challenge"),
            code_challenge_method=request.payload.data.get("code_challenge_method"),
            expires_at=time.time() + 300,
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        item: AuthorizationCode | None = self.server.store.codes.get(code)
        if item is None or item.client_id != client.client_id or item.expires_at < time.time():
            return None
        return item

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.server.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        return authorization_code.user


class _RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        store: Store = self.server.store
        token = store.by_refresh.get(refresh_token)
        if token is None:
            return None
        self.server.presented_refresh_tokens.append(refresh_token)
        if token.refresh_revoked:
            # A rotated refresh token came back: someone holds a stale copy, so end the grant.
            store.revoke_family(token.family)
            return None
        return token

    def authenticate_user(self, refresh_token: Token) -> User:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: Token) -> None:
        refresh_token.refresh_revoked = True


class _RevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        store: Store = self.server.store
        if token_type_hint == "access_token":
            return store.by_access.get(token_string) or store.by_refresh.get(token_string)
        return store.by_refresh.get(token_string) or store.by_access.get(token_string)

    def revoke_token(self, token: Token, request: OAuth2Request) -> None:
        if request.form.get("token_type_hint") == "access_token" and token.access_token == request.form["token"]:
            token.access_revoked = True
        else:  # revoking a refresh token ends the grant it belongs to (RFC 7009 section 2.1)
            self.server.store.revoke_family(token.family)


# -- the HTTP server -----------------------------------------------------------------------
class AuthlibOAuthServer(ToyServer):
    """The toy ``/items`` API behind an authorization server made of authlib's components.

    Example::

        with AuthlibOAuthServer() as server:
            callback = server.approve(authorization_url)
    """

    redirect_uri = "https://app.example.com/oauth/callback"

    def __init__(self, items: int = 25, *, access_token_ttl: int = 3600) -> None:
        super().__init__(items)
        self.store = Store()
        self.oauth = _Server(self.store, access_token_ttl)
        self.oauth.register_grant(_AuthorizationCodeGrant, [CodeChallenge(required=True)])
        self.oauth.register_grant(_RefreshTokenGrant)
        self.oauth.register_endpoint(_RevocationEndpoint)
        self.oauth_client_id = secrets.token_urlsafe(12)
        self.oauth_client_secret = secrets.token_urlsafe(32)
        self.store.clients[self.oauth_client_id] = OAuthClient(
            self.oauth_client_id, self.oauth_client_secret, [self.redirect_uri]
        )
        self.user = User("user-1")
        self._token_requests: Counter[str] = Counter()

    # -- test-facing API -------------------------------------------------------------------
    @property
    def config(self) -> dict[str, str]:
        return {
            "base_url": self.url,
            "authorize_url": f"{self.url}/oauth/authorize",
            "token_url": f"{self.url}/oauth/token",
            "revoke_url": f"{self.url}/oauth/revoke",
        }

    @property
    def token_requests(self) -> dict[str, int]:
        """Requests that reached the token endpoint, counted by ``grant_type``."""
        with self.store.lock:
            return dict(self._token_requests)

    @property
    def presented_refresh_tokens(self) -> list[str]:
        """Every known refresh token presented to the token endpoint, in order."""
        with self.store.lock:
            return list(self.oauth.presented_refresh_tokens)

    @property
    def tokens(self) -> list[Token]:
        """Every token issuance so far, oldest first."""
        with self.store.lock:
            return list(self.store.by_access.values())

    def expire_access_tokens(self) -> int:
        """Expire every live access token now; returns how many were live."""
        with self.store.lock:
            live = [t for t in self.store.by_access.values() if t.active]
            for token in live:
                token.expires_at = 0.0
            return len(live)

    def approve(self, authorization_url: str, grant_scopes: Sequence[str] | None = None, deny: bool = False) -> str:
        """Consent as the user would (over HTTP) and return the redirect URL, without following it."""
        with httpx2.Client(follow_redirects=False, timeout=5) as http:
            page = http.get(authorization_url)
            if page.status_code == 302:  # the server refused the request itself
                return str(page.headers["location"])
            if page.status_code != 200:
                raise AssertionError(f"authorization page: {page.status_code} {page.text}")
            form = {"decision": "deny" if deny else "allow"}
            if grant_scopes is not None:
                form["granted_scope"] = " ".join(grant_scopes)
            answer = http.post(authorization_url, data=form)
            if answer.status_code != 302:
                raise AssertionError(f"consent: {answer.status_code} {answer.text}")
            return str(answer.headers["location"])

    # -- the app -------------------------------------------------------------------------
    async def _raw(self, request: Request) -> RawRequest:
        body = (await request.body()).decode()
        return RawRequest(
            method=request.method,
            url=str(request.url),
            headers=request.headers,
            query=parse_qsl(request.url.query, keep_blank_values=True),
            form=parse_qsl(body, keep_blank_values=True) if request.method == "POST" else [],
        )

    @staticmethod
    def _send(response: HttpResponse) -> Response:
        return Response(response.body, status_code=response.status, headers=dict(response.headers))

    def _authorize(self, raw: RawRequest) -> Response:
        try:
            grant = self.oauth.get_consent_grant(raw, end_user=self.user)
        except OAuth2Error as error:
            return self._send(self.oauth.handle_error_response(None, error))
        if raw.method == "GET":
            scopes = ", ".join(html.escape(s) for s in scope_to_list(grant.request.scope or ""))
            return HTMLResponse(f"<form method=post><p>Allow access to: {scopes}</p><button>Allow</button></form>")
        form = dict(raw.form)
        user: User | None = None
        if form.get("decision") == "allow":
            granted = form.get("granted_scope")
            user = User(self.user.id, frozenset(granted.split()) if granted is not None else None)
        response = self.oauth.create_authorization_response(grant.request, grant_user=user, grant=grant)
        return self._send(response)

    def build_app(self) -> Any:
        api = super().build_app()

        async def authorize(request: Request) -> Response:
            raw = await self._raw(request)
            with self.store.lock:
                return self._authorize(raw)

        async def token(request: Request) -> Response:
            raw = await self._raw(request)
            with self.store.lock:
                self._token_requests[dict(raw.form).get("grant_type", "")] += 1
                return self._send(self.oauth.create_token_response(raw))

        async def revoke(request: Request) -> Response:
            raw = await self._raw(request)
            with self.store.lock:
                return self._send(self.oauth.create_endpoint_response("revocation", raw))

        oauth = Starlette(
            routes=[
                Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
                Route("/oauth/token", token, methods=["POST"]),
                Route("/oauth/revoke", revoke, methods=["POST"]),
            ]
        )

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].startswith("/oauth/"):
                await oauth(scope, receive, send)
                return
            if scope["type"] == "http":
                header = Request(scope).headers.get("authorization", "")
                bearer = header[7:] if header.lower().startswith("bearer ") else ""
                with self.store.lock:
                    found = self.store.by_access.get(bearer)
                    reason = "unknown" if found is None else None if found.active else "expired or revoked"
                if reason:
                    await JSONResponse({"error": f"token {reason}"}, status_code=401)(scope, receive, send)
                    return
            await api(scope, receive, send)

        return app
