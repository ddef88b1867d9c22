"""``Client`` and ``AsyncClient``: one shared core, two drivers."""

from __future__ import annotations

import atexit
import builtins
import logging
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx2

from unified_sdk._actions import ActionPolicy, Decision
from unified_sdk._bookkeeping import CLOSE_TIMEOUT, Bookkeeper, BookkeepingStats
from unified_sdk._connections import (
    Connection,
    ConnectionRecord,
    ConnectionStore,
    credentials_from_input,
    new_connection_id,
)
from unified_sdk._dburl import default_sqlite_path, sqlite_path
from unified_sdk._drivers import run_async, run_sync
from unified_sdk._events import Event, EventBus
from unified_sdk._limits import DEFAULT_MAX_RESPONSE_BYTES
from unified_sdk._logs import CallLog
from unified_sdk._outcome import Outcome
from unified_sdk._pipeline import Call, Flow, operation_flow
from unified_sdk._redact import install_log_redaction
from unified_sdk._registry import ProviderRegistry
from unified_sdk._retry_budget import RetryBudgets
from unified_sdk._scopes import UNIFIED_SCOPES, scope_for
from unified_sdk._throttle import Throttle
from unified_sdk.errors import (
    ConfigurationError,
    NotSupportedError,
    PermissionDeniedError,
)
from unified_sdk.provider import Provider, ProviderResponse, ScopeMapping

if TYPE_CHECKING:
    from unified_sdk._crypto import SecretBox
    from unified_sdk._keys import KeyRotation
    from unified_sdk._oauth import AuthorizationRequest, Integration, OAuthManager
    from unified_sdk._resources import AsyncCrm, Crm
    from unified_sdk._storage import Store

T = TypeVar("T")

logger = logging.getLogger("unified_sdk")

