"""The sandbox CRM server: its HTTP API, auth, rate limits, OAuth endpoints and fault injection."""

from __future__ import annotations

import contextvars
import hashlib
import json
import math
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from unified_sdk.testing import LocalServer
from unified_sdk.testing._faults import Fault, Receive, Scope, Send
from unified_sdk.testing._oauth import AuthorizationServer, oauth_routes
from unified_sdk_sandbox.fake._data import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SCOPES,
    SEARCH_PARAMS,
    SORTS,
    ApiError,
    SandboxData,
    is_search_cursor,
    iso,
    parse_timestamp,
)

#: The error ``type`` the sandbox answers each status with (its own vocabulary, not the unified one).
ERROR_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "The request is malformed."),
    401: ("authentication_failed", "Authentication failed."),
    402: ("payment_required", "Your plan does not include this; upgrade the account."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "The resource was not found."),
    405: ("method_not_allowed", "The method is not allowed on this resource."),
    409: ("conflict", "The request conflicts with the current state of the record."),
    422: ("validation_failed", "The record is invalid."),
    429: ("rate_limit_exceeded", "Too many requests; slow down."),
    500: ("internal_error", "Something went wrong on our side."),
    501: ("not_implemented", "This endpoint is not implemented."),
    502: ("bad_gateway", "Bad gateway."),
    503: ("service_unavailable", "The service is temporarily unavailable."),
    504: ("gateway_timeout", "The upstream service timed out."),
}

_RESOURCES = ("deals", "contacts", "companies")
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("sandbox_request_id", default="")


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One API request the server received (``server.requests``)."""

    method: str
    path: str
    query: str
    idempotency_key: str | None = None


def error_body(status: int, type: str | None = None, message: str | None = None, **extra: Any) -> dict[str, Any]:
    """The sandbox's error body: ``{"error": {"type", "message", "request_id", ...}}``."""
    default_type, default_message = ERROR_TYPES.get(status, ("error", "The request failed."))
    error: dict[str, Any] = {
        "type": type or default_type,
        "message": message or default_message,
        "request_id": _request_id.get() or _new_request_id(),
    }
    error.update({k: v for k, v in extra.items() if v is not None})
    return {"error": error}


def _new_request_id() -> str:
    return "req_" + secrets.token_hex(8)


