"""OAuth 2 connections: integrations, authorization URLs with unified scopes,
callback completion, single-flight refresh and revocation.

authlib speaks the protocol: it builds the authorization URL, the token,
refresh and revocation requests with their client authentication and PKCE, and
parses token responses. The pipeline sends them: every OAuth request is an
effect of a flow (``complete_flow``, ``refresh_flow``, ``revoke_flow``) driven
by the client's own driver, through its ``http_client``, with its timeout,
throttle, call log and retry budget. This module owns scope mapping, state,
storage, health and the single-flight refresh (a lock per connection within a
process, a lease in the connection's row across processes).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx2

from unified_sdk._connections import (
    Connection,
    ConnectionRecord,
    new_connection_id,
)
from unified_sdk._crypto import INTEGRATION, OAUTH_STATE, bind
from unified_sdk._events import Event
from unified_sdk._limits import ResponseTooLarge, deadline_after, time_left
from unified_sdk._outcome import Category, HealthSignal, Outcome
from unified_sdk._pipeline import Blocking, Call, Flow, Send, Sleep, new_log_id, operation_flow
from unified_sdk._redact import redact_text
from unified_sdk._retry import may_have_been_sent, retry_delay
from unified_sdk._scopes import UNIFIED_SCOPES
from unified_sdk.errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    ProviderCallError,
    error_class_for,
)
from unified_sdk.provider import AuthType, Credentials, Provider, ProviderResponse

if TYPE_CHECKING:
    from unified_sdk._runtime import Runtime

logger = logging.getLogger("unified_sdk.oauth")

STATE_TTL = 600.0
REFRESH_COOLDOWN = 30.0
#: httpx applies the client's ``timeout`` to connecting, to sending and to each read; a token
#: request (a small body, read at once) may therefore take up to this many timeouts.
TOKEN_REQUEST_PHASES = 3
#: Lease time beyond the token request's whole deadline: storage round trips and hosts' clock skew.
LEASE_MARGIN = 15.0
CLIENT_AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")
#: Token-endpoint failures that say nothing about the grant: retry later, the connection is fine.
TRANSIENT = frozenset({Category.PROVIDER_ERROR, Category.TIMEOUT, Category.NETWORK, Category.RATE_LIMITED})
#: Re-sends of an OAuth request that never left (any) or that is safe to repeat (introspection, revocation).
OAUTH_MAX_RETRIES = 2
#: How long one wait for the in-process refresh lock blocks a worker thread before trying again.
LOCK_POLL = 0.05
_FORM_HEADERS = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
#: Kept in the credentials' ``extra`` while the answer to a sent refresh is unknown (see ``_do_refresh``).
_UNANSWERED = "_refresh_unanswered_at"
#: Where an integration's ``token_endpoint_auth_method`` override is kept in its stored config.
_AUTH_METHOD_KEY = "token_endpoint_auth_method"


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """An authorization URL to send the user to, and what it asks for."""

    url: str
    state: str
    provider: str
    scopes: list[str]
    """The unified scopes asked for."""
    provider_scopes: list[str]
    """The provider scopes in the URL (required first, then optional)."""
    optional_provider_scopes: list[str]
    expires_at: datetime

    def __repr__(self) -> str:  # the state is a bearer secret until used
        return (
            f"AuthorizationRequest(provider={self.provider!r}, scopes={self.scopes!r}, expires_at={self.expires_at!r})"
        )


@dataclass(frozen=True, slots=True)
class Integration:
    """An app's OAuth client registration with one provider (the secret is never shown)."""

    provider: str
    client_id: str
    redirect_uri: str | None
    config: Mapping[str, Any]
    token_endpoint_auth_method: str | None = None
    """How the client authenticates to the token, revocation and introspection endpoints
    (``client_secret_post``, ``client_secret_basic`` or ``none``); ``None``: as the provider declares."""


def map_scopes(provider: Provider, scopes: Sequence[str]) -> tuple[list[str], list[str]]:
    """Unified scopes → ``(required, optional)`` provider scopes, in a stable order.

    Raises :class:`ConfigurationError` naming the supported scopes for any
    unknown scope or one the provider cannot grant.
    """
    unknown = [s for s in scopes if s not in UNIFIED_SCOPES]
    unsupported = [s for s in scopes if s in UNIFIED_SCOPES and s not in provider.scopes]
    if unknown or unsupported:
        parts = []
        if unknown:
            parts.append(f"unknown unified scopes {unknown}")
        if unsupported:
            parts.append(f"{provider.name} cannot grant {unsupported}")
        raise ConfigurationError(
            "; ".join(parts),
            provider=provider.name,
            hint=f"{provider.name} supports: {', '.join(sorted(provider.scopes))}",
        )
    required: list[str] = []
    optional: list[str] = []
    oauth = provider.oauth
    for scope in oauth.always_scopes if oauth else ():
        if scope not in required:
            required.append(scope)
    for scope in scopes:
        mapping = provider.scopes[scope]
        required += [s for s in mapping.required if s not in required]
    for scope in scopes:
        optional += [s for s in provider.scopes[scope].optional if s not in required and s not in optional]
    return required, optional


def granted_unified_scopes(provider: Provider, requested: Sequence[str], granted: Sequence[str]) -> list[str]:
    """The requested unified scopes whose required provider scopes were all granted."""
    have = set(granted)
    return [s for s in requested if s in provider.scopes and set(provider.scopes[s].required) <= have]