ENV_DATABASE_URL = "UNIFIED_SDK_DATABASE_URL"
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What an installed provider offers (``client.providers.list()``)."""

    name: str
    display_name: str
    categories: frozenset[str]
    auth_types: frozenset[str]
    unified_scopes: list[str]
    scopes: Mapping[str, ScopeMapping]
    """Unified scope → the provider scopes it needs (required and optional)."""
    resources: list[str]
    version: str

    @classmethod
    def of(cls, provider: Provider) -> ProviderInfo:
        return cls(
            name=provider.name,
            display_name=provider.display_name,
            categories=frozenset(provider.categories),
            auth_types=frozenset(a.value for a in provider.auth_types),
            unified_scopes=sorted(provider.scopes),
            scopes=dict(provider.scopes),
            resources=sorted(provider.adapters),
            version=provider.version,
        )


class _Core:
    """Everything the two clients share: storage, plugins, policies, logs, events."""

    def __init__(
        self,
        *,
        database_url: str | None,
        secret_key: str | Sequence[str] | None,
        timeout: float,
        webhook_url: str | None,
        webhook_secret: str | None,
        providers: Mapping[str, type[Provider]] | None,
        refresh_skew: float,
        log_bodies: bool,
        rate_limit_warning: float = 0.9,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        install_log_redaction()
        if not timeout > 0:
            raise ConfigurationError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) or max_response_bytes < 1:
            raise ConfigurationError(f"max_response_bytes must be a positive integer, not {max_response_bytes!r}")
        url = database_url or os.environ.get(ENV_DATABASE_URL) or f"sqlite:///{default_sqlite_path()}"
        self.database_url = url
        self._secret_key = secret_key
        self.registry = ProviderRegistry(dict(providers) if providers is not None else None)
        self.events = EventBus(webhook_url, webhook_secret)
        self.actions = ActionPolicy()
        self.throttle = Throttle()
        self.retry_budgets = RetryBudgets()
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.refresh_skew = refresh_skew
        self.rate_limit_warning = rate_limit_warning
        self.log_bodies = log_bodies
        self.user_agent = "unified-sdk-python/0.1"
        self._refresh_lock = threading.Lock()
        # Pending call logs and events are written at interpreter exit even if the client is never closed.
        # The hook holds the core weakly, so registering it keeps nothing alive.
        self._exit_hook: Callable[[], None] | None = partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._exit_hook)

    # The database is opened on first use: constructing a client imports no SQLAlchemy.
    @cached_property
    def store(self) -> Store:
        from unified_sdk._storage import Store

        return Store(self.database_url, on_open=self._check_key)

    @cached_property
    def connections_store(self) -> ConnectionStore:
        return ConnectionStore(self.store, lambda: self._make_box(self._secret_key), self.events, self.logs)

    @cached_property
    def logs(self) -> Bookkeeper:
        """The bookkeeping writer: call-log rows, health and rate-limit budgets, off the request path."""
        return Bookkeeper(self.store)

    def _key_file(self) -> Path | None:
        path = sqlite_path(self.database_url)
        return path.with_name(path.name + ".key") if path is not None else None

    def _check_key(self) -> None:
        """When the database opens: refuse a wrong key (or a lost key file) before any read or write."""
        from unified_sdk._crypto import configured_keys
        from unified_sdk._keys import holds_secrets

        key_file = self._key_file()
        if configured_keys(self._secret_key, key_file) is not None or (
            key_file is not None and holds_secrets(self.store)
        ):
            self.connections_store.box  # noqa: B018  (opening the box checks the key against the database)

    def _make_box(self, secret_key: str | Sequence[str] | None) -> SecretBox:
        from unified_sdk._keys import open_box

        key_file = self._key_file()
        if key_file is None and not secret_key and self.database_url.startswith("sqlite"):
            # In-memory SQLite: secrets live only as long as the process, so a random key will do.
            from cryptography.fernet import Fernet

            secret_key = Fernet.generate_key().decode()
        return open_box(self.store, secret_key, key_file)

    def jitter(self) -> float | None:
        """The random factor of backoff (None: random). Pin it in tests by overriding."""
        return None

    # -- calls ------------------------------------------------------------------------
    def provider_for(self, name: str) -> Provider:
        return self.registry.get(name)

    def prepare(
        self, connection_id: str, resource: str, operation: str, conn: ConnectionRecord | None = None
    ) -> tuple[Call, Any]:
        """Load the connection and its adapter, and check the call may be made (nothing is sent)."""
        if conn is None:
            conn = self.connections_store.record(connection_id)
        provider = self.provider_for(conn.provider)
        op_name = f"{resource}.{operation}"
        adapter = provider.adapter(resource)
        if adapter is None or not adapter.supports(operation):
            raise NotSupportedError(
                f"{provider.name} does not support {op_name}",
                provider=provider.name,
                connection_id=connection_id,
                hint=f"{provider.display_name} supports: {', '.join(sorted(provider.adapters)) or 'nothing yet'}",
            )
        self._check_scopes(conn, provider, resource, operation)
        return Call(self, conn, provider, op_name), adapter

    def prepare_passthrough(self, connection_id: str) -> Call:
        conn = self.connections_store.record(connection_id)
        return Call(self, conn, self.provider_for(conn.provider), "passthrough")

    def _check_scopes(self, conn: ConnectionRecord, provider: Provider, resource: str, operation: str) -> None:
        needed = scope_for(resource, operation)
        if needed is None or conn.scopes is None or needed in conn.scopes:
            return
        mapping = provider.scopes.get(needed)
        provider_scopes = f" ({provider.name}: {', '.join(mapping.required)})" if mapping and mapping.required else ""
        raise PermissionDeniedError(
            f"connection {conn.id} was not granted the unified scope {needed!r}{provider_scopes} "
            f"needed by {resource}.{operation}",
            provider=provider.name,
            connection_id=conn.id,
            hint=f"re-authorize with scopes {sorted({*conn.scopes, needed})} "
            "(client.auth.authorization_url(..., connection_id=...))",
            details={"missing_scopes": [needed]},
        )

    @cached_property
    def oauth(self) -> OAuthManager:
        from unified_sdk._oauth import OAuthManager

        return OAuthManager(self)

    def refresh(self, conn: ConnectionRecord, *, reason: str) -> ConnectionRecord:
        """Refresh OAuth credentials, single-flight across threads, tasks and processes."""
        return self.oauth.refresh(conn, reason=reason)

    def log(
        self,
        *,
        log_id: str,
        call: Call,
        request: httpx2.Request,
        result: httpx2.Response | Exception,
        duration_ms: float,
        outcome: Outcome,
        decision: Decision,
        applied: str,
        attempt: int,
        created_at: float,
    ) -> None:
        response = result if isinstance(result, httpx2.Response) else None
        self.logs.submit(
            log_id=log_id,
            connection_id=call.conn.id,
            provider=call.provider.name,
            operation=call.operation,
            method=request.method,
            url=str(request.url),
            request_headers=request.headers.multi_items(),
            request_body=request.content if self.log_bodies else None,
            status=response.status_code if response is not None else None,
            response_headers=response.headers.multi_items() if response is not None else None,
            response_body=response.content if (response is not None and self.log_bodies) else None,
            duration_ms=duration_ms,
            category=outcome.category.value if outcome.category else None,
            action=_APPLIED.get(applied, applied),
            action_reason=decision.reason,
            attempt=attempt,
            error=None if response is not None else f"{type(result).__name__}: {outcome.provider_message}",
            provider_request_id=outcome.request_id,
            created_at=created_at,
            secrets=call.conn.secrets,
        )

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Write pending call logs, health and events (waiting at most about ``timeout``), then release."""
        if self._exit_hook is not None:
            atexit.unregister(self._exit_hook)
            self._exit_hook = None
        if "logs" in self.__dict__:
            self.logs.close(timeout)
        self.events.close()
        if "store" in self.__dict__:
            self.store.dispose()