class _RateLimiter:
    """A fixed-window request budget shared by the whole (single) sandbox account."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._used = 0

    def take(self) -> tuple[bool, int, float]:
        """Spend one request: ``(allowed, remaining, seconds_to_reset)``."""
        with self._lock:
            now = time.monotonic()
            if now - self._start >= self.window:
                self._start = now
                self._used = 0
            reset = self.window - (now - self._start)
            if self._used >= self.limit:
                return False, 0, reset
            self._used += 1
            return True, self.limit - self._used, reset


class SandboxServer(LocalServer):
    """A realistic local CRM with its own API, for tests, demos and benchmarks.

    Example::

        with SandboxServer(deals=50) as server:
            r = httpx2.get(server.url + "/v1/deals", headers={"X-Api-Key": server.api_key})

    Test-facing API (shared by every fake): ``url``, ``config``, ``seed()``,
    ``api_key``, ``oauth_client_id``/``oauth_client_secret``, ``approve()``,
    ``token_requests``, ``expire_access_tokens()``, ``inject()``; plus
    ``requests`` (every API request received) and ``count()``.

    OAuth: refresh tokens rotate with reuse detection (``rotate_refresh_tokens``);
    ``refresh_token_reuse_grace`` (seconds, default 0: none) accepts the previous
    refresh token for that long after a rotation, as Amazon Cognito (up to 60 s),
    Ory Hydra, Curity and WSO2 can be configured to. Inject
    ``fault="timeout_after_processing", path="/oauth/token"`` to lose the answer
    to a refresh the server has already performed.
    """

    def __init__(
        self,
        *,
        deals: int = 2500,
        contacts: int = 1000,
        companies: int = 300,
        seed: int = 7,
        access_token_ttl: float | None = 3600,
        rotate_refresh_tokens: bool = True,
        refresh_token_reuse_grace: float = 0.0,
        rate_limit: int = 10_000,
        rate_limit_window: float = 10.0,
        api_key: str | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.data = SandboxData(deals=deals, contacts=contacts, companies=companies, seed=seed)
        self.api_key = api_key or "sk_sandbox_" + secrets.token_urlsafe(24)
        self.oauth = AuthorizationServer(
            scopes=SCOPES,
            access_token_ttl=access_token_ttl,
            rotate_refresh_tokens=rotate_refresh_tokens,
            refresh_token_reuse_grace=refresh_token_reuse_grace,
            subject="usr_1000",
        )
        # The sandbox plugin declares client_secret_post; the server accepts only that from this client.
        client = self.oauth.register_client(
            "sandbox_client_" + secrets.token_hex(6), token_endpoint_auth_method="client_secret_post"
        )
        self.oauth_client_id = client.client_id
        self.oauth_client_secret = client.client_secret or ""
        self.rate_limiter = _RateLimiter(rate_limit, rate_limit_window)
        self._requests: list[SeenRequest] = []
        self._requests_lock = threading.Lock()
        self._idempotency: dict[str, tuple[str, int, bytes]] = {}

    # -- the shared fake API -------------------------------------------------------------------
    @property
    def config(self) -> dict[str, str]:
        """Connection config pointing the sandbox plugin at this server."""
        url = self.url
        return {
            "base_url": url,
            "authorize_url": f"{url}/oauth/authorize",
            "token_url": f"{url}/oauth/token",
            "revoke_url": f"{url}/oauth/revoke",
            "introspect_url": f"{url}/oauth/introspect",
        }

    def seed(
        self,
        deals: int | None = None,
        contacts: int | None = None,
        companies: int | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        """Replace the data set (counts left out keep their current size)."""
        self.data.generate(
            deals=len(self.data.deals) if deals is None else deals,
            contacts=len(self.data.contacts) if contacts is None else contacts,
            companies=len(self.data.companies) if companies is None else companies,
            seed=seed,
        )

    def add(self, *, deals: int = 0, contacts: int = 0, companies: int = 0) -> None:
        """Add generated records to the current data set (:meth:`seed` replaces it)."""
        self.data.add(deals=deals, contacts=contacts, companies=companies)

    def clear(self) -> None:
        """Remove every deal, contact and company; users, pipelines and tokens stay."""
        self.data.generate(deals=0, contacts=0, companies=0)

    def approve(self, authorization_url: str, grant_scopes: Iterable[str] | None = None, *, deny: bool = False) -> str:
        """Consent to an authorization URL as the user would; return the callback URL (not followed).

        The callback names this server as its issuer (``iss``, RFC 9207), as the sandbox declares.
        """
        return _with_iss(self.oauth.approve(authorization_url, grant_scopes, deny=deny), self.url)

    @property
    def token_requests(self) -> dict[str, int]:
        """Token-endpoint requests so far, by grant type."""
        return self.oauth.token_requests

    def expire_access_tokens(self) -> int:
        """Expire every OAuth access token now (refresh tokens stay valid)."""
        return self.oauth.expire_access_tokens()

    @property
    def requests(self) -> list[SeenRequest]:
        """Every ``/v1`` request received so far, injected failures included, in order."""
        with self._requests_lock:
            return list(self._requests)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many ``/v1`` requests matched ``method`` and ``path`` (``None``: any)."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper()) and (path is None or r.path == path)
        )

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    # -- the app ---------------------------------------------------------------------------------
    def _naming_issuer(self, send: Send) -> Send:
        """``send`` with ``iss`` (RFC 9207) added to the authorization endpoint's redirects."""

        async def naming(message: Any) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                headers = [
                    (k, _with_iss(v.decode("latin-1"), self.url).encode("latin-1") if k.lower() == b"location" else v)
                    for k, v in message.get("headers", [])
                ]
                message = {**message, "headers": headers}
            await send(message)

        return naming

    def build_app(self) -> Any:
        from starlette.applications import Starlette

        oauth_app: Any = Starlette(routes=oauth_routes(self.oauth, title="Sandbox CRM: authorize access"))

        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return
            path: str = scope["path"]
            if path == "/oauth/authorize":
                await oauth_app(scope, receive, self._naming_issuer(send))
                return
            if path.startswith("/oauth/"):
                await oauth_app(scope, receive, send)
                return
            await self._api(scope, receive, send)

        def injected(status: int, fault: Fault) -> tuple[Any, dict[str, str]]:
            if fault.path is not None and fault.path.startswith("/oauth/"):
                # The OAuth endpoints answer in RFC 6749 shape, not the API's.
                code = "temporarily_unavailable" if status >= 500 or status == 429 else "invalid_request"
                return {"error": code, "error_description": ERROR_TYPES.get(status, ("", "failed"))[1]}, {}
            extra: dict[str, Any] = {}
            if status == 429 and fault.retry_after is not None:
                extra["retry_after"] = fault.retry_after
            return error_body(status, **extra), {}

        faulty = self.faults.middleware(inner, injected, only=lambda p: p == "/v1" or p.startswith("/v1/"))

        async def outer(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await faulty(scope, receive, send)
                return
            request_id = _new_request_id()
            token = _request_id.set(request_id)
            path: str = scope["path"]
            api = path == "/v1" or path.startswith("/v1/")
            extra: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
            if api:
                headers = dict(scope["headers"])
                key = headers.get(b"idempotency-key")
                with self._requests_lock:
                    self._requests.append(
                        SeenRequest(
                            scope["method"],
                            path,
                            scope.get("query_string", b"").decode("latin-1"),
                            key.decode("latin-1") if key else None,
                        )
                    )
                allowed, remaining, reset = self.rate_limiter.take()
                extra += [
                    (b"x-ratelimit-limit", str(self.rate_limiter.limit).encode()),
                    (b"x-ratelimit-remaining", str(remaining).encode()),
                    (b"x-ratelimit-reset", str(max(math.ceil(reset), 1)).encode()),
                ]
                if not allowed:
                    wait = max(math.ceil(reset), 1)
                    body = error_body(429, message="Rate limit exceeded for this account.", retry_after=wait)
                    await _send_json(send, 429, body, [*extra, (b"retry-after", str(wait).encode())])
                    _request_id.reset(token)
                    return

            async def send_with_headers(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
                await send(message)

            try:
                await faulty(scope, receive, send_with_headers)
            finally:
                _request_id.reset(token)

        return outer

    # -- the API ---------------------------------------------------------------------------------
    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        try:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            scopes = self._authenticate(headers)
            parts = path.rstrip("/").split("/")[2:]  # after "", "v1"
            status, payload = await self._route(method, parts, scope, receive, headers, scopes)
        except ApiError as exc:
            extra_headers: list[tuple[bytes, bytes]] = []
            if exc.status == 405 and "allow" in exc.extra:
                extra_headers.append((b"allow", ", ".join(exc.extra["allow"]).encode()))
            if exc.status == 401:
                extra_headers.append((b"www-authenticate", b'Bearer realm="sandbox"'))
            body = error_body(exc.status, exc.type, exc.message, **exc.extra)
            await _send_json(send, exc.status, body, extra_headers)
            return
        if status == 204:
            await _send_raw(send, 204, b"", [])
            return
        await _send_raw(send, status, payload, [(b"content-type", b"application/json")])

    def _authenticate(self, headers: dict[str, str]) -> frozenset[str] | None:
        """The scopes the caller holds; ``None`` means all (API key)."""
        key = headers.get("x-api-key")
        if key is not None:
            if secrets.compare_digest(key.encode(), self.api_key.encode()):
                return None
            raise ApiError(401, "invalid_api_key", "The API key is not valid.")
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            status = self.oauth.check_access_token(authorization[7:].strip())
            if status.active and status.info is not None:
                return frozenset(status.info.scopes)
            if status.reason == "expired":
                raise ApiError(401, "token_expired", "The access token has expired; refresh it.")
            if status.reason == "revoked":
                raise ApiError(401, "token_revoked", "The access token was revoked.")
            raise ApiError(401, "invalid_token", "The access token is not valid.")
        raise ApiError(401, "authentication_required", "Send an API key in X-Api-Key or an OAuth bearer token.")

    @staticmethod
    def _need(scopes: frozenset[str] | None, needed: str) -> None:
        if scopes is not None and needed not in scopes:
            raise ApiError(
                403,
                "insufficient_scope",
                f"This request needs the {needed} scope, which the token was not granted.",
                required_scopes=[needed],
                granted_scopes=sorted(scopes),
            )

    async def _route(
        self,
        method: str,
        parts: list[str],
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        scopes: frozenset[str] | None,
    ) -> tuple[int, bytes]:
        data = self.data
        query = _query(scope)
        if parts == ["me"]:
            _allow(method, ("GET",))
            first_user = next(iter(data.users.values()))
            me = {
                "user": {k: first_user[k] for k in ("id", "first_name", "last_name", "email")},
                "account": data.account,
                "auth": {
                    "type": "api_key" if scopes is None else "oauth",
                    "scopes": list(SCOPES) if scopes is None else sorted(scopes),
                },
            }
            return 200, _dump(me)
        if parts and parts[0] in _RESOURCES and len(parts) <= 2:
            name = parts[0]
            if len(parts) == 1:
                _allow(method, ("GET", "POST"))
                if method == "GET":
                    self._need(scopes, f"{name}:read")
                    limit, cursor, since = _list_params(query)
                    search = _search_params(name, query, since)
                    if search is not None or (cursor is not None and is_search_cursor(cursor)):
                        return 200, data.search_page(name, limit=limit, cursor=cursor, search=search or {})
                    return 200, data.list_page(name, limit=limit, cursor=cursor, updated_since=since)
                self._need(scopes, f"{name}:write")
                body = await _json_body(receive)
                return await self._idempotent(
                    headers, method, "/".join(parts), body, lambda: (201, _dump(data.create(name, body)))
                )
            rid = parts[1]
            _allow(method, ("GET", "PATCH", "DELETE"))
            if method == "GET":
                self._need(scopes, f"{name}:read")
                return 200, _dump(data.get(name, rid))
            self._need(scopes, f"{name}:write")
            if method == "DELETE":
                data.delete(name, rid)
                return 204, b""
            body = await _json_body(receive)
            return await self._idempotent(
                headers, method, "/".join(parts), body, lambda: (200, _dump(data.update(name, rid, body)))
            )
        if parts and parts[0] == "pipelines" and len(parts) <= 2:
            _allow(method, ("GET",))
            self._need(scopes, "pipelines:read")
            if len(parts) == 1:
                return 200, data.pipelines_json()
            pipeline = data.pipelines.get(parts[1])
            if pipeline is None:
                raise ApiError(404, "not_found", f"No pipeline with id {parts[1]!r}.")
            return 200, _dump(pipeline)
        if parts and parts[0] == "users" and len(parts) <= 2:
            _allow(method, ("GET",))
            self._need(scopes, "users:read")
            if len(parts) == 1:
                return 200, data.users_json()
            user = data.users.get(parts[1])
            if user is None:
                raise ApiError(404, "not_found", f"No user with id {parts[1]!r}.")
            return 200, _dump(user)
        if parts and parts[0] == "webhooks" and len(parts) <= 2:
            self._need(scopes, "webhooks:manage")
            raise ApiError(501, "not_implemented", "Webhook subscriptions are not available in the sandbox yet.")
        raise ApiError(404, "route_not_found", f"No route {method} /v1/{'/'.join(parts)}.")

    async def _idempotent(
        self, headers: dict[str, str], method: str, where: str, body: Any, run: Any
    ) -> tuple[int, bytes]:
        """Replay the stored result of a write sent again with the same ``Idempotency-Key``."""
        key = headers.get("idempotency-key")
        if not key:
            result: tuple[int, bytes] = run()
            return result
        fingerprint = hashlib.sha256(f"{method} {where} ".encode() + _dump(body)).hexdigest()
        with self.data.lock:
            seen = self._idempotency.get(key)
            if seen is not None:
                if seen[0] != fingerprint:
                    raise ApiError(
                        409, "idempotency_key_reused", "This Idempotency-Key was used with a different request."
                    )
                return seen[1], seen[2]
            status, payload = run()
            self._idempotency[key] = (fingerprint, status, payload)
            return status, payload


def _allow(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise ApiError(405, "method_not_allowed", f"{method} is not allowed here.", allow=list(allowed))


def _query(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        out[key] = value
    return out


def _list_params(query: dict[str, str]) -> tuple[int, str | None, str | None]:
    raw = query.get("limit")
    limit = DEFAULT_LIMIT
    if raw is not None:
        try:
            limit = int(raw)
        except ValueError:
            limit = -1
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(
                400, "invalid_request", f"limit must be a whole number from 1 to {MAX_LIMIT}.", param="limit"
            )
    since = query.get("updated_since")
    if since is not None:
        try:
            since = iso(parse_timestamp(since))
        except ValueError:
            raise ApiError(
                400, "invalid_request", "updated_since must be an ISO-8601 timestamp.", param="updated_since"
            ) from None
    return limit, query.get("cursor") or None, since


def _search_params(name: str, query: dict[str, str], since: str | None) -> dict[str, str] | None:
    """The filters and sort of a list request, or ``None`` for a plain listing (other parameters are ignored)."""
    allowed = SEARCH_PARAMS[name]
    search = {k: v for k, v in query.items() if k in allowed and k != "updated_since"}
    sort = query.get("sort")
    if sort is not None:
        if sort.lstrip("-") not in SORTS or sort.count("-") > 1:
            raise ApiError(400, "invalid_request", f"Cannot sort by {sort!r}.", param="sort")
        search["sort"] = sort
    if "created_since" in search:
        try:
            search["created_since"] = iso(parse_timestamp(search["created_since"]))
        except ValueError:
            raise ApiError(
                400, "invalid_request", "created_since must be an ISO-8601 timestamp.", param="created_since"
            ) from None
    if not search:
        return None
    if since is not None:
        search["updated_since"] = since
    return search


async def _json_body(receive: Receive) -> Any:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    raw = b"".join(chunks)
    if not raw.strip():
        raise ApiError(400, "invalid_json", "The request body is empty; send a JSON object.")
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


async def _send_json(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]]) -> None:
    await _send_raw(send, status, _dump(body), [(b"content-type", b"application/json"), *headers])


async def _send_raw(send: Send, status: int, payload: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    raw = [(b"content-length", str(len(payload)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def _with_iss(callback_url: str, issuer: str) -> str:
    """``callback_url`` naming ``issuer`` in its ``iss`` parameter (RFC 9207)."""
    parts = urlsplit(callback_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("iss", issuer)])))
