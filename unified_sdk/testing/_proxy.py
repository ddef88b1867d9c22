"""A loopback HTTP/1.1 proxy that loses responses on purpose, to test writes whose outcome is unknown.

A request that reached the provider and got no answer is the one failure a
client cannot see through: the provider may have processed it. :class:`LossyProxy`
sits between a client and any server (a local fake, or a real host), forwards
every request in full, lets the server answer, and then, for the requests it was
told to, drops the answer: it closes (or resets) the client's connection, or
holds the answer back past the client's read timeout.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self
from urllib.parse import urlsplit

__all__ = ["LossyProxy", "ProxiedRequest"]

Fate = Literal["relayed", "lost", "delayed"]

_MAX_HEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class ProxiedRequest:
    """One request the proxy forwarded to the server, and what became of the server's answer."""

    method: str
    path: str
    status: int | None
    """The status the server answered with (``None`` when it sent nothing readable)."""
    fate: Fate
    """``relayed`` to the client, ``lost`` (connection closed or reset instead), or ``delayed``."""


@dataclass
class _Plan:
    fate: Fate
    remaining: int
    method: str | None
    path: str | None
    reset: bool = False
    delay: float = 0.0


@dataclass
class _State:
    plans: list[_Plan] = field(default_factory=list)
    seen: list[ProxiedRequest] = field(default_factory=list)
    sockets: set[socket.socket] = field(default_factory=set)


