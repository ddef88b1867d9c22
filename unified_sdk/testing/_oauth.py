"""A reusable OAuth 2 authorization server for local provider fakes, built on authlib's server.

The protocol is authlib's (:mod:`authlib.oauth2`), not ours: its authorization
server with the authorization-code grant and the RFC 7636 ``CodeChallenge``
extension (PKCE), the refresh-token grant, the RFC 7009 revocation and RFC 7662
introspection endpoints, and its client authentication, which accepts a client
only by the ``token_endpoint_auth_method`` it was registered with (RFC 7591)
and answers anything else with 401 ``invalid_client``. This module supplies
what authlib leaves to its user: in-memory, thread-safe stores of clients,
codes and tokens, and the policies real servers add on top: refresh-token
rotation with reuse detection (a retired refresh token presented again revokes
its whole token family, as does a reused authorization code) and an optional
reuse grace (``refresh_token_reuse_grace``), as Amazon Cognito
(``RetryGracePeriodSeconds``, up to 60 s), Ory Hydra, Curity and WSO2 offer:
within it the previous refresh token is accepted again as long as the token it
was rotated into is unused, so a client whose refresh answer was lost (a
timeout after the server rotated) can still recover.

:class:`AuthorizationServer` is the typed facade, with no HTTP;
:func:`oauth_routes` mounts it as starlette routes. Each fake shapes the
responses to its provider through two hooks: ``token_response`` (add fields
such as Salesforce's ``instance_url``, or drop ``expires_in``) and
``error_response`` (for providers whose token errors are not RFC 6749 JSON).

Example::

    auth = AuthorizationServer(scopes={"deals:read", "deals:write"})
    client = auth.register_client()
    app = Starlette(routes=[*oauth_routes(auth), ...])
    # in a test: the user consents, the app receives the callback
    callback = auth.approve(authorization_url)
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749 import AuthorizationServer as _AuthlibServer
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

if TYPE_CHECKING:
    from starlette.routing import Route

__all__ = [
    "AuthorizationRequest",
    "AuthorizationServer",
    "ErrorResponseHook",
    "OAuthClient",
    "OAuthError",
    "TokenInfo",
    "TokenResponseHook",
    "TokenStatus",
    "oauth_routes",
    "pkce_challenge",
]

# authlib tries them in this order; the client model accepts only the one it registered.
_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class OAuthError(Exception):
    """An OAuth 2 protocol error (RFC 6749 sections 4.1.2.1 and 5.2).

    ``redirect_uri`` is set when the error is delivered to the client by
    redirecting the browser (authorization endpoint); otherwise it is
    answered directly with ``status``.
    """

    def __init__(
        self,
        error: str,
        description: str | None = None,
        *,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
        redirect_uri: str | None = None,
        state: str | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})
        self.redirect_uri = redirect_uri
        self.state = state

    @classmethod
    def _from_authlib(cls, exc: Any) -> OAuthError:
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "www-authenticate"}
        return cls(
            exc.error,
            exc.get_error_description() or None,
            status=exc.status_code,
            headers=headers,
            redirect_uri=exc.redirect_uri,
            state=exc.state,
        )

    def body(self) -> dict[str, str]:
        """The RFC 6749 JSON error body."""
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body

    def redirect_url(self) -> str:
        """The callback URL carrying this error (only for redirectable errors)."""
        if self.redirect_uri is None:
            raise ValueError("this error is not delivered by redirect")
        params = self.body()
        if self.state is not None:
            params["state"] = self.state
        return _with_query(self.redirect_uri, params)


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """A registered OAuth client. ``client_secret`` is ``None`` for a public client (PKCE only).

    An empty ``redirect_uris`` accepts any absolute http(s) redirect URI,
    which is what tests usually want.
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    redirect_uris: tuple[str, ...] = ()
    token_endpoint_auth_method: str = "client_secret_post"
    """The one way this client authenticates: ``client_secret_post``, ``client_secret_basic`` or ``none``."""

    @property
    def public(self) -> bool:
        return self.client_secret is None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What an issued access token stands for; given to hooks and to the API side."""

    client_id: str
    scopes: tuple[str, ...]
    subject: str
    family_id: str
    grant_type: str
    issued_at: float
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """The result of checking an access token presented to an API.

    ``reason`` is ``None`` when active, else ``unknown``, ``expired`` or ``revoked``.
    """

    active: bool
    reason: str | None = None
    info: TokenInfo | None = None


TokenResponseHook = Callable[[dict[str, Any], TokenInfo], dict[str, Any]]
"""Reshapes a successful token response: ``(body, info) -> body``."""

ErrorResponseHook = Callable[[OAuthError, str], "tuple[int, Any] | None"]
"""Reshapes an error of an endpoint (``token``, ``revoke``, ``introspect``):
``(error, endpoint) -> (status, json_body)``, or ``None`` for the RFC 6749 default."""


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request (``grant`` is authlib's grant that validated it)."""

    client: OAuthClient
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    grant: Any = field(repr=False, compare=False)


