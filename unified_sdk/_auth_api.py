"""``client.integrations`` and ``client.auth``: OAuth client registrations, authorization URLs, callbacks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from unified_sdk._drivers import AsyncRunner, blocking, in_thread
from unified_sdk._oauth import manager

if TYPE_CHECKING:
    from unified_sdk._connections import Connection
    from unified_sdk._drivers import AsyncRunner, SyncRunner
    from unified_sdk._oauth import AuthorizationRequest, Integration
    from unified_sdk._runtime import Runtime


class Integrations:
    """``client.integrations``: the app's OAuth client registration per provider."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

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
        return manager(self._runtime).configure(
            provider,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            config=config,
            token_endpoint_auth_method=token_endpoint_auth_method,
        )


class AsyncIntegrations:
    """``client.integrations`` of :class:`~unified_sdk.AsyncClient` (storage runs in a worker thread).

    Example::

        await client.integrations.configure("hubspot", client_id="...", client_secret="...")
    """

    def __init__(self, runtime: Runtime, run: AsyncRunner) -> None:
        self._sync = Integrations(runtime)
        self._run = run

    async def configure(
        self,
        provider: str,
        *,
        client_id: str,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        config: Mapping[str, Any] | None = None,
        token_endpoint_auth_method: str | None = None,
    ) -> Integration:
        """See :meth:`Integrations.configure`."""
        return await self._run(
            blocking(
                lambda: self._sync.configure(
                    provider,
                    client_id=client_id,
                    client_secret=client_secret,
                    redirect_uri=redirect_uri,
                    config=config,
                    token_endpoint_auth_method=token_endpoint_auth_method,
                )
            )
        )


class Auth:
    """``client.auth``: OAuth authorization URLs with unified scopes, and callback completion."""

    def __init__(self, runtime: Runtime, run: SyncRunner) -> None:
        self._runtime = runtime
        self._run = run

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
        return manager(self._runtime).authorization_url(
            provider, scopes=scopes, external_id=external_id, connection_id=connection_id, redirect_uri=redirect_uri
        )

    def complete(
        self, callback_url: str | None = None, *, code: str | None = None, state: str | None = None
    ) -> Connection:
        """Finish the flow from the callback: exchange the code, check the connection, store it.

        Raises :class:`~unified_sdk.errors.AuthorizationError` for a refused, unknown,
        expired or reused callback, and for one whose ``iss`` is not the issuer the provider
        declares (RFC 9207), without calling the token endpoint. The code exchange, the
        introspection and the health check go through the client's ``http_client``.
        """
        return self._run(manager(self._runtime).complete_flow(callback_url, code=code, state=state))


class AsyncAuth:
    """The async twin of :class:`Auth`: requests on the event loop, storage in worker threads."""

    def __init__(self, runtime: Runtime, run: AsyncRunner) -> None:
        self._runtime = runtime
        self._run = run

    async def authorization_url(
        self,
        provider: str,
        *,
        scopes: Sequence[str],
        external_id: str | None = None,
        connection_id: str | None = None,
        redirect_uri: str | None = None,
    ) -> AuthorizationRequest:
        return await in_thread(
            lambda: manager(self._runtime).authorization_url(
                provider, scopes=scopes, external_id=external_id, connection_id=connection_id, redirect_uri=redirect_uri
            )
        )

    async def complete(
        self, callback_url: str | None = None, *, code: str | None = None, state: str | None = None
    ) -> Connection:
        return await self._run(manager(self._runtime).complete_flow(callback_url, code=code, state=state))
