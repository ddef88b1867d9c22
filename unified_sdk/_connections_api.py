"""``client.connections``: create, read, update, delete and health-check connections."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from unified_sdk._calls import new_call
from unified_sdk._connections import Connection, ConnectionRecord, credentials_from_input, new_connection_id
from unified_sdk._drivers import AsyncRunner, SyncRunner, blocking
from unified_sdk._events import Event
from unified_sdk._oauth import manager
from unified_sdk._pipeline import Blocking, CallOptions, Flow, operation_flow
from unified_sdk._scopes import UNIFIED_SCOPES
from unified_sdk.errors import ConfigurationError

if TYPE_CHECKING:
    from unified_sdk._runtime import Runtime
    from unified_sdk.provider import Provider

logger = logging.getLogger("unified_sdk")


class _ConnectionsBase:
    def __init__(self, runtime: Runtime, options: CallOptions | None = None) -> None:
        self._runtime = runtime
        self._options = options or CallOptions()

    def _create(
        self,
        provider: str,
        credentials: Mapping[str, Any],
        external_id: str | None,
        config: Mapping[str, Any] | None,
        scopes: Sequence[str] | None,
    ) -> Connection:
        plugin = self._runtime.provider_for(provider)
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
        store = self._runtime.connections_store
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
        self._runtime.store.insert_connection(row)
        conn = Connection.from_row(store.row(str(row["id"])))
        self._runtime.events.emit(Event("connection.created", conn.id, conn.provider, {"external_id": external_id}))
        return conn

    def _get(self, connection_id: str) -> Connection:
        return Connection.from_row(self._runtime.connections_store.row(connection_id))

    def _list(self, provider: str | None, external_id: str | None) -> list[Connection]:
        rows = self._runtime.store.list_connections(provider=provider, external_id=external_id)
        return [Connection.from_row(r) for r in rows]

    def _update(
        self,
        connection_id: str,
        config: Mapping[str, Any] | None,
        credentials: Mapping[str, Any] | None,
        external_id: str | None,
    ) -> Connection:
        store = self._runtime.connections_store
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
            self._runtime.store.update_connection(connection_id, values)
            store.forget(connection_id)
            self._runtime.events.emit(
                Event("connection.updated", connection_id, row["provider"], {"changed": sorted(values)})
            )
        return self._get(connection_id)

    def _delete_flow(self, connection_id: str) -> Flow[None]:
        store = self._runtime.connections_store
        row = yield Blocking(lambda: store.row(connection_id))
        if row["auth_type"] == "oauth2":
            # Revoke where the provider can; delete even when revocation fails (it is in the call logs).
            revoked = yield from manager(self._runtime).revoke_flow(connection_id)
            if not revoked:
                logger.warning("could not revoke the tokens of connection %s at the provider", connection_id)
        yield Blocking(lambda: self._forget(connection_id, row["provider"]))

    def _forget(self, connection_id: str, provider: str) -> None:
        self._runtime.store.delete_connection(connection_id)
        self._runtime.connections_store.forget(connection_id)
        self._runtime.events.emit(Event("connection.deleted", connection_id, provider, {}))

    def _check_flow(self, connection_id: str, timeout: float | None) -> Flow[Connection]:
        options = self._options.merged(timeout=timeout)

        def load() -> tuple[ConnectionRecord, Provider]:
            record = self._runtime.connections_store.record(connection_id)
            return record, self._runtime.provider_for(record.provider)  # a first use imports the plugin

        conn, provider = yield Blocking(load)
        call = new_call(self._runtime, conn, provider, "health_check", options)
        yield from operation_flow(call, provider.health_check(call.ctx))
        checked: Connection = yield Blocking(lambda: self._get(connection_id))
        return checked


class Connections(_ConnectionsBase):
    """``client.connections``: create, read, update, delete and check connections."""

    def __init__(self, runtime: Runtime, run: SyncRunner, options: CallOptions | None = None) -> None:
        super().__init__(runtime, options)
        self._run = run

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
        """Delete a connection, revoking its OAuth tokens at the provider first where it can."""
        self._run(self._delete_flow(connection_id))

    def check(self, connection_id: str, *, timeout: float | None = None) -> Connection:
        """Run the provider's health check now; returns the connection with its new health.

        Raises the unified error when the check fails. ``timeout`` (seconds) bounds this
        check instead of the client's timeout.
        """
        return self._run(self._check_flow(connection_id, timeout))


class AsyncConnections(_ConnectionsBase):
    """The async twin of :class:`Connections` (storage runs in a worker thread, through the client's driver)."""

    def __init__(self, runtime: Runtime, run: AsyncRunner, options: CallOptions | None = None) -> None:
        super().__init__(runtime, options)
        self._run = run

    async def create(
        self,
        *,
        provider: str,
        credentials: Mapping[str, Any],
        external_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> Connection:
        return await self._run(blocking(lambda: self._create(provider, credentials, external_id, config, scopes)))

    async def get(self, connection_id: str) -> Connection:
        return await self._run(blocking(lambda: self._get(connection_id)))

    async def list(self, *, provider: str | None = None, external_id: str | None = None) -> list[Connection]:
        return await self._run(blocking(lambda: self._list(provider, external_id)))

    async def update(
        self,
        connection_id: str,
        *,
        config: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        external_id: str | None = None,
    ) -> Connection:
        return await self._run(blocking(lambda: self._update(connection_id, config, credentials, external_id)))

    async def delete(self, connection_id: str) -> None:
        await self._run(self._delete_flow(connection_id))

    async def check(self, connection_id: str, *, timeout: float | None = None) -> Connection:
        return await self._run(self._check_flow(connection_id, timeout))
