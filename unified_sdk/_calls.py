"""Preparing a call: the stored connection, its plugin and adapter, and the checks made before anything is sent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unified_sdk._pipeline import Call, CallOptions
from unified_sdk._scopes import scope_for
from unified_sdk.errors import NotSupportedError, PermissionDeniedError
from unified_sdk.provider import Provider

if TYPE_CHECKING:
    from unified_sdk._connections import ConnectionRecord
    from unified_sdk._runtime import Runtime


def prepare(
    runtime: Runtime,
    connection_id: str,
    resource: str,
    operation: str,
    conn: ConnectionRecord | None = None,
    *,
    options: CallOptions | None = None,
) -> tuple[Call, Any]:
    """Load the connection and its adapter, and check the call may be made (nothing is sent)."""
    if conn is None:
        conn = runtime.connections_store.record(connection_id)
    provider = runtime.provider_for(conn.provider)
    op_name = f"{resource}.{operation}"
    adapter = provider.adapter(resource)
    if adapter is None or not adapter.supports(operation):
        raise NotSupportedError(
            f"{provider.name} does not support {op_name}",
            provider=provider.name,
            connection_id=connection_id,
            hint=f"{provider.display_name} supports: {', '.join(sorted(provider.adapters)) or 'nothing yet'}",
        )
    check_scopes(conn, provider, resource, operation)
    return new_call(runtime, conn, provider, op_name, options), adapter


def prepare_passthrough(runtime: Runtime, connection_id: str, *, options: CallOptions | None = None) -> Call:
    """A call for a passthrough request on ``connection_id``."""
    conn = runtime.connections_store.record(connection_id)
    return new_call(runtime, conn, runtime.provider_for(conn.provider), "passthrough", options)


def new_call(
    runtime: Runtime, conn: ConnectionRecord, provider: Provider, operation: str, options: CallOptions | None
) -> Call:
    """A :class:`Call` with the client's (or the caller's) timeout, retry count and longest wait."""
    o = options or CallOptions()
    return Call(runtime, conn, provider, operation, timeout=o.timeout, max_retries=o.max_retries, max_wait=o.max_wait)


def check_scopes(conn: ConnectionRecord, provider: Provider, resource: str, operation: str) -> None:
    """Refuse an operation whose unified scope the connection was not granted, before sending."""
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
