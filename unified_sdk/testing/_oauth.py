"""A reusable OAuth 2 authorization server for local provider fakes.

:class:`AuthorizationServer` is the protocol core, pure Python with no HTTP:
clients, authorization codes, access and refresh tokens. It follows RFC 6749
(authorization code and refresh token grants, client authentication with
``client_secret_post``, ``client_secret_basic`` or ``none``), RFC 7636 (PKCE, ``S256``
and ``plain``), RFC 7009 (revocation) and RFC 7662 (introspection), plus the
current best practice of refresh-token rotation with reuse detection: a
refresh token presented again after it was rotated revokes its whole token
family, as does a reused authorization code.

Like a real server it is strict about client authentication: each client is
registered with one ``token_endpoint_auth_method`` (RFC 7591) and a token,
revocation or introspection request authenticated any other way is answered
401 ``invalid_client``. Rotation may have a reuse grace period
(``refresh_token_reuse_grace``), as Amazon Cognito (``RetryGracePeriodSeconds``,
up to 60 s), Ory Hydra, Curity and WSO2 offer: within it the previous refresh
token is accepted again as long as the token it was rotated into is unused, so
a client whose refresh answer was lost (a timeout after the server rotated)
can still recover.

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

import base64
import hashlib
import html
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

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

_PKCE_CHARS = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


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


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    redirect_uri_sent: bool
    scopes: tuple[str, ...]
    challenge: str | None
    method: str | None
    subject: str
    expires_at: float
    used: bool = False
    family_id: str | None = None


@dataclass(slots=True)
class _Access:
    info: TokenInfo
    revoked: bool = False


@dataclass(slots=True)
class _Refresh:
    client_id: str
    scopes: tuple[str, ...]
    subject: str
    family_id: str
    issued_at: float
    expires_at: float | None
    rotated: bool = False
    revoked: bool = False
    rotated_at: float | None = None
    successor: str | None = None


@dataclass(slots=True)
class _Family:
    client_id: str
    access: set[str] = field(default_factory=set)
    refresh: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request."""

    client: OAuthClient
    redirect_uri: str
    redirect_uri_sent: bool
    state: str | None
    scopes: tuple[str, ...]
    challenge: str | None
    method: str | None