def pkce_challenge(verifier: str, method: str = "S256") -> str:
    """The PKCE code challenge of ``verifier`` (RFC 7636 section 4.2)."""
    return verifier if method == "plain" else str(create_s256_code_challenge(verifier))


# -- authlib's models, in memory ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _User:
    subject: str
    granted: frozenset[str] | None = None
    """The scopes the user ticked on the consent page (``None``: all requested)."""


class _Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, client: OAuthClient, server: AuthorizationServer) -> None:
        self.client, self.server = client, server
        self.client_id = client.client_id

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.client.redirect_uris[0] if len(self.client.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(self.server.default_scopes) if scope is None else scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if self.client.redirect_uris:
            return redirect_uri in self.client.redirect_uris
        parts = urlsplit(redirect_uri)
        return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment

    def check_client_secret(self, client_secret: str) -> bool:
        secret = self.client.client_secret
        return secret is not None and secrets.compare_digest(client_secret.encode(), secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # As real servers do: a client authenticates only the way it was registered, at every endpoint.
        return bool(method == self.client.token_endpoint_auth_method)

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code" or (
            grant_type == "refresh_token" and self.server.issue_refresh_tokens
        )


@dataclass(slots=True)
class _Family:
    """Every token issued from one authorization code, through all its refreshes."""

    id: str
    tokens: list[_Token] = field(default_factory=list)
    revoked: bool = False


@dataclass(slots=True)
class _Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str | None
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    subject: str
    expires_at: float
    used: bool = False
    family: _Family | None = None

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return " ".join(self.scopes)


@dataclass(slots=True)
class _Token(TokenMixin):  # type: ignore[misc]
    """An access or a refresh token. A refresh token's ``info`` holds the scopes of the whole grant
    (a narrowed refresh does not narrow the refresh token, RFC 6749 section 6) and its own expiry."""

    kind: str
    info: TokenInfo
    family: _Family = field(repr=False)
    clock: Callable[[], float] = field(repr=False)
    revoked: bool = False
    rotated: bool = False
    rotated_at: float | None = None
    successor: _Token | None = field(default=None, repr=False)

    def check_client(self, client: _Client) -> bool:
        return self.info.client_id == client.client_id

    def get_scope(self) -> str:
        return " ".join(self.info.scopes)

    def is_expired(self) -> bool:
        return self.info.expires_at is not None and self.clock() >= self.info.expires_at

    def is_revoked(self) -> bool:
        return self.revoked or self.rotated


class _Request(OAuth2Request):  # type: ignore[misc]
    """Request parameters (query or form, already parsed) and the ``Authorization`` header, for authlib."""

    def __init__(self, method: str, params: Mapping[str, str], authorization: str | None = None) -> None:
        # authlib only checks that the URI is https; the fakes serve plain HTTP on loopback.
        super().__init__(method, "https://authorization-server.test/", headers={})
        if authorization is not None:
            self.headers["Authorization"] = authorization
        self._params = dict(params)
        self.payload = BasicOAuth2Payload(self._params)

    @property
    def args(self) -> dict[str, str]:
        return self._params

    @property
    def form(self) -> dict[str, str]:
        return self._params


# -- authlib's grants and endpoints, completed with the stores and policies above ----------------------


class _CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _AUTH_METHODS
    server: _Server

    def validate_requested_scope(self) -> None:
        self.server.validate_requested_scope(" ".join(self.server.owner._requested_scopes(self.request)))

    def generate_authorization_code(self) -> str:
        return self.server.owner._new_token("code")

    def save_authorization_code(self, code: str, request: _Request) -> None:
        owner = self.server.owner
        user: _User = request.user
        scopes = owner._requested_scopes(request)
        if user.granted is not None:
            scopes = tuple(s for s in scopes if s in user.granted)
        owner._codes[code] = _Code(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scopes=scopes,
            code_challenge=request.payload.data.get("code_challenge"),
            code_challenge_method=request.payload.data.get("code_challenge_method"),
            subject=user.subject,
            expires_at=owner.clock() + owner.code_ttl,
        )

    def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
        owner = self.server.owner
        item = owner._codes.get(code)
        if item is None or item.client_id != client.client_id:
            return None
        if item.used:
            if item.family is not None:  # RFC 6749 section 4.1.2: revoke what the code gave
                owner._revoke_family(item.family)
            return None
        return item if owner.clock() < item.expires_at else None

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        authorization_code.used = True  # kept, to recognise a reuse

    def authenticate_user(self, authorization_code: _Code) -> _User:
        return _User(authorization_code.subject)


class _RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _AUTH_METHODS
    server: _Server

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:
        return self.server.owner.rotate_refresh_tokens

    def authenticate_refresh_token(self, refresh_token: str) -> _Token:
        owner = self.server.owner
        record = owner._refresh.get(refresh_token)
        if record is None:
            raise InvalidGrantError("unknown refresh token")
        if record.info.client_id != self.request.client.client_id:
            raise InvalidGrantError("refresh token was issued to another client")
        if record.revoked:
            raise InvalidGrantError("refresh token revoked")
        now = owner.clock()
        if record.rotated:
            rotated_at = record.rotated_at if record.rotated_at is not None else now
            successor = record.successor
            if now - rotated_at >= owner.refresh_token_reuse_grace or (successor is not None and successor.rotated):
                owner._revoke_family(record.family)
                raise InvalidGrantError("refresh token already used; the token family is revoked")
            # Within the grace period and its successor unused: the answer to the first use was
            # probably lost, so the successor is retired and this request is served again.
            if successor is not None:
                successor.revoked = True
        if record.is_expired():
            raise InvalidGrantError("refresh token expired")
        return record

    def authenticate_user(self, refresh_token: _Token) -> _User:
        return _User(refresh_token.info.subject)

    def revoke_old_credential(self, refresh_token: _Token) -> None:
        if self.server.owner.rotate_refresh_tokens and not refresh_token.rotated:
            refresh_token.rotated, refresh_token.rotated_at = True, self.server.owner.clock()


class _PKCE(CodeChallenge):  # type: ignore[misc]
    """authlib's PKCE, plus the server's policy: required for every client or only public ones, ``plain`` or not."""

    def __init__(self, owner: AuthorizationServer) -> None:
        super().__init__(required=True)
        self.owner = owner

    def validate_code_challenge(self, grant: _CodeGrant, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            if self.owner.require_pkce or grant.request.client.client.public:
                raise InvalidRequestError("Missing 'code_challenge'")
        elif not self.owner.allow_plain_pkce and data.get("code_challenge_method", "plain") == "plain":
            raise InvalidRequestError("Unsupported 'code_challenge_method'")


class _Lookup:
    CLIENT_AUTH_METHODS = _AUTH_METHODS
    server: _Server

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        owner = self.server.owner
        first, second = (owner._access, owner._refresh)[:: -1 if token_type_hint == "refresh_token" else 1]
        return first.get(token_string) or second.get(token_string)


class _Revocation(_Lookup, RevocationEndpoint):  # type: ignore[misc]
    def revoke_token(self, token: _Token, request: _Request) -> None:
        if token.kind == "refresh":  # a refresh token takes its whole grant with it (RFC 7009 section 2.1)
            self.server.owner._revoke_family(token.family)
        else:
            token.revoked = True


class _Introspection(_Lookup, IntrospectionEndpoint):  # type: ignore[misc]
    def check_permission(self, token: _Token, client: _Client, request: _Request) -> bool:
        return bool(token.check_client(client))

    def introspect_token(self, token: _Token) -> dict[str, Any]:
        info = token.info
        out: dict[str, Any] = {
            "active": True,
            "scope": " ".join(info.scopes),
            "client_id": info.client_id,
            "token_type": "Bearer" if token.kind == "access" else "refresh_token",
            "sub": info.subject,
            "iat": int(info.issued_at),
        }
        if info.expires_at is not None:
            out["exp"] = int(info.expires_at)
        return out


class _TokenBody(dict[str, Any]):
    """A token response whose repr hides the tokens: authlib's grants log what they issue at debug level."""

    def __repr__(self) -> str:
        return f"<token response: {', '.join(self)}>"


class _Server(_AuthlibServer):  # type: ignore[misc]
    """authlib's authorization server over the stores of ``owner``; always called under its lock."""

    def __init__(self, owner: AuthorizationServer) -> None:
        super().__init__(scopes_supported=sorted(owner.scopes) if owner.scopes is not None else None)
        self.owner = owner
        ttl = owner.access_token_ttl
        bearer = BearerTokenGenerator(
            access_token_generator=lambda **_: owner._new_token("access"),
            refresh_token_generator=lambda **_: owner._new_token("refresh"),
            expires_generator=lambda client, grant_type: round(ttl) if ttl is not None else 0,
        )
        self.register_token_generator("default", lambda **kwargs: _TokenBody(bearer(**kwargs)))
        self.register_grant(_CodeGrant, [_PKCE(owner)])
        self.register_grant(_RefreshGrant)
        self.revocation, self.introspection = _Revocation(self), _Introspection(self)

    def query_client(self, client_id: str) -> _Client | None:
        client = self.owner._clients.get(client_id)
        return _Client(client, self.owner) if client is not None else None

    def authenticate_client(self, request: _Request, methods: list[str], endpoint: str = "token") -> _Client:
        basic = request.headers.get("Authorization", "")[:6].lower() == "basic "
        if basic and "client_secret" in request.form:
            raise InvalidRequestError("Use only one client authentication method.")  # RFC 6749 section 2.3
        try:
            authenticated: _Client = super().authenticate_client(request, methods, endpoint)
            return authenticated
        except InvalidClientError as exc:
            # authlib's description names every method it tried; say which one this client must use.
            used = (
                "client_secret_basic" if basic else "client_secret_post" if "client_secret" in request.form else "none"
            )
            client_id = extract_basic_authorization(request.headers)[0] if basic else request.form.get("client_id")
            client = self.owner._clients.get(client_id or "")
            if client is not None and client.token_endpoint_auth_method != used:
                exc.description = f"This client is registered for {client.token_endpoint_auth_method}, not {used}."
            raise

    def save_token(self, token: Mapping[str, Any], request: _Request) -> None:
        owner, now = self.owner, self.owner.clock()
        old: _Token | None = request.refresh_token
        if old is not None:
            family, subject, grant_scopes, grant_type = old.family, old.info.subject, old.info.scopes, "refresh_token"
        else:
            code: _Code = request.authorization_code
            family = code.family = _Family(f"fam_{secrets.token_hex(8)}")
            subject, grant_scopes, grant_type = code.subject, code.scopes, "authorization_code"
        scopes = tuple(scope_to_list(token.get("scope")) or ())
        ttl, rttl = owner.access_token_ttl, owner.refresh_token_ttl
        info = TokenInfo(request.client.client_id, scopes, subject, family.id, grant_type, now, None)
        issued = [("access", token["access_token"], replace(info, expires_at=now + ttl if ttl is not None else None))]
        if "refresh_token" in token:
            rinfo = replace(info, scopes=grant_scopes, expires_at=now + rttl if rttl is not None else None)
            issued.append(("refresh", token["refresh_token"], rinfo))
        for kind, value, item_info in issued:
            item = _Token(kind, item_info, family, owner.clock)
            family.tokens.append(item)
            (owner._access if kind == "access" else owner._refresh)[value] = item
            if kind == "refresh" and old is not None:
                old.successor = item

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request


class AuthorizationServer:
    """An OAuth 2 authorization server's state and rules, without HTTP (the protocol is authlib's).

    Every method is thread-safe: tests call :meth:`approve` and
    :meth:`expire_access_tokens` from their own thread while the fake serves
    requests in another.

    Options:

    - ``scopes``: the scopes it knows (``None``: any); unknown ones are ``invalid_scope``.
    - ``default_scopes``: granted when a request names none.
    - ``access_token_ttl`` (seconds; ``None``: never expire), ``refresh_token_ttl``, ``code_ttl``.
    - ``rotate_refresh_tokens``: a refresh issues a new refresh token and retires the old one;
      presenting a retired one again revokes the whole token family. Without rotation the
      refresh answer repeats the refresh token the client sent.
    - ``refresh_token_reuse_grace`` (seconds, default 0): for this long after a rotation the
      retired refresh token is still accepted while the refresh token it was rotated into is
      unused (that one is retired instead); after it, or once the successor was used, reuse
      revokes the family as above.
    - ``require_pkce``: every authorization request must carry a code challenge
      (always so for public clients); ``allow_plain_pkce`` accepts method ``plain``.
    - ``client_auth_methods``: the client authentication methods clients may register with;
      each client then must use the one it registered (:meth:`register_client`).
    - ``optional_scope_param``: a query parameter with extra scopes the user may grant
      (e.g. HubSpot's ``optional_scope``).
    - ``token_response``/``error_response``: hooks that reshape responses per provider.
    - ``clock``: the time source (tests may pass a controllable one).
    """

    def __init__(
        self,
        *,
        scopes: Iterable[str] | None = None,
        default_scopes: Sequence[str] = (),
        access_token_ttl: float | None = 3600,
        refresh_token_ttl: float | None = None,
        code_ttl: float = 60,
        rotate_refresh_tokens: bool = True,
        refresh_token_reuse_grace: float = 0.0,
        issue_refresh_tokens: bool = True,
        require_pkce: bool = False,
        allow_plain_pkce: bool = True,
        client_auth_methods: Iterable[str] = ("client_secret_post", "client_secret_basic"),
        optional_scope_param: str | None = None,
        subject: str = "user_1",
        token_prefix: str = "",
        token_response: TokenResponseHook | None = None,
        error_response: ErrorResponseHook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scopes: frozenset[str] | None = frozenset(scopes) if scopes is not None else None
        self.default_scopes = tuple(default_scopes)
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.code_ttl = code_ttl
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.refresh_token_reuse_grace = refresh_token_reuse_grace
        self.issue_refresh_tokens = issue_refresh_tokens
        self.require_pkce = require_pkce
        self.allow_plain_pkce = allow_plain_pkce
        self.client_auth_methods = frozenset(client_auth_methods)
        self.optional_scope_param = optional_scope_param
        self.subject = subject
        self.token_prefix = token_prefix
        self.token_response = token_response
        self.error_response = error_response
        self.clock = clock
        self._lock = threading.RLock()
        self._clients: dict[str, OAuthClient] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, _Token] = {}
        self._counts: Counter[str] = Counter()
        self._server = _Server(self)

    # -- clients ----------------------------------------------------------------------
    def register_client(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        redirect_uris: Iterable[str] = (),
        public: bool = False,
        token_endpoint_auth_method: str | None = None,
    ) -> OAuthClient:
        """Register a client; id and secret are generated unless given.

        ``token_endpoint_auth_method`` is the only client authentication the server
        will accept from it: ``client_secret_post`` (the default for a confidential
        client), ``client_secret_basic``, or ``none`` (a public client).
        """
        method = token_endpoint_auth_method or ("none" if public else "client_secret_post")
        if (method == "none") != public or (method != "none" and method not in self.client_auth_methods):
            raise ValueError(f"cannot register a {'public' if public else 'confidential'} client with {method!r}")
        client = OAuthClient(
            client_id=client_id or f"client_{secrets.token_hex(8)}",
            client_secret=None if public else (client_secret or f"secret_{secrets.token_urlsafe(24)}"),
            redirect_uris=tuple(redirect_uris),
            token_endpoint_auth_method=method,
        )
        with self._lock:
            self._clients[client.client_id] = client
        return client

    def client(self, client_id: str) -> OAuthClient | None:
        with self._lock:
            return self._clients.get(client_id)

    # -- authorization endpoint ---------------------------------------------------------
    def validate_authorization_request(self, params: Mapping[str, str]) -> AuthorizationRequest:
        """Check an authorization request; raise :class:`OAuthError` when it is invalid.

        Errors about the client or redirect URI are not redirectable (RFC 6749
        section 4.1.2.1); the others carry the redirect URI and state.
        """
        with self._lock:
            try:
                grant = self._server.get_consent_grant(_Request("GET", params), end_user=None)
            except OAuth2Error as exc:
                raise OAuthError._from_authlib(exc) from None
            request = grant.request
            return AuthorizationRequest(
                request.client.client, grant.redirect_uri, request.payload.state, self._requested_scopes(request), grant
            )

    def authorize(
        self,
        params: Mapping[str, str],
        *,
        approve: bool = True,
        grant_scopes: Iterable[str] | None = None,
        subject: str | None = None,
    ) -> str:
        """Decide an authorization request as the user would; return the callback URL.

        ``grant_scopes`` narrows the grant to a subset of the requested scopes
        (``None``: all of them); ``approve=False`` denies (``access_denied``).
        Raises :class:`OAuthError` for a request that cannot be redirected.
        """
        try:
            request = self.validate_authorization_request(params)
        except OAuthError as exc:
            if exc.redirect_uri is not None:
                return exc.redirect_url()
            raise
        granted = frozenset(grant_scopes) if grant_scopes is not None else None
        user = _User(subject or self.subject, granted) if approve else None
        with self._lock:
            try:
                _status, _body, headers = request.grant.create_authorization_response(request.redirect_uri, user)
            except OAuth2Error as exc:
                exc.state = request.state
                return OAuthError._from_authlib(exc).redirect_url()
        return str(dict(headers)["Location"])

    def approve(
        self,
        authorization_url: str,
        grant_scopes: Iterable[str] | None = None,
        *,
        deny: bool = False,
        subject: str | None = None,
    ) -> str:
        """Consent to ``authorization_url`` as a user would; return the redirect (callback) URL.

        The URL is not followed. ``grant_scopes`` grants only some of the
        requested scopes; ``deny=True`` refuses (``error=access_denied``).
        """
        params = _single_params(parse_qsl(urlsplit(authorization_url).query, keep_blank_values=True))
        return self.authorize(params, approve=not deny, grant_scopes=grant_scopes, subject=subject)

    # -- token, revocation (RFC 7009) and introspection (RFC 7662) endpoints ---------------------
    def token(self, params: Mapping[str, str], *, authorization: str | None = None) -> dict[str, Any]:
        """Handle a token request (form parameters, ``Authorization`` header); return the JSON body."""
        grant_type = params.get("grant_type")
        with self._lock:
            self._counts[grant_type or "<missing>"] += 1
            request = _Request("POST", params, authorization)
            try:
                if not grant_type:
                    raise InvalidRequestError("Missing 'grant_type' in request.")
                grant = self._server.get_token_grant(request)
                grant.validate_token_request()
                _status, token, _headers = grant.create_token_response()
            except OAuth2Error as exc:
                raise OAuthError._from_authlib(exc) from None
            body = dict(token)
            if grant_type == "refresh_token" and "refresh_token" not in body:
                body["refresh_token"] = params["refresh_token"]
            info = self._access[body["access_token"]].info
        hook = self.token_response
        return hook(body, info) if hook is not None else body

    def revoke(self, params: Mapping[str, str], *, authorization: str | None = None) -> None:
        """Revoke a token. A refresh token takes its whole family with it; unknown tokens are ignored."""
        self._endpoint(self._server.revocation, params, authorization)

    def introspect(self, params: Mapping[str, str], *, authorization: str | None = None) -> dict[str, Any]:
        """Describe a token (RFC 7662); ``{"active": false}`` for anything not currently valid."""
        return self._endpoint(self._server.introspection, params, authorization)

    def _endpoint(self, endpoint: Any, params: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
        with self._lock:
            try:
                _status, body, _headers = endpoint.create_endpoint_response(_Request("POST", params, authorization))
            except OAuth2Error as exc:
                raise OAuthError._from_authlib(exc) from None
            return dict(body)

    # -- the API side ------------------------------------------------------------------------
    def check_access_token(self, token: str) -> TokenStatus:
        """Whether an access token presented to the API is valid, and what it grants."""
        with self._lock:
            access = self._access.get(token)
            if access is None:
                return TokenStatus(False, "unknown")
            if access.revoked:
                return TokenStatus(False, "revoked", access.info)
            if access.is_expired():
                return TokenStatus(False, "expired", access.info)
            return TokenStatus(True, None, access.info)

    def expire_access_tokens(self) -> int:
        """Make every live access token expired now (refresh tokens stay valid); return how many."""
        with self._lock:
            past = self.clock() - 1
            live = [a for a in self._access.values() if a.info.expires_at is None or a.info.expires_at > past]
            for access in live:
                access.info = replace(access.info, expires_at=past)
            return len(live)

    def revoke_all(self) -> None:
        """Revoke every token family (e.g. the user uninstalled the app)."""
        with self._lock:
            for token in self._access.values():
                self._revoke_family(token.family)

    @property
    def token_requests(self) -> dict[str, int]:
        """Token requests so far, by ``grant_type``; failed grants count, unparsable bodies do not."""
        with self._lock:
            return dict(self._counts)

    def reset_token_requests(self) -> None:
        with self._lock:
            self._counts.clear()

    # -- helpers -----------------------------------------------------------------------------
    def _revoke_family(self, family: _Family) -> None:
        family.revoked = True
        for token in family.tokens:
            token.revoked = True

    def _requested_scopes(self, request: _Request) -> tuple[str, ...]:
        """The requested scopes (or the defaults), plus any in ``optional_scope_param``."""
        scope = request.scope
        requested = list(scope_to_list(scope) or ()) if scope is not None else list(self.default_scopes)
        if self.optional_scope_param:
            requested += scope_to_list(request.payload.data.get(self.optional_scope_param)) or []
        return tuple(dict.fromkeys(requested))

    def _new_token(self, kind: str) -> str:
        short = {"access": "at", "refresh": "rt", "code": "ac"}[kind]
        return f"{self.token_prefix}{short}_{secrets.token_urlsafe(32)}"


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _single_params(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request parameters as a dict; a repeated parameter is ``invalid_request`` (RFC 6749 section 3.1)."""
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise OAuthError("invalid_request", f"parameter {key!r} is repeated")
        out[key] = value
    return out


# -- HTTP (starlette) ------------------------------------------------------------------------------


def oauth_routes(
    server: AuthorizationServer,
    *,
    authorize_path: str = "/oauth/authorize",
    token_path: str = "/oauth/token",
    revoke_path: str | None = "/oauth/revoke",
    introspect_path: str | None = "/oauth/introspect",
    auto_approve_param: str = "auto_approve",
    title: str = "Authorize access",
) -> list[Route]:
    """Starlette routes serving ``server``'s endpoints.

    ``GET authorize_path`` shows a minimal consent page (a form with a
    checkbox per requested scope, *Allow* and *Deny*), or, when the query
    carries ``auto_approve=1``, approves at once and redirects to the callback.
    Pass ``None`` for an endpoint the provider does not have.
    """
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}

    def error_page(exc: OAuthError) -> Response:
        text = html.escape(str(exc))
        page = f"<!DOCTYPE html><html><body><h1>Authorization error</h1><p>{text}</p></body></html>"
        return HTMLResponse(page, status_code=exc.status if exc.status != 401 else 400)

    def error_json(exc: OAuthError, endpoint: str) -> Response:
        shaped = server.error_response(exc, endpoint) if server.error_response else None
        status, body = shaped if shaped is not None else (exc.status, exc.body())
        return JSONResponse(body, status_code=status, headers={**no_store, **exc.headers})

    async def form(request: Request) -> dict[str, str]:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
        body = (await request.body()).decode("utf-8", errors="replace")
        return _single_params(parse_qsl(body, keep_blank_values=True))

    async def authorize_get(request: Request) -> Response:
        try:
            params = _single_params(request.query_params.multi_items())
            if params.pop(auto_approve_param, "").lower() in ("1", "true", "yes"):
                return RedirectResponse(server.authorize(params), status_code=302)
            auth = server.validate_authorization_request(params)
        except OAuthError as exc:
            if exc.redirect_uri is not None:
                return RedirectResponse(exc.redirect_url(), status_code=302)
            return error_page(exc)
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
        )
        boxes = "".join(
            f'<label><input type="checkbox" name="grant_scope" value="{html.escape(s)}" checked> '
            f"{html.escape(s)}</label><br>"
            for s in auth.scopes
        )
        page = (
            f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(auth.client.client_id)} asks for access:</p>"
            f'<form method="post" action="{html.escape(authorize_path)}">{hidden}{boxes}'
            '<button type="submit" name="decision" value="allow">Allow</button> '
            '<button type="submit" name="decision" value="deny">Deny</button></form></body></html>'
        )
        return HTMLResponse(page)

    async def authorize_post(request: Request) -> Response:
        try:
            body = (await request.body()).decode("utf-8", errors="replace")
            pairs = parse_qsl(body, keep_blank_values=True)
            granted = [v for k, v in pairs if k == "grant_scope"]
            params = _single_params((k, v) for k, v in pairs if k != "grant_scope")
            decision = params.pop("decision", "deny")
            params.pop(auto_approve_param, None)
            url = server.authorize(params, approve=decision == "allow", grant_scopes=granted)
        except OAuthError as exc:
            return error_page(exc)
        return RedirectResponse(url, status_code=302)

    async def token(request: Request) -> Response:
        try:
            body = server.token(await form(request), authorization=request.headers.get("authorization"))
        except OAuthError as exc:
            return error_json(exc, "token")
        return JSONResponse(body, headers=no_store)

    async def revoke(request: Request) -> Response:
        try:
            server.revoke(await form(request), authorization=request.headers.get("authorization"))
        except OAuthError as exc:
            return error_json(exc, "revoke")
        return Response(status_code=200, headers=no_store)

    async def introspect(request: Request) -> Response:
        try:
            body = server.introspect(await form(request), authorization=request.headers.get("authorization"))
        except OAuthError as exc:
            return error_json(exc, "introspect")
        return JSONResponse(body, headers=no_store)

    routes = [
        Route(authorize_path, authorize_get, methods=["GET"]),
        Route(authorize_path, authorize_post, methods=["POST"]),
        Route(token_path, token, methods=["POST"]),
    ]
    if revoke_path:
        routes.append(Route(revoke_path, revoke, methods=["POST"]))
    if introspect_path:
        routes.append(Route(introspect_path, introspect, methods=["POST"]))
    return routes
