"""A raw-socket HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose: it hangs, trickles its body,
or answers with scripted bytes. For the deadline, size-cap and bad-body tests."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

Behaviour = Callable[[socket.socket, threading.Event], None]


def hang(conn: socket.socket, stop: threading.Event) -> None:
    """Read the request, never answer."""
    stop.wait()


def trickle(body: bytes, every: float) -> Behaviour:
    """Send the headers at once, then the body one byte every ``every`` seconds."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(200, "application/json", [("content-length", str(len(body)))]))
        for i in range(len(body)):
            if stop.wait(every):
                return
            conn.sendall(body[i : i + 1])

    return behave


def respond(status: int, content_type: str, body: bytes, *, chunked: bool = False) -> Behaviour:
    """Answer at once; ``chunked`` sends the body without a Content-Length, in 64 KiB chunks."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        if not chunked:
            conn.sendall(_head(status, content_type, [("content-length", str(len(body)))]) + body)
            return
        conn.sendall(_head(status, content_type, [("transfer-encoding", "chunked")]))
        for i in range(0, len(body), 65536):
            part = body[i : i + 65536]
            conn.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    return behave


def _head(status: int, content_type: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} Status", f"content-type: {content_type}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RawServer:
    """Serves ``behaviour`` to every request; ``requests`` counts the requests received."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)  # so the accept loop sees the stop; accepted sockets stay blocking
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> Self:
        self._spawn(self._accept)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        for conn in self._conns:  # wake threads waiting for a next request on a kept-alive connection
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._sock.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                while not self._stop.is_set():
                    if not self._read_request(conn):
                        return
                    with self._lock:
                        self.requests += 1
                    self.behaviour(conn, self._stop)
            except OSError:
                return

    def _read_request(self, conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            rest += chunk
        return True
