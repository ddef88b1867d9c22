"""``Client`` and ``AsyncClient``: one runtime, two drivers, the same namespaces."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
from collections.abc import Mapping, Sequence
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx2

from unified_sdk._actions import ActionPolicy
from unified_sdk._auth_api import AsyncAuth, AsyncIntegrations, Auth, Integrations
from unified_sdk._bookkeeping import BookkeepingStats
from unified_sdk._connections_api import AsyncConnections, Connections
from unified_sdk._drivers import in_thread, run_async, run_sync
from unified_sdk._events import EventBus
from unified_sdk._keys_api import AsyncKeys, Keys
from unified_sdk._limits import DEFAULT_MAX_RESPONSE_BYTES
from unified_sdk._logs_api import AsyncLogs, Logs
from unified_sdk._passthrough import AsyncPassthrough, Passthrough
from unified_sdk._pipeline import Flow
from unified_sdk._providers_api import Providers
from unified_sdk._runtime import DEFAULT_TIMEOUT, Refresher, Runtime
from unified_sdk.provider import Provider

if TYPE_CHECKING:
    from unified_sdk._resources import AsyncCrm, Crm

T = TypeVar("T")


def _oauth_manager(runtime: Runtime) -> Refresher:
    from unified_sdk._oauth import OAuthManager

    return OAuthManager(runtime)


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
        self._runtime = Runtime(
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
            make_refresher=_oauth_manager,
        )
        self.providers = Providers(self._runtime)
        self._closed = False

    def stats(self) -> BookkeepingStats:
        """Counters of the background bookkeeping: call-log rows and connection updates
        written, pending, dropped, and write retries (no I/O).

        Example::

            stats = client.stats()
            print(stats.call_logs_pending, stats.call_logs_dropped, stats.write_retries)
        """
        return self._runtime.logs.stats()

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
        """The response-action table; override it per provider, connection or operation.

        An in-memory policy (no storage, no network), so it is synchronous on both clients.
        """
        return self._runtime.actions

    @property
    def events(self) -> EventBus:
        """Connection events: ``client.events.on("connection.unhealthy", callback)``."""
        return self._runtime.events

    @property
    def database_url(self) -> str:
        return self._runtime.database_url

    def _close_collected(self) -> None:
        """Close what can be closed without an event loop (for ``__del__``)."""
        self._runtime.close()

    def _http_options(self) -> dict[str, Any]:
        return {
            "timeout": self._runtime.timeout,
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
        self.connections = Connections(self._runtime, self._run)
        self.passthrough = Passthrough(self._runtime, self._run)
        self.logs = Logs(self._runtime)
        self.integrations = Integrations(self._runtime)
        self.auth = Auth(self._runtime, self._run)
        self.keys = Keys(self._runtime)

    @cached_property
    def _http(self) -> httpx2.Client:
        return self._http_given or httpx2.Client(**self._http_options())

    @cached_property
    def crm(self) -> Crm:
        """CRM resources: ``deals``, ``contacts``, ``companies``, ``pipelines``, ``users``."""
        from unified_sdk._resources import Crm

        return Crm(self._runtime, self._run)

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._http)

    def _close_collected(self) -> None:
        self.close()

    def close(self) -> None:
        """Flush call logs and release connections and threads."""
        self._closed = True
        if "_http" in self.__dict__ and self._http_given is None:
            self._http.close()
        self._runtime.close()

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
        self._http_lock = threading.Lock()
        self.connections = AsyncConnections(self._runtime, self._run)
        self.passthrough = AsyncPassthrough(self._runtime, self._run)
        self.logs = AsyncLogs(self._runtime, self._run)
        self.integrations = AsyncIntegrations(self._runtime, self._run)
        self.auth = AsyncAuth(self._runtime, self._run)
        self.keys = AsyncKeys(self._runtime)
        with contextlib.suppress(RuntimeError):  # made outside a loop: bound on its first call
            self._bind_loop(asyncio.get_running_loop())

    @cached_property
    def _http(self) -> httpx2.AsyncClient:
        return self._http_given or httpx2.AsyncClient(**self._http_options())

    @cached_property
    def crm(self) -> AsyncCrm:
        from unified_sdk._resources import AsyncCrm

        return AsyncCrm(self._runtime, self._run)

    def _open_http(self) -> httpx2.AsyncClient:
        with self._http_lock:  # concurrent first calls build one client
            return self._http

    def _bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Async event listeners run on the loop this client runs on."""
        self._runtime.events.bind_loop(loop)

    async def _run(self, flow: Flow[T]) -> T:
        self._bind_loop(asyncio.get_running_loop())
        if "_http" not in self.__dict__:
            await in_thread(self._open_http)  # building it loads the TLS trust store: not on the loop
        return await run_async(flow, self._http)

    async def aclose(self) -> None:
        """Wait for async event listeners still running (bounded), flush call logs, release connections and threads."""
        self._closed = True
        await self._runtime.events.drain()
        if "_http" in self.__dict__ and self._http_given is None:
            await self._http.aclose()
        await in_thread(self._runtime.close)

    async def __aenter__(self) -> Self:
        self._bind_loop(asyncio.get_running_loop())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