def _close_at_exit(ref: weakref.ref[_Core]) -> None:
    core = ref()
    if core is not None:
        try:
            core.close()
        except Exception:  # at exit there is no caller to raise to
            logger.exception("could not write pending call logs at exit")


_APPLIED = {"return": "none", "succeed": "succeed", "refresh": "refresh_and_retry", "wait": "wait_and_retry"}


# -- services shared by both clients (storage is synchronous) -------------------------------
class Providers:
    """``client.providers``: the installed provider plugins."""

    def __init__(self, core: _Core) -> None:
        self._core = core

    def list(self) -> builtins.list[ProviderInfo]:
        """Every provider that loads; broken plugins are listed in :attr:`errors`."""
        return [ProviderInfo.of(p) for p in self._core.registry.load_all()]

    def names(self) -> builtins.list[str]:
        """Installed provider names, without importing any plugin."""
        return self._core.registry.names()

    def get(self, name: str) -> ProviderInfo:
        return ProviderInfo.of(self._core.registry.get(name))

    @property
    def errors(self) -> dict[str, str]:
        """Plugins that failed to load: name → error."""
        return self._core.registry.errors


class _ConnectionsBase:
    def __init__(self, core: _Core) -> None:
        self._core = core

    def _create(
        self,
        provider: str,
        credentials: Mapping[str, Any],
        external_id: str | None,
        config: Mapping[str, Any] | None,
        scopes: Sequence[str] | None,
    ) -> Connection:
        plugin = self._core.provider_for(provider)
        creds = credentials_from_input(credentials)
        if creds.type not in plugin.auth_types:
            raise ConfigurationError(
                f"{plugin.name} does not accept {creds.type.value} credentials",
                provider=plugin.name,
                hint=f"{plugin.display_name} accepts: {', '.join(sorted(a.value for a in plugin.auth_types))}",
            )
        if scopes is not None:
            unknown = [s for s in scopes if s not in UNIFIED_SCOPES]
            if unknown:
                raise ConfigurationError(
                    f"unknown unified scopes: {unknown}", hint=f"known: {', '.join(UNIFIED_SCOPES)}"
                )
        store = self._core.connections_store
        now = time.time()
        connection_id = new_connection_id()
        row = {
            "id": connection_id,
            "provider": plugin.name,
            "external_id": external_id,
            "auth_type": creds.type.value,
            "config": dict(config or {}),
            "credentials": store.encrypt_credentials(connection_id, creds),
            "credentials_version": 1,
            "scopes": list(scopes) if scopes is not None else None,
            "created_at": now,
            "updated_at": now,
        }
        self._core.store.insert_connection(row)
        conn = Connection.from_row(store.row(str(row["id"])))
        self._core.events.emit(Event("connection.created", conn.id, conn.provider, {"external_id": external_id}))
        return conn

    def _get(self, connection_id: str) -> Connection:
        return Connection.from_row(self._core.connections_store.row(connection_id))

    def _list(self, provider: str | None, external_id: str | None) -> list[Connection]:
        rows = self._core.store.list_connections(provider=provider, external_id=external_id)
        return [Connection.from_row(r) for r in rows]

    def _update(
        self,
        connection_id: str,
        config: Mapping[str, Any] | None,
        credentials: Mapping[str, Any] | None,
        external_id: str | None,
    ) -> Connection:
        store = self._core.connections_store
        row = store.row(connection_id)
        values: dict[str, Any] = {}
        if config is not None:
            values["config"] = {**(row["config"] or {}), **config}
        if credentials is not None:
            values["credentials"] = store.encrypt_credentials(connection_id, credentials_from_input(credentials))
            values["credentials_version"] = row["credentials_version"] + 1
        if external_id is not None:
            values["external_id"] = external_id
        if values:
            self._core.store.update_connection(connection_id, values)
            store.forget(connection_id)
            self._core.events.emit(
                Event("connection.updated", connection_id, row["provider"], {"changed": sorted(values)})
            )
        return self._get(connection_id)

    def _delete(self, connection_id: str) -> None:
        row = self._core.connections_store.row(connection_id)
        if row["auth_type"] == "oauth2":
            # Revoke where the provider can; delete even when revocation fails (it is in the call logs).
            revoked = self._core.oauth.revoke(connection_id)
            if not revoked:
                logger.warning("could not revoke the tokens of connection %s at the provider", connection_id)
        self._core.store.delete_connection(connection_id)
        self._core.connections_store.forget(connection_id)
        self._core.events.emit(Event("connection.deleted", connection_id, row["provider"], {}))

    def _check_flow(self, connection_id: str) -> Flow[Connection]:
        from unified_sdk._pipeline import Blocking

        conn = yield Blocking(lambda: self._core.connections_store.record(connection_id))
        provider = self._core.provider_for(conn.provider)
        call = Call(self._core, conn, provider, "health_check")
        yield from operation_flow(call, provider.health_check(call.ctx))
        checked: Connection = yield Blocking(lambda: self._get(connection_id))
        return checked


