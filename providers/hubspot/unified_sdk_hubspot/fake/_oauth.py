"""The fake's authorization server: HubSpot's OAuth 2 (authorize, v3 token/revoke/introspect) with PKCE.

Access tokens live 30 minutes unless configured otherwise; refresh tokens do not
expire and, like HubSpot's, are returned again on every refresh (the fake can
rotate them, ``rotate_refresh_tokens=True``, to prove clients persist each one).
Token-endpoint errors use HubSpot's ``status`` codes (``BAD_REFRESH_TOKEN``,
``BAD_AUTH_CODE``, ...).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from unified_sdk_hubspot.fake._errors import correlation_id


class AuthorizeError(ValueError):
    """The authorization request is one HubSpot would refuse (it shows an error page, no redirect)."""


class TokenError(Exception):
    """A token-endpoint failure: HTTP status and HubSpot's error body."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        return {
            "status": self.code,
            "message": self.message,
            "correlationId": correlation_id(),
            "category": "VALIDATION_ERROR",
        }


@dataclass(frozen=True, slots=True)
class Grant:
    """What a user approved: the app, the scopes granted, the account and user."""

    client_id: str
    scopes: tuple[str, ...]
    hub_id: int
    user_id: int
    user: str


@dataclass(slots=True)
class AccessToken:
    token: str
    grant: Grant
    issued_at: float
    expires_at: float
    refresh_token: str | None = None