def _hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class OAuthManager:
    """The blocking OAuth machinery shared by ``Client.auth`` and ``AsyncClient.auth``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        self.state_ttl = STATE_TTL
        self.cooldown = REFRESH_COOLDOWN

    @property
    def lease_seconds(self) -> float:
        """How long a refresh lease lasts: longer than the token request can take, so no other
        caller starts a refresh while one is still waiting for the provider's answer."""
        return TOKEN_REQUEST_PHASES * self.runtime.timeout + LEASE_MARGIN

    # -- integrations ------------------------------------------------------------
    def configure(
        self,
        provider: str,
        *,
        client_id: str,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        config: Mapping[str, Any] | None = None,
        token_endpoint_auth_method: str | None = None,
    ) -> Integration:
        plugin = self.runtime.provider_for(provider)
        if plugin.oauth is None or AuthType.OAUTH2 not in plugin.auth_types:
            raise ConfigurationError(f"{plugin.name} does not support OAuth 2", provider=plugin.name)
        if token_endpoint_auth_method is not None:
            if token_endpoint_auth_method not in CLIENT_AUTH_METHODS:
                raise ConfigurationError(
                    f"unknown token_endpoint_auth_method {token_endpoint_auth_method!r}",
                    provider=plugin.name,
                    hint=f"use one of: {', '.join(CLIENT_AUTH_METHODS)}",
                )
            if token_endpoint_auth_method != "none" and not client_secret:
                raise ConfigurationError(
                    f"{token_endpoint_auth_method} needs a client_secret",
                    provider=plugin.name,
                    hint='pass client_secret=..., or token_endpoint_auth_method="none" for a public client',
                )
        box = self.runtime.connections_store.box
        binding = bind(INTEGRATION, plugin.name)
        stored = dict(config or {})
        if token_endpoint_auth_method is not None:
            stored[_AUTH_METHOD_KEY] = token_endpoint_auth_method
        self.runtime.store.upsert_integration(
            {
                "provider": plugin.name,
                "client_id": client_id,
                "client_secret": box.encrypt(client_secret, bind=binding) if client_secret else None,
                "redirect_uri": redirect_uri,
                "config": stored,
            }
        )
        return Integration(plugin.name, client_id, redirect_uri, dict(config or {}), token_endpoint_auth_method)

    def _integration(self, provider: Provider) -> tuple[Integration, str | None]:
        row = self.runtime.store.get_integration(provider.name)
        if row is None:
            raise ConfigurationError(
                f"no OAuth integration is configured for {provider.name}",
                provider=provider.name,
                hint=f'call client.integrations.configure("{provider.name}", client_id=..., client_secret=...)',
            )
        secret = (
            self.runtime.connections_store.box.decrypt(row["client_secret"], bind=bind(INTEGRATION, row["provider"]))
            if row["client_secret"]
            else None
        )
        config = dict(row["config"] or {})
        method = config.pop(_AUTH_METHOD_KEY, None)
        return Integration(row["provider"], row["client_id"], row["redirect_uri"], config, method), secret

    @staticmethod
    def _auth_method(provider: Provider, integration: Integration) -> str:
        """The client authentication for every token-endpoint-family request: the integration's
        override, else the provider's declaration."""
        assert provider.oauth is not None
        return integration.token_endpoint_auth_method or provider.oauth.token_endpoint_auth_method

    @staticmethod
    def _endpoint(provider: Provider, name: str, *configs: Mapping[str, Any]) -> str | None:
        """An OAuth endpoint: an explicit config key (first config wins), else one the
        plugin derives from the config (e.g. from ``base_url`` or a login host), else its default."""
        for config in configs:
            if config.get(name):
                return str(config[name])
        merged: dict[str, Any] = {}
        for config in reversed(configs):
            merged.update(config)
        derived = provider.oauth_endpoints(merged).get(name)
        if derived:
            return str(derived)
        value = getattr(provider.oauth, name, None)
        return str(value) if value else None

    # -- authorization URL ----------------------------------------------------------
    def authorization_url(
        self,
        provider: str,
        *,
        scopes: Sequence[str],
        external_id: str | None = None,
        connection_id: str | None = None,
        redirect_uri: str | None = None,
    ) -> AuthorizationRequest:
        plugin = self.runtime.provider_for(provider)
        if plugin.oauth is None:
            raise ConfigurationError(f"{plugin.name} does not support OAuth 2", provider=plugin.name)
        wanted = list(dict.fromkeys(scopes))
        if connection_id is not None:
            existing = self.runtime.connections_store.row(connection_id)
            if existing["provider"] != plugin.name:
                raise ConfigurationError(
                    f"connection {connection_id} belongs to {existing['provider']}, not {plugin.name}"
                )
            # Re-authorization keeps what was granted and adds what is asked for.
            wanted = list(dict.fromkeys([*(existing["scopes"] or []), *wanted]))
            external_id = external_id or existing["external_id"]
        required, optional = map_scopes(plugin, wanted)
        integration, _secret = self._integration(plugin)
        redirect = redirect_uri or integration.redirect_uri
        if not redirect:
            raise ConfigurationError(
                f"no redirect_uri for {plugin.name}", hint="pass redirect_uri= here or to integrations.configure"
            )
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)[:96] if plugin.oauth.pkce else None
        spec = plugin.oauth
        authorize_url = self._endpoint(plugin, "authorize_url", integration.config)
        assert authorize_url is not None
        params: dict[str, str] = dict(spec.extra_authorize_params)
        if spec.optional_scope_param:
            scope_value = spec.scope_separator.join(required)
            if optional:
                params[spec.optional_scope_param] = spec.scope_separator.join(optional)
        else:
            scope_value = spec.scope_separator.join(required + optional)
        from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        if verifier is not None:
            params["code_challenge"] = create_s256_code_challenge(verifier)
            params["code_challenge_method"] = "S256"
        url = prepare_grant_uri(
            authorize_url,
            client_id=integration.client_id,
            response_type="code",
            state=state,
            redirect_uri=redirect,
            scope=scope_value,
            **params,
        )
        # Spaces as %20, not form-encoding's "+": what providers document (HubSpot's scope=a%20b) and
        # what every decoder reads as a space. A literal "+" was already encoded as %2B.
        base, _, query = url.partition("?")
        url = base + "?" + query.replace("+", "%20")
        now = self.runtime.clock()
        state_hash = _hash_state(state)
        payload = {
            "verifier": verifier,
            "redirect_uri": redirect,
            "scopes": wanted,
            "provider_scopes": required + optional,
            "external_id": external_id,
            "connection_id": connection_id,
        }
        with self.runtime.store.begin() as c:
            from unified_sdk._storage import oauth_states

            c.execute(oauth_states.delete().where(oauth_states.c.expires_at < now - 86400))
            c.execute(
                oauth_states.insert().values(
                    state_hash=state_hash,
                    provider=plugin.name,
                    payload=self.runtime.connections_store.box.encrypt(payload, bind=bind(OAUTH_STATE, state_hash)),
                    expires_at=now + self.state_ttl,
                    created_at=now,
                )
            )
        return AuthorizationRequest(
            url=url,
            state=state,
            provider=plugin.name,
            scopes=wanted,
            provider_scopes=required + optional,
            optional_provider_scopes=optional,
            expires_at=datetime.fromtimestamp(now + self.state_ttl, UTC),
        )

    # -- sending ------------------------------------------------------------------------
    def _form_request(
        self, plugin: Provider, integration: Integration, secret: str | None, url: str, body: str
    ) -> httpx2.Request:
        """A form POST to a token-family endpoint, with the client authentication the integration uses."""
        from authlib.oauth2.auth import ClientAuth

        auth = ClientAuth(integration.client_id, secret or "", self._auth_method(plugin, integration))
        headers = {**_FORM_HEADERS, "User-Agent": self.runtime.user_agent}
        url, headers, body = auth.prepare("POST", url, headers, body)
        return httpx2.Request("POST", url, headers=headers, content=str(body).encode())

    def _send_flow(
        self,
        plugin: Provider,
        request: httpx2.Request,
        *,
        connection_id: str | None,
        operation: str,
        secrets_: Sequence[str],
        repeatable: bool,
    ) -> Flow[httpx2.Response | Exception]:
        """Send one OAuth request as the pipeline sends any: through the client's transport, within
        a deadline of the client's timeout and its response size cap, after the connection's
        throttle, with one redacted call-log row per attempt and the provider's retry budget.

        A request that never left is sent again; one the provider may have processed only when
        ``repeatable`` (introspection, revocation): a code or a refresh token is spent by its
        first use, so a token request is never re-sent after it may have arrived. Returns the
        response (whatever its status) or the transport failure.
        """
        runtime = self.runtime
        deadline = deadline_after(runtime.timeout)
        if "user-agent" not in request.headers:
            request.headers["User-Agent"] = runtime.user_agent
        retries = 0
        cost = 0
        attempt = 0
        while True:
            attempt += 1
            wait = runtime.throttle.before_send(connection_id) if connection_id else 0.0
            if wait > 0:
                left = time_left(deadline)
                if left is not None and wait >= left:
                    # Nothing was sent: the rate limit resets after the deadline.
                    return httpx2.ConnectTimeout(f"the rate limit resets in {wait:.1f} s, after the timeout")
                yield Sleep(wait)
            started_at = time.time()
            t0 = time.perf_counter()
            result: httpx2.Response | Exception = yield Send(
                request, tuple(secrets_), deadline, runtime.max_response_bytes
            )
            duration = (time.perf_counter() - t0) * 1000
            outcome = _outcome_of(plugin, result)
            action = "none"
            delay = 0.0
            if retries < OAUTH_MAX_RETRIES and _may_resend(result, outcome, repeatable):
                delay = retry_delay(retries + 1, outcome.retry_after, rand=runtime.jitter())
                left = time_left(deadline)
                if left is None or delay < left:
                    paid = runtime.retry_budgets.acquire(plugin.name, timeout=outcome.category == Category.TIMEOUT)
                    if paid:
                        action, cost = "retry", paid
            response = result if isinstance(result, httpx2.Response) else None
            runtime.logs.submit(
                log_id=new_log_id(),
                connection_id=connection_id,
                provider=plugin.name,
                operation=operation,
                method=request.method,
                url=str(request.url),
                request_headers=request.headers.multi_items(),
                request_body=request.content,
                status=response.status_code if response is not None else None,
                response_headers=response.headers.multi_items() if response is not None else None,
                response_body=response.content if response is not None else None,
                duration_ms=duration,
                category=outcome.category.value if outcome.category else None,
                action=action,
                action_reason=None,
                attempt=attempt,
                error=None
                if response is not None
                else redact_text(f"{type(result).__name__}: {result}".rstrip(": "), list(secrets_)),
                provider_request_id=None,
                created_at=started_at,
                secrets=[*secrets_, *(_token_values(response) if response is not None else [])],
            )
            if action != "retry":
                if outcome.ok:
                    runtime.retry_budgets.succeeded(plugin.name, cost)
                return result
            retries += 1
            yield Sleep(delay)

    # -- callback -------------------------------------------------------------------
    def complete_flow(
        self, callback_url: str | None = None, *, code: str | None = None, state: str | None = None
    ) -> Flow[Connection]:
        """Finish an authorization from its callback: check it, exchange the code, check and store the connection."""
        params: dict[str, str] = {}
        if callback_url is not None:
            params = dict(parse_qsl(urlsplit(callback_url).query, keep_blank_values=True))
        if code is not None:
            params["code"] = code
        if state is not None:
            params["state"] = state
        if params.get("error"):
            raise AuthorizationError(
                f"the provider refused the authorization: {params['error']}"
                + (f" ({params['error_description']})" if params.get("error_description") else ""),
                provider_code=params["error"],
                provider_message=params.get("error_description"),
                hint="the user declined or the provider refused; start again with a new authorization URL"
                if params["error"] == "access_denied"
                else None,
            )
        if not params.get("state"):
            raise AuthorizationError("the callback has no state", hint="pass the full callback URL")
        pending, provider_name = yield Blocking(partial(self._take_state, params["state"]))
        plugin = self.runtime.provider_for(provider_name)
        integration, secret = yield Blocking(partial(self._integration, plugin))
        self._check_issuer(plugin, integration, params.get("iss"))
        if not params.get("code"):
            raise AuthorizationError("the callback has no authorization code", provider=provider_name)
        return (yield from self._exchange_flow(plugin, integration, secret, params["code"], pending))

    def _check_issuer(self, plugin: Provider, integration: Integration, iss: str | None) -> None:
        """RFC 9207: a provider that declares its issuer names itself in every authorization response.

        A callback naming another issuer (or none) may come from a mix-up attack: another
        authorization server's code, sent here to be exchanged. It is refused before the token
        endpoint is called. A provider that declares no issuer is not checked.
        """
        expected = self._endpoint(plugin, "issuer", integration.config)
        if expected is None:
            return
        if iss is None:
            raise AuthorizationError(
                f"the callback has no iss parameter, but {plugin.name} names its issuer in every "
                "authorization response (RFC 9207)",
                provider=plugin.name,
                hint="pass the full callback URL, with its iss parameter; no token request was sent",
            )
        if iss != expected:
            raise AuthorizationError(
                f"the callback comes from issuer {iss!r}, not from {plugin.name}'s {expected!r} (RFC 9207): "
                "possibly a mix-up attack",
                provider=plugin.name,
                details={"iss": iss, "expected_iss": expected},
                hint="start the authorization again from this app; no token request was sent",
            )

    def _take_state(self, state: str) -> tuple[dict[str, Any], str]:
        """Claim a stored state once; unknown, expired and reused states are refused."""
        from sqlalchemy import select

        from unified_sdk._storage import oauth_states as t

        now = self.runtime.clock()
        key = _hash_state(state)
        with self.runtime.store.begin() as c:
            row = c.execute(select(t).where(t.c.state_hash == key)).mappings().first()
            if row is None:
                raise AuthorizationError(
                    "unknown OAuth state", hint="the callback does not match an authorization URL built here"
                )
            if row["used_at"] is not None:
                raise AuthorizationError(
                    "this OAuth state was already used", provider=row["provider"], hint="start again"
                )
            if row["expires_at"] < now:
                raise AuthorizationError(
                    "the OAuth state expired", provider=row["provider"], hint="start again; states last 10 minutes"
                )
            claimed = c.execute(
                t.update().where(t.c.state_hash == key, t.c.used_at.is_(None)).values(used_at=now)
            ).rowcount
            if claimed != 1:
                raise AuthorizationError("this OAuth state was already used", provider=row["provider"])
        return self.runtime.connections_store.box.decrypt(row["payload"], bind=bind(OAUTH_STATE, key)), row["provider"]

    def _token_error(
        self,
        provider: Provider,
        failure: _TokenFailure,
        connection_id: str | None,
        secrets_: Sequence[str],
        operation: str | None = None,
    ) -> ProviderCallError:
        """The unified error for a failed token request.

        Only an answer about the grant or the client (``invalid_grant``, ``invalid_client``, ...)
        is an :class:`AuthenticationError`; an outage, a rate limit, a timeout, a dropped
        connection or an unreadable answer is the matching transient error (retryable), so it
        never condemns a connection.
        """
        result = failure.result
        if failure.garbled or isinstance(result, ResponseTooLarge):
            outcome = Outcome.failure(
                Category.PROVIDER_ERROR,
                health=HealthSignal.NEUTRAL,
                status=result.status_code if isinstance(result, httpx2.Response) else None,
                provider_message=str(result) if isinstance(result, Exception) else "the token response is unreadable",
            )
        elif isinstance(result, httpx2.Response):
            outcome = provider.classify_token_error(
                ProviderResponse(result.status_code, result.headers, result.content)
            )
        else:
            outcome = provider.classify_transport_error(result)
        category = outcome.category or Category.AUTHENTICATION
        message = redact_text(
            f"{provider.name} token request failed ({outcome.provider_code or category.value}): "
            f"{outcome.provider_message or ''}".rstrip(": "),
            secrets_,
        )
        hint = outcome.hint
        if category in TRANSIENT and operation == "oauth.refresh" and failure.maybe_processed:
            hint = (
                "the token endpoint's answer was lost: the refresh may have rotated the token. Retry soon: "
                "the next call sends the refresh again, which providers with a reuse grace period accept"
            )
        if category in TRANSIENT and operation == "oauth.code_exchange":
            hint = "the provider's token endpoint failed or did not answer; start the authorization again"
        if category in TRANSIENT and hint is None:
            hint = "the provider's token endpoint failed or did not answer; retry later"
        cls = AuthenticationError if category == Category.AUTHENTICATION else error_class_for(category)
        return cls(
            message,
            category=category,
            status=outcome.status,
            provider=provider.name,
            connection_id=connection_id,
            provider_code=outcome.provider_code,
            provider_message=redact_text(outcome.provider_message or "", secrets_) or None,
            retryable=category in TRANSIENT,
            hint=hint,
            details={**outcome.details, **({"retry_after": outcome.retry_after} if outcome.retry_after else {})},
        )

    def _exchange_flow(
        self, plugin: Provider, integration: Integration, secret: str | None, code: str, pending: Mapping[str, Any]
    ) -> Flow[Connection]:
        from authlib.oauth2.rfc6749.parameters import prepare_token_request

        assert plugin.oauth is not None
        connection_id = pending.get("connection_id") or new_connection_id()
        secrets_ = [code, *([secret] if secret else []), *([pending["verifier"]] if pending.get("verifier") else [])]
        token_url = self._endpoint(plugin, "token_url", integration.config)
        assert token_url is not None
        body = prepare_token_request(
            "authorization_code",
            redirect_uri=pending["redirect_uri"],
            code=code,
            code_verifier=pending.get("verifier"),
        )
        request = self._form_request(plugin, integration, secret, token_url, body)
        result = yield from self._send_flow(
            plugin,
            request,
            connection_id=connection_id,
            operation="oauth.code_exchange",
            secrets_=secrets_,
            repeatable=False,
        )
        try:
            token = _read_token(result)
        except _TokenFailure as failure:
            error = self._token_error(plugin, failure, connection_id, secrets_, "oauth.code_exchange")
            if error.provider_code == "invalid_grant":
                error.hint = "the code was refused (expired, used, or a PKCE mismatch): start the authorization again"
            raise error from None
        credentials = credentials_from_token(plugin, token, previous=None, now=self.runtime.clock())
        config = {**integration.config}
        base_url = plugin.base_url_from_token(token)
        if base_url:
            config["base_url"] = base_url
        granted_provider = _scopes_in(token, plugin.oauth.scope_separator)
        if granted_provider is None and plugin.oauth.introspect_url is not None:
            granted_provider = yield from self._introspect_flow(plugin, integration, secret, credentials, connection_id)
        if granted_provider is None:
            granted_provider = list(pending["provider_scopes"])
        unified = granted_unified_scopes(plugin, pending["scopes"], granted_provider)
        record = ConnectionRecord(
            id=connection_id,
            provider=plugin.name,
            config=config,
            credentials=credentials,
            credentials_version=0,
            scopes=None,
            health=(yield Blocking(partial(self._current_health, connection_id))),
            secrets=[*credentials.secret_values(), *secrets_],
        )
        # The plugin's health check with the new credentials, before anything is stored.
        call = Call(self.runtime, record, plugin, "health_check")
        yield from operation_flow(call, plugin.health_check(call.ctx))
        connection: Connection = yield Blocking(
            partial(self._persist, plugin, record, pending, unified, granted_provider)
        )
        return connection

    def _current_health(self, connection_id: str) -> Any:
        from unified_sdk._health import Health, health_of

        row = self.runtime.store.get_connection(connection_id)
        return health_of(row["last_healthy_at"], row["last_unhealthy_at"]) if row else Health.NEW

    def _introspect_flow(
        self,
        plugin: Provider,
        integration: Integration,
        secret: str | None,
        credentials: Credentials,
        connection_id: str,
    ) -> Flow[list[str] | None]:
        """The granted provider scopes by token introspection (RFC 7662); ``None`` when unknown."""
        assert plugin.oauth is not None
        url = self._endpoint(plugin, "introspect_url", integration.config)
        if url is None:
            return None
        secrets_ = [*credentials.secret_values(), *([secret] if secret else [])]
        built = plugin.introspection_request(url, credentials, integration.client_id, secret)
        request = _with_client_auth(
            httpx2.Request(
                built.method.upper(),
                built.path,
                params=built.params,
                data=built.data,
                json=built.json,
                headers=built.headers,
            ),
            self._auth_method(plugin, integration),
            integration.client_id,
            secret,
        )
        result = yield from self._send_flow(
            plugin,
            request,
            connection_id=connection_id,
            operation="oauth.introspect",
            secrets_=secrets_,
            repeatable=True,
        )
        if not isinstance(result, httpx2.Response) or result.status_code >= 400:
            return None
        return plugin.parse_introspection(ProviderResponse(result.status_code, result.headers, result.content))

    def _persist(
        self,
        plugin: Provider,
        record: ConnectionRecord,
        pending: Mapping[str, Any],
        unified: list[str],
        provider_scopes: list[str],
    ) -> Connection:
        store = self.runtime.connections_store
        now = time.time()
        existing = self.runtime.store.get_connection(record.id)
        ciphertext = store.encrypt_credentials(record.id, record.credentials)
        if existing is None:
            self.runtime.store.insert_connection(
                {
                    "id": record.id,
                    "provider": plugin.name,
                    "external_id": pending.get("external_id"),
                    "auth_type": AuthType.OAUTH2.value,
                    "config": record.config,
                    "credentials": ciphertext,
                    "credentials_version": 1,
                    "scopes": unified,
                    "provider_scopes": provider_scopes,
                    "last_healthy_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            event = "connection.created"
        else:
            self.runtime.store.update_connection(
                record.id,
                {
                    "config": {**(existing["config"] or {}), **record.config},
                    "credentials": ciphertext,
                    "credentials_version": existing["credentials_version"] + 1,
                    "scopes": unified,
                    "provider_scopes": provider_scopes,
                    "last_healthy_at": now,
                    "refresh_failed_at": None,
                    "external_id": pending.get("external_id") or existing["external_id"],
                },
            )
            event = "connection.updated"
            store.forget(record.id)
        self.runtime.events.emit(Event(event, record.id, plugin.name, {"scopes": unified}))
        return Connection.from_row(store.row(record.id))

    # -- refresh --------------------------------------------------------------------
    def refresh_flow(self, conn: ConnectionRecord, *, reason: str) -> Flow[ConnectionRecord]:
        """Refresh ``conn``'s tokens once, however many callers ask at the same moment.

        Callers holding stale credentials get the fresh ones another caller
        stored. Within a process a lock per connection lines callers up (taken
        in a worker thread by the async driver, released when the flow ends or
        is abandoned); across processes a lease in the row decides who
        refreshes, and it lasts longer than the token request can
        (:attr:`lease_seconds`).

        Only an answer that proves the grant is gone (``invalid_grant``,
        ``invalid_client``, ...) marks the connection unhealthy and starts the
        cooldown. A token endpoint that fails, throttles, times out or drops
        the connection raises the matching transient error (retryable) and
        changes nothing, so the next call simply refreshes again.

        The remaining window: a process killed after the provider answered and
        before the new tokens are committed loses them. With rotating refresh
        tokens the stored one is then spent, and the provider's reuse grace
        period (if any) is all that can save the connection. Only encrypting
        the new credentials and the commit stand between the answer and the
        database: no health write, event or other request (see
        docs/troubleshooting.md, "A refresh lost to a crash or a timeout").
        """
        store = self.runtime.connections_store
        with self._locks_guard:
            lock = self._locks[conn.id]
        held = False

        def take() -> bool:
            # A bounded wait: a worker thread blocked here must not starve the holder of threads.
            nonlocal held
            held = lock.acquire(timeout=LOCK_POLL)
            return held

        try:
            while not (yield Blocking(take)):
                pass
            while True:
                row = yield Blocking(partial(store.row, conn.id))
                if row["credentials_version"] != conn.credentials_version:
                    # someone else already refreshed
                    fresh: ConnectionRecord = yield Blocking(partial(store.record, conn.id, fresh=True))
                    return fresh
                failed_at = row["refresh_failed_at"]
                if failed_at is not None and self.runtime.clock() - failed_at < self.cooldown:
                    raise self._cooldown_error(row)
                owner = secrets.token_hex(8)
                if (yield Blocking(partial(self._claim_lease, conn.id, row["credentials_version"], owner))):
                    break
                yield Sleep(0.05)  # another process holds the lease: wait, then re-read
            try:
                refreshed = yield from self._refresh_leased_flow(conn, row, owner)
            except GeneratorExit:
                self._release_lease(conn.id, owner)  # an abandoned flow cannot yield any more
                raise
            except BaseException:
                yield Blocking(partial(self._release_lease, conn.id, owner))
                raise
            yield Blocking(partial(self._release_lease, conn.id, owner))
            return refreshed
        finally:
            if held:
                lock.release()

    def _claim_lease(self, connection_id: str, version: int, owner: str) -> bool:
        from unified_sdk._storage import connections as t

        now = time.time()
        with self.runtime.store.begin() as c:
            claimed = c.execute(
                t.update()
                .where(
                    t.c.id == connection_id,
                    t.c.credentials_version == version,
                    (t.c.refresh_lease_until.is_(None)) | (t.c.refresh_lease_until < now),
                )
                .values(refresh_lease_owner=owner, refresh_lease_until=now + self.lease_seconds)
            ).rowcount
        return bool(claimed == 1)

    def _release_lease(self, connection_id: str, owner: str) -> None:
        from unified_sdk._storage import connections as t

        with self.runtime.store.begin() as c:
            c.execute(
                t.update()
                .where(t.c.id == connection_id, t.c.refresh_lease_owner == owner)
                .values(refresh_lease_owner=None, refresh_lease_until=None)
            )

    def _refresh_leased_flow(
        self, conn: ConnectionRecord, row: Mapping[str, Any], owner: str
    ) -> Flow[ConnectionRecord]:
        from authlib.oauth2.rfc6749.parameters import prepare_token_request

        store = self.runtime.connections_store
        plugin = self.runtime.provider_for(conn.provider)
        current: Credentials = yield Blocking(partial(store.decrypt_credentials, conn.id, row["credentials"]))
        if plugin.oauth is None or not current.refresh_token:
            raise AuthenticationError(
                f"connection {conn.id} has no refresh token",
                provider=plugin.name,
                connection_id=conn.id,
                hint="re-authorize the connection",
            )
        integration, secret = yield Blocking(partial(self._integration, plugin))
        token_url = self._endpoint(plugin, "token_url", row["config"] or {}, integration.config)
        assert token_url is not None
        secrets_ = [*current.secret_values(), *([secret] if secret else [])]
        body = prepare_token_request("refresh_token", refresh_token=current.refresh_token)
        request = self._form_request(plugin, integration, secret, token_url, body)
        result = yield from self._send_flow(
            plugin, request, connection_id=conn.id, operation="oauth.refresh", secrets_=secrets_, repeatable=False
        )
        try:
            token = _read_token(result)
        except _TokenFailure as failure:
            error = self._token_error(plugin, failure, conn.id, secrets_, "oauth.refresh")
            settled: ConnectionRecord | ProviderCallError = yield Blocking(
                partial(self._refresh_failed, conn, row, owner, current, failure, error)
            )
            if isinstance(settled, ConnectionRecord):
                return settled
            raise settled from None
        # Commit the rotated refresh token before the new access token is used; nothing else
        # may stand between the provider's answer and this commit (see the docstring of refresh_flow).
        stored: ConnectionRecord = yield Blocking(
            partial(self._store_refreshed, conn, row, owner, plugin, token, current)
        )
        return stored

    def _store_refreshed(
        self,
        conn: ConnectionRecord,
        row: Mapping[str, Any],
        owner: str,
        plugin: Provider,
        token: Mapping[str, Any],
        current: Credentials,
    ) -> ConnectionRecord:
        store = self.runtime.connections_store
        credentials = credentials_from_token(plugin, token, previous=current, now=self.runtime.clock())
        values: dict[str, Any] = {
            "credentials": store.encrypt_credentials(conn.id, credentials),
            "credentials_version": row["credentials_version"] + 1,
            "refresh_failed_at": None,
        }
        base_url = plugin.base_url_from_token(token)
        if base_url:
            values["config"] = {**(row["config"] or {}), "base_url": base_url}
        self._commit(conn.id, row["credentials_version"], owner, values)
        return store.record(conn.id, fresh=True)

    def _refresh_failed(
        self,
        conn: ConnectionRecord,
        row: Mapping[str, Any],
        owner: str,
        current: Credentials,
        failure: _TokenFailure,
        error: ProviderCallError,
    ) -> ConnectionRecord | ProviderCallError:
        """Record a failed refresh: the error to raise, or the fresh record when another caller
        refreshed meanwhile."""
        store = self.runtime.connections_store
        # Another process may have rotated the token while we were asking.
        latest = store.row(conn.id)
        if latest["credentials_version"] != row["credentials_version"]:
            return store.record(conn.id, fresh=True)
        if error.category == Category.AUTHENTICATION:
            lost_at = current.extra.get(_UNANSWERED)
            if lost_at is not None and error.provider_code in (None, "invalid_grant"):
                error = _refused_after_lost_answer(error, float(lost_at))
            self.runtime.store.update_connection(conn.id, {"refresh_failed_at": time.time()})
            store.record_health(
                conn.id,
                Outcome.failure(
                    Category.AUTHENTICATION,
                    health=HealthSignal.UNHEALTHY,
                    status=error.status,
                    provider_code=error.provider_code,
                ),
                error.message,
            )
        elif failure.maybe_processed and _UNANSWERED not in current.extra:
            self._note_unanswered(conn.id, row, owner, current)
        return error

    def _commit(self, connection_id: str, version: int, owner: str, values: Mapping[str, Any]) -> None:
        """Store refreshed credentials, never over a newer version.

        While we hold the lease the row is ours. If the lease ran out first and
        another caller claimed it, the tokens we got are still stored as long as
        nobody committed newer ones: with rotation they are now the only live
        refresh token, and the other caller's commit (conditional on the same
        version) is the one that then steps aside.
        """
        from unified_sdk._storage import connections as t

        row = t.c
        with self.runtime.store.begin() as c:
            done = c.execute(
                t.update()
                .where(row.id == connection_id, row.refresh_lease_owner == owner, row.credentials_version == version)
                .values(**values, updated_at=time.time())
            ).rowcount
            if done == 1:
                return
            done = c.execute(
                t.update()
                .where(row.id == connection_id, row.credentials_version == version)
                .values(**values, updated_at=time.time())
            ).rowcount
        if done == 1:
            logger.warning(
                "the refresh lease of connection %s ran out before its commit (the token request took longer "
                "than %.0f s); its new tokens were stored",
                connection_id,
                self.lease_seconds,
            )
        else:
            logger.warning(
                "connection %s was refreshed by another caller while this refresh was in flight; "
                "the newer stored tokens were kept and these discarded",
                connection_id,
            )

    def _note_unanswered(self, connection_id: str, row: Mapping[str, Any], owner: str, current: Credentials) -> None:
        """Remember that a sent refresh got no answer, so a later refusal can say what happened.

        The credentials stay as they are (the stored refresh token is the only one we have) and
        the version does not change: no one is told to use new credentials.
        """
        from unified_sdk._storage import connections as t

        marked = replace(current, extra={**current.extra, _UNANSWERED: time.time()})
        with self.runtime.store.begin() as c:
            c.execute(
                t.update()
                .where(
                    t.c.id == connection_id,
                    t.c.refresh_lease_owner == owner,
                    t.c.credentials_version == row["credentials_version"],
                )
                .values(credentials=self.runtime.connections_store.encrypt_credentials(connection_id, marked))
            )
        self.runtime.connections_store.forget(connection_id)

    def _cooldown_error(self, row: Mapping[str, Any]) -> AuthenticationError:
        last = row["last_error"] or {}
        return AuthenticationError(
            f"refreshing connection {row['id']} failed recently: {last.get('message') or 'token refresh failed'}",
            provider=row["provider"],
            connection_id=row["id"],
            provider_code=last.get("code"),
            hint="re-authorize the connection (client.auth.authorization_url(..., connection_id=...))",
            details={"cooldown": True},
        )

    # -- revocation -----------------------------------------------------------------
    def revoke_flow(self, connection_id: str) -> Flow[bool]:
        """Revoke a connection's tokens at the provider (RFC 7009); False when it could not."""
        from authlib.oauth2.rfc7009.parameters import prepare_revoke_token_request

        store = self.runtime.connections_store
        row = yield Blocking(partial(store.row, connection_id))
        plugin = self.runtime.provider_for(row["provider"])
        if plugin.oauth is None or row["auth_type"] != AuthType.OAUTH2.value:
            return False
        try:
            integration, secret = yield Blocking(partial(self._integration, plugin))
        except ConfigurationError:
            return False
        url = self._endpoint(plugin, "revoke_url", row["config"] or {}, integration.config)
        if url is None:
            return False
        creds: Credentials = yield Blocking(partial(store.decrypt_credentials, connection_id, row["credentials"]))
        secrets_ = [*creds.secret_values(), *([secret] if secret else [])]
        ok = True
        for token, hint in ((creds.refresh_token, "refresh_token"), (creds.access_token, "access_token")):
            if token:
                body, _headers = prepare_revoke_token_request(token, hint)
                request = self._form_request(plugin, integration, secret, url, body)
                result = yield from self._send_flow(
                    plugin,
                    request,
                    connection_id=connection_id,
                    operation="oauth.revoke",
                    secrets_=secrets_,
                    repeatable=True,
                )
                ok = ok and isinstance(result, httpx2.Response) and result.status_code < 400
        return ok


class _TokenFailure(Exception):
    """A token request that brought no tokens: the response or transport failure that came instead."""

    def __init__(self, result: httpx2.Response | Exception, *, garbled: bool = False) -> None:
        super().__init__("the token request failed")
        self.result = result
        self.garbled = garbled
        """A success status with a body that is not a token response: the grant was probably used."""

    @property
    def maybe_processed(self) -> bool:
        """Whether the provider may have carried the request out: it was sent and no complete
        answer came back, or a gateway answered for a server that may have processed it."""
        result = self.result
        if self.garbled or isinstance(result, ResponseTooLarge):
            return True
        if isinstance(result, httpx2.Response):
            return result.status_code in (502, 504)
        return may_have_been_sent(result)


def _read_token(result: httpx2.Response | Exception) -> dict[str, Any]:
    """The token response (RFC 6749 section 5.1) parsed by authlib; :class:`_TokenFailure` otherwise."""
    from authlib.oauth2.rfc6749 import OAuth2Token

    if isinstance(result, Exception) or result.status_code >= 400:
        raise _TokenFailure(result)
    try:
        body = result.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _TokenFailure(result, garbled=result.status_code < 300)
    if "error" in body or not body.get("access_token"):
        # A provider's own error shape behind a success status: classified like a 400.
        raise _TokenFailure(httpx2.Response(400, json=body))
    return dict(OAuth2Token.from_dict(body))


def _outcome_of(provider: Provider, result: httpx2.Response | Exception) -> Outcome:
    """How an OAuth request went, for its call-log row and the retry decision."""
    if isinstance(result, ResponseTooLarge):
        return Outcome.failure(
            Category.PROVIDER_ERROR, health=HealthSignal.NEUTRAL, status=result.status, provider_message=str(result)
        )
    if isinstance(result, Exception):
        return provider.classify_transport_error(result)
    if result.status_code < 400:
        return Outcome.success(result.status_code)
    outcome = provider.classify_token_error(ProviderResponse(result.status_code, result.headers, result.content))
    return outcome if outcome.category is not None else replace(outcome, category=Category.AUTHENTICATION)


def _may_resend(result: httpx2.Response | Exception, outcome: Outcome, repeatable: bool) -> bool:
    """Whether a failed OAuth request may be sent again: one that never left always, any other
    transient failure only when repeating it is harmless."""
    if outcome.ok or outcome.category not in TRANSIENT or isinstance(result, ResponseTooLarge):
        return False
    if isinstance(result, Exception) and not may_have_been_sent(result):
        return True
    return repeatable


def _with_client_auth(request: httpx2.Request, method: str, client_id: str, secret: str | None) -> httpx2.Request:
    """``request`` with RFC 6749 section 2.3.1 client authentication by ``method``, unless it has some."""
    import base64
    from urllib.parse import quote_plus, urlencode

    form = parse_qsl(request.content.decode("utf-8", "replace"), keep_blank_values=True)
    if "authorization" in request.headers or any(k in ("client_id", "client_secret") for k, _ in form):
        return request
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-length", "content-type")}
    if method == "client_secret_basic":
        pair = f"{quote_plus(client_id)}:{quote_plus(secret or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    elif method == "client_secret_post":
        form += [("client_id", client_id), ("client_secret", secret or "")]
    else:
        form.append(("client_id", client_id))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return httpx2.Request(request.method, request.url, headers=headers, content=urlencode(form).encode())


def _refused_after_lost_answer(error: ProviderCallError, lost_at: float) -> ProviderCallError:
    """The refusal of a refresh token after an earlier refresh with it got no answer."""
    when = datetime.fromtimestamp(lost_at, UTC).isoformat(timespec="seconds")
    return AuthenticationError(
        f"{error.message}; an earlier refresh with this token (at {when}) got no answer, so the provider "
        "probably rotated it then and the new refresh token never arrived",
        status=error.status,
        provider=error.provider,
        connection_id=error.connection_id,
        provider_code=error.provider_code,
        provider_message=error.provider_message,
        hint=(
            "the lost refresh rotated the token and this provider does not accept the previous one again: "
            "re-authorize the connection (client.auth.authorization_url(..., connection_id=...))"
        ),
        details={**error.details, "refresh_answer_lost_at": lost_at},
    )


def _token_values(response: httpx2.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    return [str(body[k]) for k in ("access_token", "refresh_token", "id_token") if body.get(k)]


def _scopes_in(token: Mapping[str, Any], separator: str) -> list[str] | None:
    scope = token.get("scope")
    if isinstance(scope, str) and scope.strip():
        parts = scope.split(separator) if separator.strip() else scope.split()
        return [s.strip() for s in parts if s.strip()]
    if isinstance(scope, list):
        return [str(s) for s in scope]
    return None


def credentials_from_token(
    provider: Provider, token: Mapping[str, Any], previous: Credentials | None, *, now: float | None = None
) -> Credentials:
    """Credentials from a token response received at ``now``; a missing refresh token keeps the previous one."""
    expires_at = None
    now = time.time() if now is None else now
    expires_in = token.get("expires_in")
    if expires_in is None and provider.oauth is not None:
        expires_in = provider.oauth.expires_in_default
    if expires_in is not None:
        try:
            expires_at = datetime.fromtimestamp(now + float(expires_in), UTC)
        except (TypeError, ValueError):
            expires_at = None
    refresh = token.get("refresh_token") or (previous.refresh_token if previous else None)
    keep = {k: v for k, v in token.items() if k not in ("access_token", "refresh_token", "id_token", "expires_at")}
    return Credentials(
        type=AuthType.OAUTH2,
        access_token=str(token["access_token"]),
        refresh_token=str(refresh) if refresh else None,
        expires_at=expires_at,
        token_type=token.get("token_type"),
        extra=keep,
        issued_at=datetime.fromtimestamp(now, UTC),
    )


def manager(runtime: Runtime) -> OAuthManager:
    """The OAuth machinery of ``runtime`` (its refresher)."""
    found = runtime.refresher
    assert isinstance(found, OAuthManager)
    return found