class Connections(_ConnectionsBase):
    """``client.connections``: create, read, update, delete and check connections."""

    def __init__(self, client: Client) -> None:
        super().__init__(client._core)
        self._client = client

    def create(
        self,
        *,
        provider: str,
        credentials: Mapping[str, Any],
        external_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> Connection:
        """Store a connection with API-key (or existing OAuth token) credentials, encrypted.

        Example::

            conn = client.connections.create(provider="sandbox", credentials={"api_key": "..."},
                                             external_id="customer-42", config={"base_url": url})
        """
        return self._create(provider, credentials, external_id, config, scopes)

    def get(self, connection_id: str) -> Connection:
        return self._get(connection_id)

    def list(self, *, provider: str | None = None, external_id: str | None = None) -> list[Connection]:
        return self._list(provider, external_id)

    def update(
        self,
        connection_id: str,
        *,
        config: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        external_id: str | None = None,
    ) -> Connection:
        return self._update(connection_id, config, credentials, external_id)

    def delete(self, connection_id: str) -> None:
        self._delete(connection_id)

    def check(self, connection_id: str) -> Connection:
        """Run the provider's health check now; returns the connection with its new health.

        Raises the unified error when the check fails.
        """
        return self._client._run(self._check_flow(connection_id))


class AsyncConnections(_ConnectionsBase):
    """The async twin of :class:`Connections` (storage runs in a worker thread)."""

    def __init__(self, client: AsyncClient) -> None:
        super().__init__(client._core)
        self._client = client

    async def create(
        self,
        *,
        provider: str,
        credentials: Mapping[str, Any],
        external_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> Connection:
        return await _thread(lambda: self._create(provider, credentials, external_id, config, scopes))

    async def get(self, connection_id: str) -> Connection:
        return await _thread(lambda: self._get(connection_id))

    async def list(self, *, provider: str | None = None, external_id: str | None = None) -> list[Connection]:
        return await _thread(lambda: self._list(provider, external_id))

    async def update(
        self,
        connection_id: str,
        *,
        config: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        external_id: str | None = None,
    ) -> Connection:
        return await _thread(lambda: self._update(connection_id, config, credentials, external_id))

    async def delete(self, connection_id: str) -> None:
        await _thread(lambda: self._delete(connection_id))

    async def check(self, connection_id: str) -> Connection:
        return await self._client._run(self._check_flow(connection_id))


async def _thread(fn: Callable[[], T]) -> T:
    import anyio

    return await anyio.to_thread.run_sync(fn)


class Logs:
    """``client.logs``: the call logs, newest first."""

    def __init__(self, core: _Core) -> None:
        self._core = core

    def list(
        self,
        *,
        connection_id: str | None = None,
        status_min: int | None = None,
        status_max: int | None = None,
        category: str | None = None,
        since: datetime | float | None = None,
        limit: int = 100,
    ) -> list[CallLog]:
        """Call-log rows matching the filters; every call made before this one is included."""
        self._core.logs.flush()
        since_ts = since.timestamp() if isinstance(since, datetime) else since
        rows = self._core.store.list_call_logs(
            connection_id=connection_id,
            status_min=status_min,
            status_max=status_max,
            category=category,
            since=since_ts,
            limit=limit,
        )
        return [CallLog.from_row(r) for r in rows]

    def get(self, log_id: str) -> CallLog | None:
        self._core.logs.flush()
        row = self._core.store.get_call_log(log_id)
        return CallLog.from_row(row) if row else None


class Passthrough:
    """``client.passthrough``: any provider request through the same pipeline (auth, logs, retries)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def request(
        self,
        connection_id: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ProviderResponse:
        """Send ``method path`` (relative to the connection's API base URL) and return the response.

        An absolute URL is accepted only on the connection's API host (or a host its provider
        declares); any other raises :class:`~unified_sdk.errors.ValidationError` before sending.
        """
        from unified_sdk._resources import passthrough_flow

        flow = passthrough_flow(
            self._client._core,
            connection_id,
            method,
            path,
            params=params,
            json=json,
            data=data,
            headers=headers,
        )
        return self._client._run(flow)


class AsyncPassthrough:
    """The async twin of :class:`Passthrough`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def request(
        self,
        connection_id: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ProviderResponse:
        from unified_sdk._resources import passthrough_flow

        flow = passthrough_flow(
            self._client._core,
            connection_id,
            method,
            path,
            params=params,
            json=json,
            data=data,
            headers=headers,
        )
        return await self._client._run(flow)


class Integrations:
    """``client.integrations``: the app's OAuth client registration per provider."""

    def __init__(self, core: _Core) -> None:
        self._core = core

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
        """Register (or replace) the OAuth client for ``provider``; the secret is stored encrypted.

        ``config`` overrides endpoints (``authorize_url``, ``token_url``, ``revoke_url``,
        ``introspect_url``) and ``base_url``; connections made through it inherit it.
        ``token_endpoint_auth_method`` (``client_secret_post``, ``client_secret_basic`` or
        ``none``) overrides how the provider plugin authenticates the app to the token,
        revocation and introspection endpoints, e.g. for an app registered for Basic auth.
        """
        return self._core.oauth.configure(
            provider,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            config=config,
            token_endpoint_auth_method=token_endpoint_auth_method,
        )


class Keys:
    """``client.keys``: the secret keys that encrypt credentials, client secrets and PKCE verifiers at rest."""

    def __init__(self, core: _Core) -> None:
        self._core = core

    def rotate(self, *, batch_size: int = 500, on_batch: Callable[[KeyRotation], None] | None = None) -> KeyRotation:
        """Re-encrypt every stored secret with the primary (first) key; afterwards the old keys can be dropped.

        Configure the new key first and the old ones after it (``secret_key=[new, old]`` or
        ``UNIFIED_SDK_SECRET_KEY=new,old``) in every process, then rotate once. Each batch of
        ``batch_size`` rows is committed on its own and ``on_batch`` is called with the counts
        so far; secrets already under the primary key are skipped, so running it again after
        an interruption continues where it stopped.

        Example::

            with Client(secret_key=[new_key, old_key]) as client:
                done = client.keys.rotate()
            # from now on Client(secret_key=new_key) reads everything
        """
        from unified_sdk._keys import rotate

        return rotate(self._core.store, self._core.connections_store.box, batch_size=batch_size, on_batch=on_batch)


class AsyncKeys:
    """The async twin of :class:`Keys` (the rotation runs in a worker thread, ``on_batch`` too)."""

    def __init__(self, core: _Core) -> None:
        self._sync = Keys(core)

    async def rotate(
        self, *, batch_size: int = 500, on_batch: Callable[[KeyRotation], None] | None = None
    ) -> KeyRotation:
        """See :meth:`Keys.rotate`."""
        return await _thread(lambda: self._sync.rotate(batch_size=batch_size, on_batch=on_batch))


class Auth:
    """``client.auth``: OAuth authorization URLs with unified scopes, and callback completion."""

    def __init__(self, core: _Core) -> None:
        self._core = core

    def authorization_url(
        self,
        provider: str,
        *,
        scopes: Sequence[str],
        external_id: str | None = None,
        connection_id: str | None = None,
        redirect_uri: str | None = None,
    ) -> AuthorizationRequest:
        """Build the provider's authorization URL for unified ``scopes`` (state and PKCE stored).

        With ``connection_id``, re-authorizes that connection in place, asking for
        what it was granted plus ``scopes``.
        """
        return self._core.oauth.authorization_url(
            provider, scopes=scopes, external_id=external_id, connection_id=connection_id, redirect_uri=redirect_uri
        )

    def complete(
        self, callback_url: str | None = None, *, code: str | None = None, state: str | None = None
    ) -> Connection:
        """Finish the flow from the callback: exchange the code, check the connection, store it.

        Raises :class:`~unified_sdk.errors.AuthorizationError` for a refused, unknown,
        expired or reused callback, without calling the token endpoint.
        """
        return self._core.oauth.complete(callback_url, code=code, state=state)


class AsyncAuth:
    """The async twin of :class:`Auth` (the blocking flow runs in a worker thread)."""

    def __init__(self, core: _Core) -> None:
        self._sync = Auth(core)

    async def authorization_url(
        self,
        provider: str,
        *,
        scopes: Sequence[str],
        external_id: str | None = None,
        connection_id: str | None = None,
        redirect_uri: str | None = None,
    ) -> AuthorizationRequest:
        return await _thread(
            lambda: self._sync.authorization_url(
                provider, scopes=scopes, external_id=external_id, connection_id=connection_id, redirect_uri=redirect_uri
            )
        )

    async def complete(
        self, callback_url: str | None = None, *, code: str | None = None, state: str | None = None
    ) -> Connection:
        return await _thread(lambda: self._sync.complete(callback_url, code=code, state=state))


class _BaseClient:
    def __init__(
        self,
        *,
        database_url: str | None = None,
        secret_key: str | Sequence[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        providers: Mapping[str, type[Provider]] | None = None,
        refresh_skew: float = 60.0,
        log_bodies: bool = True,
        rate_limit_warning: float = 0.9,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._core = _Core(
            database_url=database_url,
            secret_key=secret_key,
            timeout=timeout,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            providers=providers,
            refresh_skew=refresh_skew,
            log_bodies=log_bodies,
            rate_limit_warning=rate_limit_warning,
            max_response_bytes=max_response_bytes,
        )
        self.providers = Providers(self._core)
        self.logs = Logs(self._core)
        self.integrations = Integrations(self._core)
        self._closed = False

    def stats(self) -> BookkeepingStats:
        """Counters of the background bookkeeping: call-log rows and connection updates
        written, pending, dropped, and write retries (no I/O).

        Example::

            stats = client.stats()
            print(stats.call_logs_pending, stats.call_logs_dropped, stats.write_retries)
        """
        return self._core.logs.stats()

    def __del__(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        try:
            self._close_collected()  # write what is pending first: the warning may be turned into an error
        finally:
            warnings.warn(
                f"unclosed {type(self).__name__}: close it (or use it as a context manager); "
                "its pending call logs were written now",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )

    @property
    def actions(self) -> ActionPolicy:
        """The response-action table; override it per provider, connection or operation."""
        return self._core.actions

    @property
    def events(self) -> EventBus:
        """Connection events: ``client.events.on("connection.unhealthy", callback)``."""
        return self._core.events

    @property
    def database_url(self) -> str:
        return self._core.database_url

    def _close_collected(self) -> None:
        """Close what can be closed without an event loop (for ``__del__``)."""
        self._core.close()

    def _http_options(self) -> dict[str, Any]:
        return {
            "timeout": self._core.timeout,
            "follow_redirects": False,
            "limits": httpx2.Limits(max_connections=100, max_keepalive_connections=20),
        }


class Client(_BaseClient):
    """The blocking client.

    Example::

        from unified_sdk import Client

        client = Client()                      # SQLite in the user data dir
        conn = client.connections.create(provider="sandbox", credentials={"api_key": "..."})
        for deal in client.crm.deals.list(connection_id=conn.id):
            print(deal.name, deal.amount)
    """

    def __init__(self, *, http_client: httpx2.Client | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._http_given = http_client
        self.connections = Connections(self)
        self.passthrough = Passthrough(self)
        self.auth = Auth(self._core)
        self.keys = Keys(self._core)

    @cached_property
    def _http(self) -> httpx2.Client:
        return self._http_given or httpx2.Client(**self._http_options())

    @cached_property
    def crm(self) -> Crm:
        """CRM resources: ``deals``, ``contacts``, ``companies``, ``pipelines``, ``users``."""
        from unified_sdk._resources import Crm

        return Crm(self)

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._http)

    def _close_collected(self) -> None:
        self.close()

    def close(self) -> None:
        """Flush call logs and release connections and threads."""
        self._closed = True
        if "_http" in self.__dict__ and self._http_given is None:
            self._http.close()
        self._core.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """The async client: the same surface as :class:`Client`, awaited.

    Example::

        async with AsyncClient() as client:
            page = await client.crm.deals.list(connection_id=conn.id)
            async for deal in page:
                ...
    """

    def __init__(self, *, http_client: httpx2.AsyncClient | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._http_given = http_client
        self.connections = AsyncConnections(self)
        self.passthrough = AsyncPassthrough(self)
        self.auth = AsyncAuth(self._core)
        self.keys = AsyncKeys(self._core)

    @cached_property
    def _http(self) -> httpx2.AsyncClient:
        return self._http_given or httpx2.AsyncClient(**self._http_options())

    @cached_property
    def crm(self) -> AsyncCrm:
        from unified_sdk._resources import AsyncCrm

        return AsyncCrm(self)

    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(flow, self._http)

    async def aclose(self) -> None:
        """Flush call logs and release connections and threads."""
        self._closed = True
        if "_http" in self.__dict__ and self._http_given is None:
            await self._http.aclose()
        await _thread(self._core.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
