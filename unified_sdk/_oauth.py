"""OAuth 2 connections: integrations, authorization URLs with unified scopes,
callback completion, single-flight refresh and revocation.

authlib speaks the protocol (authorization URL, PKCE, code exchange, refresh,
revocation); this module owns scope mapping, state, storage, health and the
single-flight lease. It is blocking by design: the async client runs it in a
worker thread, so threads, asyncio tasks and processes all meet at one arbiter
(a lease in the connection's row).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
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
from unified_sdk._outcome import Category, HealthSignal, Outcome
from unified_sdk._pipeline import Call, new_log_id, operation_flow
from unified_sdk._redact import redact_text, sending
from unified_sdk._scopes import UNIFIED_SCOPES
from unified_sdk.errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    ProviderCallError,
    UnifiedError,
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

    def _oauth_client(self, provider: Provider, integration: Integration, secret: str | None, log: Any) -> Any:
        from authlib.integrations.httpx_client import OAuth2Client

        assert provider.oauth is not None
        method = self._auth_method(provider, integration)
        return OAuth2Client(
            client_id=integration.client_id,
            client_secret=secret,
            # authlib would revoke with client_secret_basic whatever the token endpoint uses.
            token_endpoint_auth_method=method,
            revocation_endpoint_auth_method=method,
            redirect_uri=integration.redirect_uri,
            code_challenge_method="S256" if provider.oauth.pkce else None,
            timeout=self.runtime.timeout,
            event_hooks={"response": [log]},
        )

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
        from authlib.integrations.httpx_client import OAuth2Client

        with OAuth2Client(
            client_id=integration.client_id,
            redirect_uri=redirect,
            code_challenge_method="S256" if spec.pkce else None,
        ) as oauth:
            url, _ = oauth.create_authorization_url(
                authorize_url, state=state, code_verifier=verifier, scope=scope_value, **params
            )
        # Spaces as %20, not form-encoding's "+": what providers document (HubSpot's scope=a%20b) and
        # what every decoder reads as a space. A literal "+" was already encoded as %2B.
        base, _, query = url.partition("?")
        url = base + "?" + query.replace("+", "%20")
        now = time.time()
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

    # -- callback -------------------------------------------------------------------
    def complete(
        self, callback_url: str | None = None, *, code: str | None = None, state: str | None = None
    ) -> Connection:
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
        pending, provider_name = self._take_state(params["state"])
        if not params.get("code"):
            raise AuthorizationError("the callback has no authorization code", provider=provider_name)
        plugin = self.runtime.provider_for(provider_name)
        return self._exchange(plugin, params["code"], pending)

    def _take_state(self, state: str) -> tuple[dict[str, Any], str]:
        """Claim a stored state once; unknown, expired and reused states are refused."""
        from sqlalchemy import select

        from unified_sdk._storage import oauth_states as t

        now = time.time()
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

    def _token_logger(
        self, provider: Provider, connection_id: str | None, operation: str, secrets_: list[str]
    ) -> _TokenLog:
        runtime = self.runtime

        def log(response: httpx2.Response) -> None:
            response.read()
            hook.last = response
            request = response.request
            category = None
            if response.status_code >= 400:
                outcome = provider.classify_token_error(
                    ProviderResponse(response.status_code, response.headers, response.content)
                )
                category = (outcome.category or Category.AUTHENTICATION).value
            runtime.logs.submit(
                log_id=new_log_id(),
                connection_id=connection_id,
                provider=provider.name,
                operation=operation,
                method=request.method,
                url=str(request.url),
                request_headers=request.headers.multi_items(),
                request_body=request.content,
                status=response.status_code,
                response_headers=response.headers.multi_items(),
                response_body=response.content,
                duration_ms=response.elapsed.total_seconds() * 1000 if response.is_closed else 0.0,
                category=category,
                action=None,
                action_reason=None,
                attempt=1,
                error=None,
                provider_request_id=None,
                created_at=time.time(),
                secrets=[*secrets_, *_token_values(response)],
            )

        hook = _TokenLog(log)
        return hook

    def _log_unanswered(
        self,
        provider: Provider,
        connection_id: str | None,
        operation: str,
        exc: httpx2.TransportError,
        category: Category,
        secrets_: Sequence[str],
    ) -> None:
        """A call-log row for a token-endpoint request that got no (complete) answer."""
        try:
            request: httpx2.Request | None = exc.request
        except RuntimeError:
            request = None
        if request is None:
            return
        self.runtime.logs.submit(
            log_id=new_log_id(),
            connection_id=connection_id,
            provider=provider.name,
            operation=operation,
            method=request.method,
            url=str(request.url),
            request_headers=request.headers.multi_items(),
            request_body=request.content,
            status=None,
            response_headers=None,
            response_body=None,
            duration_ms=0.0,
            category=category.value,
            action=None,
            action_reason=None,
            attempt=1,
            error=redact_text(f"{type(exc).__name__}: {exc}".rstrip(": "), list(secrets_)),
            provider_request_id=None,
            created_at=time.time(),
            secrets=list(secrets_),
        )

    def _token_error(
        self,
        provider: Provider,
        exc: Exception,
        connection_id: str | None,
        secrets_: Sequence[str],
        operation: str | None = None,
        last: httpx2.Response | None = None,
    ) -> ProviderCallError:
        """The unified error for a failed token request.

        Only an answer about the grant or the client (``invalid_grant``, ``invalid_client``, ...)
        is an :class:`AuthenticationError`; an outage, a rate limit, a timeout or a dropped
        connection is the matching transient error (retryable), so it never condemns a connection.
        """
        response = getattr(exc, "response", None)
        if not isinstance(response, httpx2.Response) and last is not None and last.status_code >= 400:
            response = last  # authlib raises its own error for an RFC 6749 error body: read the real answer
        if isinstance(response, httpx2.Response):
            outcome = provider.classify_token_error(
                ProviderResponse(response.status_code, response.headers, response.content)
            )
        elif isinstance(exc, httpx2.TransportError):
            outcome = provider.classify_transport_error(exc)
            if operation is not None and outcome.category is not None:
                self._log_unanswered(provider, connection_id, operation, exc, outcome.category, secrets_)
        else:
            error = getattr(exc, "error", None) or type(exc).__name__
            description = getattr(exc, "description", None) or str(exc)
            outcome = provider.classify_token_error(
                ProviderResponse(
                    400, {"content-type": "application/json"}, _json({"error": error, "error_description": description})
                )
            )
        category = outcome.category or Category.AUTHENTICATION
        message = redact_text(
            f"{provider.name} token request failed ({outcome.provider_code or category.value}): "
            f"{outcome.provider_message or ''}".rstrip(": "),
            secrets_,
        )
        hint = outcome.hint
        if category in TRANSIENT and operation == "oauth.refresh" and _maybe_processed(exc, outcome.status):
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

    def _exchange(self, plugin: Provider, code: str, pending: Mapping[str, Any]) -> Connection:
        integration, secret = self._integration(plugin)
        assert plugin.oauth is not None
        connection_id = pending.get("connection_id") or new_connection_id()
        secrets_ = [code, *([secret] if secret else []), *([pending["verifier"]] if pending.get("verifier") else [])]
        token_url = self._endpoint(plugin, "token_url", integration.config)
        assert token_url is not None
        log = self._token_logger(plugin, connection_id, "oauth.code_exchange", secrets_)
        try:
            with self._oauth_client(plugin, integration, secret, log) as oauth:
                oauth.redirect_uri = pending["redirect_uri"]
                token = dict(
                    oauth.fetch_token(
                        token_url,
                        grant_type="authorization_code",
                        code=code,
                        code_verifier=pending.get("verifier"),
                    )
                )
        except UnifiedError:
            raise
        except Exception as exc:
            error = self._token_error(plugin, exc, connection_id, secrets_, "oauth.code_exchange", log.last)
            if error.provider_code == "invalid_grant":
                error.hint = "the code was refused (expired, used, or a PKCE mismatch): start the authorization again"
            raise error from None
        if not token.get("access_token"):
            raise self._token_error(plugin, _TokenBodyError(token), connection_id, secrets_)
        credentials = credentials_from_token(plugin, token, previous=None)
        config = {**integration.config}
        base_url = plugin.base_url_from_token(token)
        if base_url:
            config["base_url"] = base_url
        granted_provider = _scopes_in(token, plugin.oauth.scope_separator)
        if granted_provider is None and plugin.oauth.introspect_url is not None:
            granted_provider = self._introspect(plugin, integration, secret, credentials, connection_id)
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
            health=self._current_health(connection_id),
            secrets=[*credentials.secret_values(), *secrets_],
        )
        self._check(plugin, record)
        return self._persist(plugin, record, pending, unified, granted_provider)

    def _current_health(self, connection_id: str) -> Any:
        from unified_sdk._health import Health, health_of

        row = self.runtime.store.get_connection(connection_id)
        return health_of(row["last_healthy_at"], row["last_unhealthy_at"]) if row else Health.NEW

    def _introspect(
        self,
        plugin: Provider,
        integration: Integration,
        secret: str | None,
        credentials: Credentials,
        connection_id: str,
    ) -> list[str] | None:
        assert plugin.oauth is not None
        url = self._endpoint(plugin, "introspect_url", integration.config)
        if url is None:
            return None
        secrets_ = [*credentials.secret_values(), *([secret] if secret else [])]
        log = self._token_logger(plugin, connection_id, "oauth.introspect", secrets_)
        request = _with_client_auth(
            plugin.introspection_request(url, credentials, integration.client_id, secret),
            self._auth_method(plugin, integration),
            integration.client_id,
            secret,
        )
        with httpx2.Client(timeout=self.runtime.timeout, event_hooks={"response": [log]}) as http:
            try:
                with sending(secrets_):  # the plugin builds this request: its URL may hold the token
                    response = http.send(request)
            except httpx2.TransportError:
                return None
        if response.status_code >= 400:
            return None
        return plugin.parse_introspection(ProviderResponse(response.status_code, response.headers, response.content))

    def _check(self, plugin: Provider, record: ConnectionRecord) -> None:
        """Run the plugin's health check with the new credentials, before anything is stored."""
        from unified_sdk._drivers import run_sync

        call = Call(self.runtime, record, plugin, "health_check")
        with httpx2.Client(timeout=self.runtime.timeout) as http:
            run_sync(operation_flow(call, plugin.health_check(call.ctx)), http)

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
    def refresh(self, conn: ConnectionRecord, *, reason: str) -> ConnectionRecord:
        """Refresh ``conn``'s tokens once, however many callers ask at the same moment.

        Callers holding stale credentials get the fresh ones another caller
        stored. Across processes a lease in the row decides who refreshes; it
        lasts longer than the token request can (:attr:`lease_seconds`).

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
        with lock:
            while True:
                row = store.row(conn.id)
                if row["credentials_version"] != conn.credentials_version:
                    return store.record(conn.id, fresh=True)  # someone else already refreshed
                failed_at = row["refresh_failed_at"]
                if failed_at is not None and time.time() - failed_at < self.cooldown:
                    raise self._cooldown_error(row)
                owner = secrets.token_hex(8)
                if self._claim_lease(conn.id, row["credentials_version"], owner):
                    break
                time.sleep(0.05)  # another process holds the lease: wait, then re-read
            try:
                return self._do_refresh(conn, row, owner)
            finally:
                self._release_lease(conn.id, owner)

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

    def _do_refresh(self, conn: ConnectionRecord, row: Mapping[str, Any], owner: str) -> ConnectionRecord:
        store = self.runtime.connections_store
        plugin = self.runtime.provider_for(conn.provider)
        current = store.decrypt_credentials(conn.id, row["credentials"])
        if plugin.oauth is None or not current.refresh_token:
            raise AuthenticationError(
                f"connection {conn.id} has no refresh token",
                provider=plugin.name,
                connection_id=conn.id,
                hint="re-authorize the connection",
            )
        integration, secret = self._integration(plugin)
        token_url = self._endpoint(plugin, "token_url", row["config"] or {}, integration.config)
        assert token_url is not None
        secrets_ = [*current.secret_values(), *([secret] if secret else [])]
        log = self._token_logger(plugin, conn.id, "oauth.refresh", secrets_)
        try:
            with self._oauth_client(plugin, integration, secret, log) as oauth:
                token = dict(oauth.refresh_token(token_url, refresh_token=current.refresh_token))
            if not token.get("access_token"):
                raise _TokenBodyError(token)
        except Exception as exc:
            error = self._token_error(plugin, exc, conn.id, secrets_, "oauth.refresh", log.last)
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
            elif _maybe_processed(exc, error.status) and _UNANSWERED not in current.extra:
                self._note_unanswered(conn.id, row, owner, current)
            raise error from None
        credentials = credentials_from_token(plugin, token, previous=current)
        values: dict[str, Any] = {
            "credentials": store.encrypt_credentials(conn.id, credentials),
            "credentials_version": row["credentials_version"] + 1,
            "refresh_failed_at": None,
        }
        base_url = plugin.base_url_from_token(token)
        if base_url:
            values["config"] = {**(row["config"] or {}), "base_url": base_url}
        # Commit the rotated refresh token before the new access token is used; nothing else
        # may stand between the provider's answer and this commit (see the docstring of refresh).
        self._commit(conn.id, row["credentials_version"], owner, values)
        return store.record(conn.id, fresh=True)

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
    def revoke(self, connection_id: str) -> bool:
        """Revoke a connection's tokens at the provider (RFC 7009); False when it could not."""
        store = self.runtime.connections_store
        row = store.row(connection_id)
        plugin = self.runtime.provider_for(row["provider"])
        if plugin.oauth is None or row["auth_type"] != AuthType.OAUTH2.value:
            return False
        try:
            integration, secret = self._integration(plugin)
        except ConfigurationError:
            return False
        url = self._endpoint(plugin, "revoke_url", row["config"] or {}, integration.config)
        if url is None:
            return False
        creds = store.decrypt_credentials(connection_id, row["credentials"])
        secrets_ = [*creds.secret_values(), *([secret] if secret else [])]
        log = self._token_logger(plugin, connection_id, "oauth.revoke", secrets_)
        ok = True
        try:
            with self._oauth_client(plugin, integration, secret, log) as oauth:
                for token, hint in ((creds.refresh_token, "refresh_token"), (creds.access_token, "access_token")):
                    if token:
                        response = oauth.revoke_token(url, token=token, token_type_hint=hint)
                        ok = ok and response.status_code < 400
        except Exception:
            return False
        return ok


class _TokenLog:
    """The response hook of token-endpoint requests: a call-log row each, and the last response kept."""

    def __init__(self, write: Callable[[httpx2.Response], None]) -> None:
        self._write = write
        self.last: httpx2.Response | None = None

    def __call__(self, response: httpx2.Response) -> None:
        self._write(response)


class _TokenBodyError(Exception):
    """A token response without an access token (a provider's own error shape)."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        super().__init__("the token response has no access_token")
        self.response = httpx2.Response(400, json=dict(body))


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


def _maybe_processed(exc: Exception, status: int | None) -> bool:
    """Whether a failed token request may have been carried out by the provider: it was sent and
    no complete answer came back, or a gateway answered for a server that may have processed it."""
    if isinstance(exc, httpx2.TransportError):
        return not isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout)
    return status in (502, 504)


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


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


def credentials_from_token(provider: Provider, token: Mapping[str, Any], previous: Credentials | None) -> Credentials:
    """Credentials from a token response; a missing refresh token keeps the previous one."""
    expires_at = None
    now = time.time()
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
