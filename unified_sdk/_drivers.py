"""The two drivers of the one pipeline: blocking (``Client``) and async (``AsyncClient``).

They differ only in I/O: how a request is sent, how to sleep, and where a
blocking storage call runs. Both stream each response and read it through
:class:`~unified_sdk._limits.BodyReader`, so the call's deadline and the size
cap bound the body as well as the wait for it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import anyio
import httpx2

from unified_sdk._limits import BodyReader, DeadlineExceeded, ResponseTooLarge
from unified_sdk._pipeline import Blocking, Flow, Send, Sleep
from unified_sdk._redact import sending

T = TypeVar("T")


class SyncRunner(Protocol):
    """Runs a flow to its result with blocking I/O (``Client``'s driver)."""

    def __call__(self, flow: Flow[T], /) -> T: ...


class AsyncRunner(Protocol):
    """Runs a flow to its result on the event loop (``AsyncClient``'s driver)."""

    def __call__(self, flow: Flow[T], /) -> Awaitable[T]: ...


async def in_thread(fn: Callable[[], T]) -> T:
    """Run blocking ``fn`` in a worker thread, off the event loop."""
    return await anyio.to_thread.run_sync(fn)


def blocking(fn: Callable[[], T]) -> Flow[T]:
    """A flow of one storage call: a client's driver runs ``fn`` (the async one in a worker thread)."""
    result: T = yield Blocking(fn)
    return result


def run_sync(flow: Flow[T], http: httpx2.Client) -> T:
    """Drive ``flow`` with blocking I/O."""
    try:
        effect = next(flow)
        while True:
            result: Any = None
            error: BaseException | None = None
            if isinstance(effect, Send):
                with sending(effect.secrets):
                    result = _send_sync(http, effect)
            elif isinstance(effect, Sleep):
                time.sleep(effect.seconds)
            elif isinstance(effect, Blocking):
                try:
                    result = effect.fn()
                except BaseException as exc:
                    error = exc
            effect = flow.throw(error) if error is not None else flow.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(flow: Flow[T], http: httpx2.AsyncClient) -> T:
    """Drive ``flow`` with asyncio/anyio I/O; storage calls run in a worker thread."""
    try:
        effect = next(flow)
        while True:
            result: Any = None
            error: BaseException | None = None
            if isinstance(effect, Send):
                with sending(effect.secrets):
                    result = await _send_async(http, effect)
            elif isinstance(effect, Sleep):
                await anyio.sleep(effect.seconds)
            elif isinstance(effect, Blocking):
                try:
                    result = await anyio.to_thread.run_sync(effect.fn)
                except BaseException as exc:
                    error = exc
            effect = flow.throw(error) if error is not None else flow.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def _send_sync(http: httpx2.Client, effect: Send) -> httpx2.Response | Exception:
    """The response read whole, or the transport error (a deadline overrun is a timeout)."""
    reader = BodyReader(effect.deadline, effect.max_bytes)
    reader.prepare(effect.request, http.timeout)
    try:
        response = http.send(effect.request, stream=True)
    except httpx2.TransportError as exc:
        return exc
    try:
        reader.start(response)
        for chunk in response.iter_bytes():
            reader.add(chunk, response)
        return reader.finish(response)
    except (httpx2.TransportError, ResponseTooLarge) as exc:
        return exc
    finally:
        response.close()


async def _send_async(http: httpx2.AsyncClient, effect: Send) -> httpx2.Response | Exception:
    """The async twin of :func:`_send_sync`; the deadline also bounds every await, exactly."""
    reader = BodyReader(effect.deadline, effect.max_bytes)
    reader.prepare(effect.request, http.timeout)
    try:
        with anyio.fail_after(reader.remaining()):
            response = await http.send(effect.request, stream=True)
            try:
                reader.start(response)
                async for chunk in response.aiter_bytes():
                    reader.add(chunk, response)
                return reader.finish(response)
            finally:
                with anyio.CancelScope(shield=True):
                    await response.aclose()
    except (httpx2.TransportError, ResponseTooLarge) as exc:
        return exc
    except TimeoutError:
        return DeadlineExceeded("the call's deadline passed before the response was read")
