"""Serve an ASGI app on 127.0.0.1 in a background thread, for local fakes."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

from unified_sdk.testing._faults import FaultInjector

ASGIApp = Any


class _Server(uvicorn.Server):
    """uvicorn's server, woken at once by :meth:`LocalServer.stop` instead of polling every 0.1 s."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # on_tick refreshes the Date header every 10th count
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    def exit_now(self) -> None:
        """Stop serving without waiting for idle keep-alive connections (a test fake has no one to wait for)."""
        self.should_exit = True
        self.force_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)


class LocalServer:
    """A context manager that serves an ASGI app on ``127.0.0.1`` on a free port.

    Subclasses (the fakes) build their app in ``build_app()`` and share the
    test-facing API: ``url``, ``inject(...)``, ``config``.

    Example::

        with MyFake() as fake:
            httpx2.get(fake.url + "/v1/ping")
    """

    host = "127.0.0.1"

    def __init__(self, *, port: int = 0) -> None:
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.faults = FaultInjector()
        self.received_requests: list[tuple[str, str]] = []
        """Every HTTP request that reached the fake, as ``(method, raw path with query)``, in order."""

    # -- the app -----------------------------------------------------------------
    def build_app(self) -> ASGIApp:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- lifecycle -----------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None or not self._server.started:
            raise RuntimeError("the server is not running; use it as a context manager")
        servers = getattr(self._server, "servers", [])
        sock = servers[0].sockets[0]
        return int(sock.getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        config = uvicorn.Config(
            self._recording(self.build_app()),
            host=self.host,
            port=self._port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = _Server(config)
        # asyncio's TCP transports set TCP_NODELAY on every accepted socket.
        self._thread = threading.Thread(target=self._server.run, name=f"{type(self).__name__}-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} failed to start")
            time.sleep(0.005)
        return self

    def _recording(self, app: ASGIApp) -> ASGIApp:
        received = self.received_requests

        async def recorded(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                raw = scope.get("raw_path") or scope["path"].encode()
                query = scope.get("query_string") or b""
                path = raw.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
                received.append((scope["method"], path))
            await app(scope, receive, send)

        return recorded

    def stop(self) -> None:
        if self._server is not None:
            self._server.exit_now()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- fault injection -------------------------------------------------------------
    def inject(
        self,
        *,
        status: int | None = None,
        fault: str | None = None,
        times: int = 1,
        retry_after: float | str | None = None,
        path: str | None = None,
        body: Any = None,
    ) -> None:
        """Make the next ``times`` matching API requests fail.

        ``status`` answers with that status and the provider's documented error
        body; ``fault`` is one of ``timeout`` (answer slower than the client's
        timeout), ``reset`` (drop the connection mid-response),
        ``malformed_json`` (a truncated JSON body), ``html`` (an HTML error
        page), or ``timeout_after_processing`` / ``reset_after_processing`` (the
        server does the work, then its answer is late or cut off). ``path``
        limits the fault to request paths starting with it; only a fault with a
        ``path`` reaches endpoints outside the API, e.g. ``path="/oauth/token"``.
        """
        self.faults.add(status=status, fault=fault, times=times, retry_after=retry_after, path=path, body=body)


def run_forever(server: LocalServer) -> None:
    """Run ``server`` until interrupted; used by ``python -m <fake>`` entry points."""
    with server:
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