class LossyProxy:
    """A proxy on ``127.0.0.1`` in front of ``upstream`` that can lose the server's answers.

    Every request is forwarded in full and the server's answer is read in full
    (so the server has processed the request) before the plan for that request
    is played. Point a connection's ``base_url`` at :attr:`url` to route its API
    calls through the proxy.

    Example::

        with FakeHubSpot() as fake, LossyProxy(fake.url) as proxy:
            conn = client.connections.create(
                provider="hubspot", credentials={"api_key": fake.api_key},
                config={**fake.config, "base_url": proxy.url},
            )
            proxy.lose_response(method="POST")   # the next POST is processed, its answer dropped
            with pytest.raises(OutcomeUnknownError):
                client.crm.deals.create(connection_id=conn.id, data={"name": "Once"})
            assert proxy.count("POST") == 1

    After :meth:`stop` the port is closed, so a client still pointed at
    :attr:`url` meets a refused connection (a request proven unsent).
    """

    host = "127.0.0.1"

    def __init__(self, upstream: str, *, upstream_timeout: float = 30.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"LossyProxy forwards plain http:// only, not {upstream!r}")
        self.upstream = (parts.hostname, parts.port or 80)
        self.upstream_timeout = upstream_timeout
        self._state = _State()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- plans -------------------------------------------------------------------------------
    def lose_response(
        self, *, times: int = 1, method: str | None = None, path: str | None = None, reset: bool = False
    ) -> None:
        """Drop the server's answer to the next ``times`` matching requests.

        The client's connection is closed without a byte of the answer (the client sees
        "server disconnected without sending a response"), or with ``reset=True`` reset
        (a TCP RST: "connection reset by peer"). ``method`` and ``path`` (a prefix) select
        the requests; ``None`` matches any.
        """
        self._plan(_Plan("lost", times, method, path, reset=reset))

    def delay_response(
        self, seconds: float, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Hold the server's answer to the next ``times`` matching requests for ``seconds``
        (longer than the client's read timeout, to make it time out), then send it."""
        self._plan(_Plan("delayed", times, method, path, delay=seconds))

    def clear(self) -> None:
        """Forget the plans not played yet."""
        with self._lock:
            self._state.plans.clear()

    def _plan(self, plan: _Plan) -> None:
        if plan.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._state.plans.append(plan)

    def _take(self, method: str, path: str) -> _Plan | None:
        with self._lock:
            for plan in self._state.plans:
                if (plan.method is None or plan.method.upper() == method) and (
                    plan.path is None or path.startswith(plan.path)
                ):
                    plan.remaining -= 1
                    if plan.remaining == 0:
                        self._state.plans.remove(plan)
                    return plan
        return None

    # -- what happened ----------------------------------------------------------------------
    @property
    def requests(self) -> list[ProxiedRequest]:
        """Every request forwarded to the server so far, in order."""
        with self._lock:
            return list(self._state.seen)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many forwarded requests matched ``method`` and ``path`` (a prefix; ``None``: any)."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper()) and (path is None or r.path.startswith(path))
        )

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the proxy has not been started; use it as a context manager")
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the proxy, e.g. ``http://127.0.0.1:54321`` (it stays set after :meth:`stop`)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((self.host, self._port or 0))
        listener.listen(64)
        self._port = int(listener.getsockname()[1])
        self._listener = listener
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept, name="LossyProxy-accept", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port and every open connection; requests to :attr:`url` are then refused."""
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            open_sockets = list(self._state.sockets)
        for sock in open_sockets:
            _close(sock)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- serving ----------------------------------------------------------------------------
    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), name="LossyProxy-conn", daemon=True).start()

    def _track(self, sock: socket.socket, *, add: bool = True) -> None:
        with self._lock:
            if add:
                self._state.sockets.add(sock)
            else:
                self._state.sockets.discard(sock)

    def _serve(self, client: socket.socket) -> None:
        # One request per client connection: the answer is relayed with "Connection: close".
        try:
            request = _read_request(client)
            if request is None:
                return
            method, path, raw = request
            plan = self._take(method, path)
            answer = self._forward(raw)
            status = _status_of(answer)
            fate: Fate = plan.fate if plan is not None else "relayed"
            with self._lock:
                self._state.seen.append(ProxiedRequest(method, path, status, fate))
            if plan is not None and plan.fate == "lost":
                if plan.reset:
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if plan is not None and plan.fate == "delayed" and self._stopping.wait(plan.delay):
                return
            client.sendall(answer)
        except (OSError, ValueError):  # the client went away, or sent something that is not HTTP/1.1
            return
        finally:
            self._track(client, add=False)
            _close(client)

    def _forward(self, raw: bytes) -> bytes:
        upstream = socket.create_connection(self.upstream, timeout=self.upstream_timeout)
        self._track(upstream)
        try:
            upstream.sendall(raw)
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
            return _with_connection_close(b"".join(chunks))
        finally:
            self._track(upstream, add=False)
            _close(upstream)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _recv_until(sock: socket.socket, buffer: bytes, marker: bytes) -> tuple[bytes, bytes] | None:
    while marker not in buffer:
        if len(buffer) > _MAX_HEAD:
            return None
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = buffer.partition(marker)
    return head, rest


def _recv_exactly(sock: socket.socket, buffer: bytes, size: int) -> tuple[bytes, bytes] | None:
    while len(buffer) < size:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    return buffer[:size], buffer[size:]


def _read_request(sock: socket.socket) -> tuple[str, str, bytes] | None:
    """``(method, path, bytes to send upstream)`` of one request, its body read in full."""
    found = _recv_until(sock, b"", b"\r\n\r\n")
    if found is None:
        return None
    head, rest = found
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = [line for line in header_lines if line]
    names = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip() for line in headers}
    body = b""
    if "chunked" in names.get("transfer-encoding", "").lower():
        body, rest = _read_chunked(sock, rest)
    elif "content-length" in names:
        got = _recv_exactly(sock, rest, int(names["content-length"]))
        if got is None:
            return None
        body, rest = got
    kept = [line for line in headers if line.split(":", 1)[0].strip().lower() not in ("connection", "keep-alive")]
    out = "\r\n".join([request_line, *kept, "Connection: close", "", ""]).encode("latin-1") + body
    return method.upper(), urlsplit(target).path or "/", out


def _read_chunked(sock: socket.socket, buffer: bytes) -> tuple[bytes, bytes]:
    """The raw chunked body (framing kept, to forward as is) up to and including the last chunk."""
    body = b""
    while True:
        found = _recv_until(sock, buffer, b"\r\n")
        if found is None:
            raise OSError("the client closed the connection inside a chunked body")
        size_line, buffer = found
        size = int(size_line.split(b";", 1)[0], 16)
        body += size_line + b"\r\n"
        if size == 0:
            # Trailer fields, if any, then an empty line.
            while True:
                found = _recv_until(sock, buffer, b"\r\n")
                if found is None:
                    raise OSError("the client closed the connection inside a chunked body")
                line, buffer = found
                body += line + b"\r\n"
                if not line:
                    return body, buffer
        got = _recv_exactly(sock, buffer, size + 2)
        if got is None:
            raise OSError("the client closed the connection inside a chunked body")
        chunk, buffer = got
        body += chunk


def _with_connection_close(answer: bytes) -> bytes:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return answer
    status_line, *lines = head.split(b"\r\n")
    kept = [line for line in lines if line.split(b":", 1)[0].strip().lower() not in (b"connection", b"keep-alive")]
    return b"\r\n".join([status_line, *kept, b"Connection: close"]) + sep + body


def _status_of(answer: bytes) -> int | None:
    parts = answer.split(b"\r\n", 1)[0].split(b" ", 2)
    try:
        return int(parts[1]) if len(parts) >= 2 else None
    except ValueError:
        return None
