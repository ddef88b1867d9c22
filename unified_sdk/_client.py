"""``Client`` and ``AsyncClient``: one runtime, two drivers, the same namespaces."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
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
from unified_sdk._pipeline import CallOptions, Flow
from unified_sdk._providers_api import Providers
from unified_sdk._runtime import DEFAULT_MAX_WAIT, DEFAULT_TIMEOUT, Refresher, Runtime
from unified_sdk.provider import Provider

if TYPE_CHECKING:
    from unified_sdk._resources import AsyncCrm, Crm

T = TypeVar("T")


@functools.cache
def _shared_ssl_context() -> ssl.SSLContext:
    """One TLS context (the trust store) for every HTTP client the SDK creates in this process.

    Loading the CA bundle costs ~40 ms of CPU each time; the context is immutable once built, so
    sharing it changes nothing but the cost. A user's own ``http_client=`` keeps its own.
    """
    return httpx2.create_ssl_context()


def _oauth_manager(runtime: Runtime) -> Refresher:
    from unified_sdk._oauth import OAuthManager

    return OAuthManager(runtime)


class _BaseClient:
    _runtime: Runtime
    _options: CallOptions
    _owns_runtime: bool
    _closed: bool

    def __init__(
        self,
        *,
        database_url: str | None,
        secret_key: str | Sequence[str] | None,
        timeout: float,
        max_retries: int | None,
        max_wait: float,
        webhook_url: str | None,
        webhook_secret: str | None,
        providers: Mapping[str, type[Provider]] | None,
        refresh_skew: float,
        log_bodies: bool,
        rate_limit_warning: float,
        max_response_bytes: int,
    ) -> None:
        self._runtime = Runtime(
            database_url=database_url,
            secret_key=secret_key,
            timeout=timeout,
            max_retries=max_retries,
            max_wait=max_wait,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            providers=providers,
            refresh_skew=refresh_skew,
            log_bodies=log_bodies,
            rate_limit_warning=rate_limit_warning,
            max_response_bytes=max_response_bytes,
            make_refresher=_oauth_manager,
        )
        self._options = CallOptions()  # the runtime's limits are this client's
        self._owns_runtime = True
        self._closed = False
        self._attach()

    def _attach(self) -> None:
        """Build the namespaces on this client's runtime, driver and call limits."""
        self.providers = Providers(self._runtime)

    def with_options(
        self, *, timeout: float | None = None, max_retries: int | None = None, max_wait: float | None = None
    ) -> Self:
        """A client with other call limits, sharing this one's runtime (``None`` keeps the current value).

        The copy uses the same storage, call logs, throttle, retry budgets, action table,
        events and HTTP connections; closing it closes nothing (this client owns them), so
        make copies freely, e.g. per request.

        Example::

            fast = client.with_options(timeout=5, max_retries=0)
            deal = fast.crm.deals.get(connection_id=cid, id=deal_id)
        """
        copy = object.__new__(type(self))
        copy._runtime = self._runtime
        copy._options = self._options.merged(timeout=timeout, max_retries=max_retries, max_wait=max_wait)
        copy._owns_runtime = False
        copy._closed = False
        copy._share_http(self)
        copy._attach()
        return copy

    def _share_http(self, owner: Self) -> None:
        raise NotImplementedError

    def stats(self) -> BookkeepingStats:
        """Counters of the background bookkeeping: call-log rows and connection updates
        written, pending, dropped, and write retries (no I/O).

        Example::

            stats = client.stats()
            print(stats.call_logs_pending, stats.call_logs_dropped, stats.write_retries)
        """
        return self._runtime.logs.stats()

    def __del__(self) -> None:
        if getattr(self, "_closed", True) or not getattr(self, "_owns_runtime", False):
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
            "verify": _shared_ssl_context(),
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

    Options (all keyword-only; each default is chosen so a web request never hangs for minutes):

    - ``database_url`` (``str | None``, default ``UNIFIED_SDK_DATABASE_URL``, else a SQLite file in the
      user data dir): where connections, OAuth state and call logs live. Use PostgreSQL when several
      hosts share connections.
    - ``secret_key`` (``str | Sequence[str] | None``, default ``UNIFIED_SDK_SECRET_KEY`` (comma-separated),
      else a key file next to the SQLite file): Fernet key(s) encrypting credentials at rest; new key first
      to rotate.
    - ``timeout`` (``float``, default ``30.0`` s): bounds a *whole* call: connecting, every attempt, retry
      and wait, and reading the body. No retry or wait starts that would end after it. Long enough for a
      slow provider page plus a retry, short enough to fail inside a typical web request's budget.
    - ``max_retries`` (``int | None``, default ``None``: the response-action table's counts, 2 for 5xx,
      timeouts and network errors, 4 for 429): when set, replaces the retry count of every retrying rule.
      ``0`` sends each request once.
    - ``max_wait`` (``float``, default ``10.0`` s): the longest single wait the SDK sleeps. A provider asking
      (``Retry-After`` or its rate-limit reset) for longer fails the call at once with
      :class:`~unified_sdk.errors.RateLimitedError` and ``details["retry_after"]``, so the app can reschedule
      instead of blocking a worker; the SDK's own backoff (at most 8 s) is shortened to it.
    - ``webhook_url``, ``webhook_secret`` (``str | None``, default none): also deliver connection events to a URL,
      signed with the secret.
    - ``providers`` (``Mapping[str, type[Provider]] | None``, default: the installed plugins): the provider
      plugins to use, by name (tests and apps that pin their plugins).
    - ``refresh_skew`` (``float``, default ``60.0`` s): refresh OAuth tokens this long before they expire
      (at most half a token's lifetime), so a token does not expire mid-call.
    - ``log_bodies`` (``bool``, default ``True``): keep request/response bodies (redacted, truncated) in call logs.
    - ``rate_limit_warning`` (``float``, default ``0.9``): the share of a provider's rate-limit budget used
      at which ``connection.rate_limit_warning`` is emitted.
    - ``max_response_bytes`` (``int``, default 64 MiB): a larger response body fails the call with
      :class:`~unified_sdk.errors.ProviderError` instead of exhausting memory.
    - ``http_client`` (default: created for you): your own httpx2 client (proxies, certificates); the SDK
      does not close it.

    ``UNIFIED_SDK_LOG=debug`` (or ``info``) in the environment prints the SDK's retries, refreshes and
    throttle waits (``debug``: also each request's method, redacted URL and status) to stderr; never secrets.

    :meth:`with_options` gives a client sharing this one's storage, bookkeeping, throttle, events and HTTP
    connections with other call limits; every operation also takes ``timeout=`` for one call.
    """

    _http_given: httpx2.Client | None

    def __init__(
        self,
        *,
        database_url: str | None = None,
        secret_key: str | Sequence[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        providers: Mapping[str, type[Provider]] | None = None,
        refresh_skew: float = 60.0,
        log_bodies: bool = True,
        rate_limit_warning: float = 0.9,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        http_client: httpx2.Client | None = None,
    ) -> None:
        self._http_given = http_client
        super().__init__(
            database_url=database_url,
            secret_key=secret_key,
            timeout=timeout,
            max_retries=max_retries,
            max_wait=max_wait,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            providers=providers,
            refresh_skew=refresh_skew,
            log_bodies=log_bodies,
            rate_limit_warning=rate_limit_warning,
            max_response_bytes=max_response_bytes,
        )

    def _attach(self) -> None:
        super()._attach()
        self.connections = Connections(self._runtime, self._run, self._options)
        self.passthrough = Passthrough(self._runtime, self._run, self._options)
        self.logs = Logs(self._runtime)
        self.integrations = Integrations(self._runtime)
        self.auth = Auth(self._runtime, self._run)
        self.keys = Keys(self._runtime)

    def _share_http(self, owner: Self) -> None:
        self._http_given = owner._http

    @cached_property
    def _http(self) -> httpx2.Client:
        return self._http_given or httpx2.Client(**self._http_options())

    @cached_property
    def crm(self) -> Crm:
        """CRM resources: ``deals``, ``contacts``, ``companies``, ``pipelines``, ``users``."""
        from unified_sdk._resources import Crm

        return Crm(self._runtime, self._run, self._options)

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._http)

    def _close_collected(self) -> None:
        self.close()

    def close(self) -> None:
        """Flush call logs and release connections and threads (a :meth:`with_options` copy: nothing)."""
        self._closed = True
        if not self._owns_runtime:
            return
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

    Options: the same as :class:`Client`'s, where each is explained: ``database_url``, ``secret_key``,
    ``timeout`` (30 s for a whole call), ``max_retries`` (the action table's), ``max_wait`` (10 s),
    ``webhook_url``, ``webhook_secret``, ``providers``, ``refresh_skew`` (60 s), ``log_bodies`` (on),
    ``rate_limit_warning`` (0.9), ``max_response_bytes`` (64 MiB), and ``http_client``, an
    ``httpx2.AsyncClient``. ``UNIFIED_SDK_LOG=debug|info`` and :meth:`with_options` work as for :class:`Client`.
    """

    _http_given: httpx2.AsyncClient | None

    def __init__(
        self,
        *,
        database_url: str | None = None,
        secret_key: str | Sequence[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        providers: Mapping[str, type[Provider]] | None = None,
        refresh_skew: float = 60.0,
        log_bodies: bool = True,
        rate_limit_warning: float = 0.9,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self._http_given = http_client
        super().__init__(
            database_url=database_url,
            secret_key=secret_key,
            timeout=timeout,
            max_retries=max_retries,
            max_wait=max_wait,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            providers=providers,
            refresh_skew=refresh_skew,
            log_bodies=log_bodies,
            rate_limit_warning=rate_limit_warning,
            max_response_bytes=max_response_bytes,
        )

    def _attach(self) -> None:
        super()._attach()
        self.connections = AsyncConnections(self._runtime, self._run, self._options)
        self.passthrough = AsyncPassthrough(self._runtime, self._run, self._options)
        self.logs = AsyncLogs(self._runtime, self._run)
        self.integrations = AsyncIntegrations(self._runtime, self._run)
        self.auth = AsyncAuth(self._runtime, self._run)
        self.keys = AsyncKeys(self._runtime)
        self._http_lock = threading.Lock()
        with contextlib.suppress(RuntimeError):  # made outside a loop: bound on its first call
            self._bind_loop(asyncio.get_running_loop())

    def _share_http(self, owner: Self) -> None:
        self._http_given = owner._http

    @cached_property
    def _http(self) -> httpx2.AsyncClient:
        return self._http_given or httpx2.AsyncClient(**self._http_options())

    @cached_property
    def crm(self) -> AsyncCrm:
        from unified_sdk._resources import AsyncCrm

        return AsyncCrm(self._runtime, self._run, self._options)

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
        """Wait for async event listeners still running (bounded), flush call logs, release connections and
        threads (a :meth:`with_options` copy: nothing)."""
        self._closed = True
        if not self._owns_runtime:
            return
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