@dataclass(slots=True)
class _Code:
    grant: Grant
    redirect_uri: str
    challenge: str | None
    method: str | None
    expires_at: float


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class AuthServer:
    """Tokens and codes of one fake HubSpot account, shared by the API and OAuth routes."""

    client_id: str
    client_secret: str
    access_token_ttl: float = 1800.0
    rotate_refresh_tokens: bool = False
    hub_id: int = 62515
    grantable_scopes: frozenset[str] | None = None
    """Scopes the account can grant; ``None``: any. Optional scopes outside it are silently dropped."""
    redirect_uris: tuple[str, ...] | None = None
    """Registered redirect URIs; ``None`` accepts any http(s) URI."""
    private_tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    token_requests: Counter[str] = field(default_factory=Counter)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- authorize -----------------------------------------------------------------------------
    def approve(self, authorization_url: str, *, deny: bool = False, grant_optional: bool = True) -> str:
        """Consent as the installing user would; the redirect URL HubSpot would send the browser to."""
        query = dict(parse_qsl(urlsplit(authorization_url).query, keep_blank_values=True))
        with self.lock:
            self.authorize_requests.append(dict(query))
        if query.get("client_id") != self.client_id:
            raise AuthorizeError("BAD_CLIENT_ID: the client_id is missing or unknown")
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")) or (
            self.redirect_uris is not None and redirect_uri not in self.redirect_uris
        ):
            raise AuthorizeError("BAD_REDIRECT_URI: the redirect_uri does not match the app's settings")
        required = query.get("scope", "").split()
        optional = query.get("optional_scope", "").split()
        if "oauth" not in required:
            raise AuthorizeError("BAD_SCOPE: every HubSpot app must request the 'oauth' scope")
        grantable = self.grantable_scopes
        if grantable is not None:
            refused = [s for s in required if s != "oauth" and s not in grantable]
            if refused:
                raise AuthorizeError(f"BAD_SCOPE: this account cannot grant {' '.join(refused)}")
        method = query.get("code_challenge_method")
        challenge = query.get("code_challenge")
        if challenge is not None and method not in (None, "S256", "plain"):
            raise AuthorizeError("BAD_CODE_CHALLENGE_METHOD: use S256")
        state = query.get("state")
        params: dict[str, str] = {}
        if deny:
            params["error"] = "access_denied"
            params["error_description"] = "The user declined to install the app."
        else:
            granted = list(dict.fromkeys(required))
            if grant_optional:
                granted += [s for s in optional if (grantable is None or s in grantable) and s not in granted]
            code = "code-" + secrets.token_urlsafe(24)
            grant = Grant(self.client_id, tuple(granted), self.hub_id, 7_000_001, "ada@example.com")
            with self.lock:
                method_used = (method or "plain") if challenge else None
                self.codes[code] = _Code(grant, redirect_uri, challenge, method_used, time.time() + 600)
            params["code"] = code
        if state is not None:
            params["state"] = state
        sep = "&" if urlsplit(redirect_uri).query else "?"
        return redirect_uri + sep + urlencode(params)

    # -- tokens ---------------------------------------------------------------------------------
    def _issue(self, grant: Grant, refresh_token: str | None) -> dict[str, Any]:
        now = time.time()
        token = "oat-" + secrets.token_urlsafe(32)
        if refresh_token is None or self.rotate_refresh_tokens:
            if refresh_token is not None:
                self.refresh.pop(refresh_token, None)
            refresh_token = "rt-" + secrets.token_urlsafe(24)
            self.refresh[refresh_token] = grant
        self.access[token] = AccessToken(token, grant, now, now + self.access_token_ttl, refresh_token)
        return {
            "token_type": "bearer",
            "access_token": token,
            "refresh_token": refresh_token,
            "expires_in": int(self.access_token_ttl),
            "hub_id": grant.hub_id,
            "scopes": list(grant.scopes),
        }

    def token(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The v3 token endpoint; every parameter comes in the form body."""
        grant_type = form.get("grant_type", "")
        with self.lock:
            self.token_requests[grant_type or "missing"] += 1
            if form.get("client_id") != self.client_id:
                raise TokenError("BAD_CLIENT_ID", "missing or invalid client_id")
            if not secrets.compare_digest(form.get("client_secret", ""), self.client_secret):
                raise TokenError("BAD_CLIENT_SECRET", "missing or invalid client_secret")
            if grant_type == "authorization_code":
                code = self.codes.pop(form.get("code", ""), None)
                if code is None or code.expires_at < time.time():
                    raise TokenError("BAD_AUTH_CODE", "missing or unknown auth code")
                if form.get("redirect_uri") != code.redirect_uri:
                    raise TokenError("BAD_REDIRECT_URI", "redirect_uri does not match the authorize request")
                if code.challenge is not None:
                    verifier = form.get("code_verifier", "")
                    expected = s256(verifier) if code.method == "S256" else verifier
                    if not verifier or not secrets.compare_digest(expected, code.challenge):
                        raise TokenError("BAD_AUTH_CODE", "code_verifier does not match the code_challenge")
                return self._issue(code.grant, None)
            if grant_type == "refresh_token":
                refresh_token = form.get("refresh_token", "")
                grant = self.refresh.get(refresh_token)
                if grant is None or grant.client_id != self.client_id:
                    raise TokenError("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
                return self._issue(grant, refresh_token)
            raise TokenError("BAD_GRANT_TYPE", f"unsupported grant_type {grant_type!r}")

    def revoke(self, form: Mapping[str, str]) -> None:
        with self.lock:
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                raise TokenError("BAD_CLIENT_ID", "missing or invalid client credentials")
            token = form.get("token", "")
            if token in self.refresh:
                del self.refresh[token]
                for t in [t for t, a in self.access.items() if a.refresh_token == token]:
                    del self.access[t]
            else:
                self.access.pop(token, None)

    def introspect(self, form: Mapping[str, str]) -> dict[str, Any]:
        with self.lock:
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                raise TokenError("BAD_CLIENT_ID", "missing or invalid client credentials")
            token = form.get("token", "")
            now = time.time()
            found = self.access.get(token)
            if found is not None and found.expires_at > now:
                g = found.grant
                return {
                    "active": True, "token_type": "access_token", "client_id": g.client_id,
                    "hub_id": g.hub_id, "user_id": g.user_id, "user": g.user,
                    "scope": " ".join(g.scopes), "scopes": list(g.scopes),
                    "iat": int(found.issued_at), "exp": int(found.expires_at),
                    "expires_in": int(found.expires_at - now),
                }
            grant = self.refresh.get(token)
            if grant is not None:
                return {
                    "active": True, "token_type": "refresh_token", "client_id": grant.client_id,
                    "hub_id": grant.hub_id, "user_id": grant.user_id, "user": grant.user,
                    "scope": " ".join(grant.scopes), "scopes": list(grant.scopes),
                }
            return {"active": False}

    def expire_access_tokens(self) -> None:
        with self.lock:
            past = time.time() - 1
            for t in self.access.values():
                t.expires_at = min(t.expires_at, past)

    # -- API authentication -------------------------------------------------------------------------
    def add_private_token(self, scopes: Iterable[str]) -> str:
        token = "pat-na1-" + secrets.token_hex(16)
        with self.lock:
            self.private_tokens[token] = tuple(scopes)
        return token

    def authenticate(self, token: str) -> tuple[str, tuple[str, ...] | None, float | None]:
        """``(kind, scopes, expired_seconds_ago)`` for a bearer token; kind is ``private``,
        ``oauth`` or ``unknown``."""
        scopes = self.private_tokens.get(token)
        if scopes is not None:
            return "private", scopes, None
        found = self.access.get(token)
        if found is None:
            return "unknown", None, None
        late = time.time() - found.expires_at
        return "oauth", found.grant.scopes, (late if late >= 0 else None)