def pkce_challenge(verifier: str, method: str = "S256") -> str:
    """The PKCE code challenge of ``verifier`` (RFC 7636 section 4.2)."""
    if method == "plain":
        return verifier
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AuthorizationServer:
    """An OAuth 2 authorization server's state and rules, without HTTP.

    Every method is thread-safe: tests call :meth:`approve` and
    :meth:`expire_access_tokens` from their own thread while the fake serves
    requests in another.

    Options:

    - ``scopes``: the scopes it knows (``None``: any); unknown ones are ``invalid_scope``.
    - ``default_scopes``: granted when a request names none.
    - ``access_token_ttl`` (seconds; ``None``: never expire), ``refresh_token_ttl``, ``code_ttl``.
    - ``rotate_refresh_tokens``: a refresh issues a new refresh token and retires the old one;
      presenting a retired one again revokes the whole token family.
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
        scope_separator: str = " ",
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
        self.scope_separator = scope_separator
        self.subject = subject
        self.token_prefix = token_prefix
        self.token_response = token_response
        self.error_response = error_response
        self.clock = clock
        self._lock = threading.RLock()
        self._clients: dict[str, OAuthClient] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._families: dict[str, _Family] = {}
        self._counts: Counter[str] = Counter()

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
        client_id = params.get("client_id")
        if not client_id:
            raise OAuthError("invalid_request", "client_id is missing")
        client = self.client(client_id)
        if client is None:
            raise OAuthError("invalid_client", "unknown client_id", status=401)
        sent = params.get("redirect_uri")
        if sent:
            if client.redirect_uris and sent not in client.redirect_uris:
                raise OAuthError("invalid_request", "redirect_uri is not registered for this client")
            if urlsplit(sent).scheme not in ("http", "https") or urlsplit(sent).fragment:
                raise OAuthError("invalid_request", "redirect_uri must be an absolute http(s) URL")
            redirect_uri = sent
        elif len(client.redirect_uris) == 1:
            redirect_uri = client.redirect_uris[0]
        else:
            raise OAuthError("invalid_request", "redirect_uri is missing")
        state = params.get("state")

        def fail(error: str, description: str) -> OAuthError:
            return OAuthError(error, description, redirect_uri=redirect_uri, state=state)

        if params.get("response_type") != "code":
            raise fail("unsupported_response_type", "only response_type=code is supported")
        requested = self._split(params.get("scope")) or list(self.default_scopes)
        if self.optional_scope_param:
            requested += [s for s in self._split(params.get(self.optional_scope_param)) if s not in requested]
        if self.scopes is not None:
            unknown = [s for s in requested if s not in self.scopes]
            if unknown:
                raise fail("invalid_scope", f"unknown scope: {' '.join(unknown)}")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method") or ("plain" if challenge else None)
        if challenge is None:
            if params.get("code_challenge_method"):
                raise fail("invalid_request", "code_challenge_method without code_challenge")
            if self.require_pkce or client.public:
                raise fail("invalid_request", "code_challenge is required (PKCE)")
        else:
            if method not in ("S256", "plain") or (method == "plain" and not self.allow_plain_pkce):
                raise fail("invalid_request", f"unsupported code_challenge_method {method!r}")
            if not _PKCE_CHARS.match(challenge):
                raise fail("invalid_request", "code_challenge must be 43-128 unreserved characters")
        return AuthorizationRequest(
            client, redirect_uri, bool(sent), state, tuple(dict.fromkeys(requested)), challenge, method
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
        if not approve:
            return OAuthError(
                "access_denied",
                "the user denied the request",
                redirect_uri=request.redirect_uri,
                state=request.state,
            ).redirect_url()
        scopes = request.scopes
        if grant_scopes is not None:
            allowed = set(grant_scopes)
            scopes = tuple(s for s in scopes if s in allowed)
        code = self._new_token("code")
        with self._lock:
            self._codes[code] = _Code(
                client_id=request.client.client_id,
                redirect_uri=request.redirect_uri,
                redirect_uri_sent=request.redirect_uri_sent,
                scopes=scopes,
                challenge=request.challenge,
                method=request.method,
                subject=subject or self.subject,
                expires_at=self.clock() + self.code_ttl,
            )
        out = {"code": code}
        if request.state is not None:
            out["state"] = request.state
        return _with_query(request.redirect_uri, out)

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

    # -- token endpoint -------------------------------------------------------------------
    def token(self, params: Mapping[str, str], *, authorization: str | None = None) -> dict[str, Any]:
        """Handle a token request (form parameters, ``Authorization`` header); return the JSON body."""
        grant_type = params.get("grant_type")
        with self._lock:
            self._counts[grant_type or "<missing>"] += 1
        client = self._authenticate(params, authorization)
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is missing")
        if grant_type == "authorization_code":
            info, refresh = self._grant_code(client, params)
        elif grant_type == "refresh_token":
            info, refresh = self._grant_refresh(client, params)
        else:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        access = self._issue_access(info)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer"}
        if info.expires_at is not None:
            body["expires_in"] = max(round(info.expires_at - info.issued_at), 0)
        if refresh is not None:
            body["refresh_token"] = refresh
        body["scope"] = self.scope_separator.join(info.scopes)
        hook = self.token_response
        return hook(body, info) if hook is not None else body

    def _grant_code(self, client: OAuthClient, params: Mapping[str, str]) -> tuple[TokenInfo, str | None]:
        code_value = params.get("code")
        if not code_value:
            raise OAuthError("invalid_request", "code is missing")
        with self._lock:
            code = self._codes.get(code_value)
            if code is None:
                raise OAuthError("invalid_grant", "unknown authorization code")
            if code.used:
                if code.family_id is not None:
                    self._revoke_family(code.family_id)
                raise OAuthError("invalid_grant", "authorization code already used; its tokens are revoked")
            code.used = True
            if self.clock() >= code.expires_at:
                raise OAuthError("invalid_grant", "authorization code expired")
            if code.client_id != client.client_id:
                raise OAuthError("invalid_grant", "authorization code was issued to another client")
            sent = params.get("redirect_uri")
            if (code.redirect_uri_sent or sent is not None) and sent != code.redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
            verifier = params.get("code_verifier")
            if code.challenge is not None:
                if not verifier:
                    raise OAuthError("invalid_grant", "code_verifier is required (PKCE)")
                if not _PKCE_CHARS.match(verifier) or not secrets.compare_digest(
                    pkce_challenge(verifier, code.method or "plain"), code.challenge
                ):
                    raise OAuthError("invalid_grant", "code_verifier does not match the code challenge")
            elif verifier:
                raise OAuthError("invalid_grant", "code_verifier sent but the authorization had no challenge")
            family_id = f"fam_{secrets.token_hex(8)}"
            code.family_id = family_id
            self._families[family_id] = _Family(client.client_id)
            now = self.clock()
            info = TokenInfo(
                client.client_id,
                code.scopes,
                code.subject,
                family_id,
                "authorization_code",
                now,
                now + self.access_token_ttl if self.access_token_ttl is not None else None,
            )
            refresh = self._issue_refresh(info) if self.issue_refresh_tokens else None
        return info, refresh

    def _grant_refresh(self, client: OAuthClient, params: Mapping[str, str]) -> tuple[TokenInfo, str | None]:
        value = params.get("refresh_token")
        if not value:
            raise OAuthError("invalid_request", "refresh_token is missing")
        with self._lock:
            record = self._refresh.get(value)
            if record is None:
                raise OAuthError("invalid_grant", "unknown refresh token")
            if record.client_id != client.client_id:
                raise OAuthError("invalid_grant", "refresh token was issued to another client")
            if record.revoked or self._families[record.family_id].revoked:
                raise OAuthError("invalid_grant", "refresh token revoked")
            now = self.clock()
            if record.rotated:
                rotated_at = record.rotated_at if record.rotated_at is not None else now
                successor = self._refresh.get(record.successor or "")
                if now - rotated_at >= self.refresh_token_reuse_grace or (successor is not None and successor.rotated):
                    self._revoke_family(record.family_id)
                    raise OAuthError("invalid_grant", "refresh token already used; the token family is revoked")
                # Within the grace period and its successor unused: the answer to the first use was
                # probably lost, so the successor is retired and this request is served again.
                if successor is not None:
                    successor.revoked = True
            if record.expires_at is not None and now >= record.expires_at:
                raise OAuthError("invalid_grant", "refresh token expired")
            scopes = record.scopes
            asked = params.get("scope")
            if asked is not None:
                wanted = self._split(asked)
                extra = [s for s in wanted if s not in record.scopes]
                if extra:
                    raise OAuthError("invalid_scope", f"scope exceeds the original grant: {' '.join(extra)}")
                scopes = tuple(s for s in record.scopes if s in wanted)
            info = TokenInfo(
                client.client_id,
                scopes,
                record.subject,
                record.family_id,
                "refresh_token",
                now,
                now + self.access_token_ttl if self.access_token_ttl is not None else None,
            )
            if self.rotate_refresh_tokens:
                if not record.rotated:
                    record.rotated, record.rotated_at = True, now
                refresh: str | None = self._issue_refresh(
                    TokenInfo(
                        client.client_id,
                        record.scopes,
                        record.subject,
                        record.family_id,
                        "refresh_token",
                        now,
                        None,
                    )
                )
                record.successor = refresh
            else:
                refresh = value
        return info, refresh

    def _issue_access(self, info: TokenInfo) -> str:
        token = self._new_token("access")
        with self._lock:
            self._access[token] = _Access(info)
            self._families[info.family_id].access.add(token)
        return token

    def _issue_refresh(self, info: TokenInfo) -> str:
        token = self._new_token("refresh")
        now = self.clock()
        ttl = self.refresh_token_ttl
        with self._lock:
            self._refresh[token] = _Refresh(
                info.client_id,
                info.scopes,
                info.subject,
                info.family_id,
                now,
                now + ttl if ttl is not None else None,
            )
            self._families[info.family_id].refresh.add(token)
        return token

    # -- revocation (RFC 7009) and introspection (RFC 7662) ----------------------------
    def revoke(self, params: Mapping[str, str], *, authorization: str | None = None) -> None:
        """Revoke a token. A refresh token takes its whole family with it; unknown tokens are ignored."""
        client = self._authenticate(params, authorization)
        token = params.get("token")
        if not token:
            raise OAuthError("invalid_request", "token is missing")
        with self._lock:
            access = self._access.get(token)
            refresh = self._refresh.get(token)
            owner = access.info.client_id if access else refresh.client_id if refresh else None
            if owner is None:
                return
            if owner != client.client_id:
                raise OAuthError("invalid_request", "the token was not issued to this client")
            if refresh is not None:
                self._revoke_family(refresh.family_id)
            elif access is not None:
                access.revoked = True

    def introspect(self, params: Mapping[str, str], *, authorization: str | None = None) -> dict[str, Any]:
        """Describe a token (RFC 7662); ``{"active": false}`` for anything not currently valid."""
        self._authenticate(params, authorization)
        token = params.get("token")
        if not token:
            raise OAuthError("invalid_request", "token is missing")
        with self._lock:
            now = self.clock()
            access = self._access.get(token)
            if access is not None:
                status = self._access_status(access, now)
                if status.active and status.info is not None:
                    return self._describe(status.info, "Bearer", status.info.expires_at)
                return {"active": False}
            refresh = self._refresh.get(token)
            if refresh is None or refresh.revoked or refresh.rotated:
                return {"active": False}
            if self._families[refresh.family_id].revoked:
                return {"active": False}
            if refresh.expires_at is not None and now >= refresh.expires_at:
                return {"active": False}
            info = TokenInfo(
                refresh.client_id,
                refresh.scopes,
                refresh.subject,
                refresh.family_id,
                "refresh_token",
                refresh.issued_at,
                refresh.expires_at,
            )
            return self._describe(info, "refresh_token", refresh.expires_at)

    def _describe(self, info: TokenInfo, token_type: str, exp: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "active": True,
            "scope": self.scope_separator.join(info.scopes),
            "client_id": info.client_id,
            "token_type": token_type,
            "sub": info.subject,
            "iat": int(info.issued_at),
        }
        if exp is not None:
            out["exp"] = int(exp)
        return out

    # -- the API side ------------------------------------------------------------------------
    def check_access_token(self, token: str) -> TokenStatus:
        """Whether an access token presented to the API is valid, and what it grants."""
        with self._lock:
            access = self._access.get(token)
            if access is None:
                return TokenStatus(False, "unknown")
            return self._access_status(access, self.clock())

    def _access_status(self, access: _Access, now: float) -> TokenStatus:
        if access.revoked or self._families[access.info.family_id].revoked:
            return TokenStatus(False, "revoked", access.info)
        if access.info.expires_at is not None and now >= access.info.expires_at:
            return TokenStatus(False, "expired", access.info)
        return TokenStatus(True, None, access.info)

    def expire_access_tokens(self) -> int:
        """Make every live access token expired now (refresh tokens stay valid); return how many."""
        with self._lock:
            past = self.clock() - 1
            count = 0
            for token, access in self._access.items():
                info = access.info
                if info.expires_at is None or info.expires_at > past:
                    self._access[token] = _Access(
                        TokenInfo(
                            info.client_id,
                            info.scopes,
                            info.subject,
                            info.family_id,
                            info.grant_type,
                            info.issued_at,
                            past,
                        ),
                        access.revoked,
                    )
                    count += 1
            return count

    def revoke_all(self) -> None:
        """Revoke every token family (e.g. the user uninstalled the app)."""
        with self._lock:
            for family_id in list(self._families):
                self._revoke_family(family_id)

    @property
    def token_requests(self) -> dict[str, int]:
        """Token requests so far, by ``grant_type``; failed grants count, unparsable bodies do not."""
        with self._lock:
            return dict(self._counts)

    def reset_token_requests(self) -> None:
        with self._lock:
            self._counts.clear()

    # -- helpers -----------------------------------------------------------------------------
    def _revoke_family(self, family_id: str) -> None:
        family = self._families.get(family_id)
        if family is None:
            return
        family.revoked = True
        for token in family.access:
            self._access[token].revoked = True
        for token in family.refresh:
            self._refresh[token].revoked = True

    def _authenticate(self, params: Mapping[str, str], authorization: str | None) -> OAuthClient:
        basic = authorization is not None and authorization[:6].lower() == "basic "
        if basic and "client_secret" in params:
            raise OAuthError("invalid_request", "use only one client authentication method")
        if basic:
            assert authorization is not None
            if "client_secret_basic" not in self.client_auth_methods:
                raise _invalid_client("client_secret_basic is not accepted", basic=True)
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
                raw_id, _, raw_secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                raise _invalid_client("malformed Basic credentials", basic=True) from None
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            if params.get("client_id") not in (None, client_id):
                raise OAuthError("invalid_request", "client_id does not match the Basic credentials")
            method = "client_secret_basic"
        elif "client_secret" in params:
            if "client_secret_post" not in self.client_auth_methods:
                raise _invalid_client("client_secret_post is not accepted")
            client_id, secret = params.get("client_id", ""), params["client_secret"]
            method = "client_secret_post"
        else:
            client_id, secret, method = params.get("client_id", ""), "", "none"
        if not client_id:
            raise _invalid_client("client authentication is missing", basic=basic)
        client = self.client(client_id)
        if client is None:
            raise _invalid_client("unknown client", basic=basic)
        if client.client_secret is None:
            if method != "none":
                raise _invalid_client("a public client has no secret", basic=basic)
            return client
        if method == "none":
            raise _invalid_client("client authentication is missing")
        if method != client.token_endpoint_auth_method:
            # As real servers do: a client authenticates only the way it was registered.
            raise _invalid_client(
                f"this client is registered for {client.token_endpoint_auth_method}, not {method}", basic=basic
            )
        if not secrets.compare_digest(secret.encode(), client.client_secret.encode()):
            raise _invalid_client("client authentication failed", basic=basic)
        return client

    def _split(self, value: str | None) -> list[str]:
        if not value:
            return []
        sep = self.scope_separator
        return [s for s in (value.split(sep) if sep != " " else value.split()) if s]

    def _new_token(self, kind: str) -> str:
        short = {"access": "at", "refresh": "rt", "code": "ac"}[kind]
        return f"{self.token_prefix}{short}_{secrets.token_urlsafe(32)}"


def _invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    headers = {"WWW-Authenticate": 'Basic realm="oauth"'} if basic else {}
    return OAuthError("invalid_client", description, status=401, headers=headers)


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
