"""The two drivers of the one pipeline: blocking (``Client``) and async (``AsyncClient``).

They differ only in I/O: how a request is sent, how to sleep, and where a
blocking storage call runs.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

import anyio
import httpx2

from unified_sdk._pipeline import Blocking, Flow, Send, Sleep
from unified_sdk._redact import sending

T = TypeVar("T")


def run_sync(flow: Flow[T], http: httpx2.Client) -> T:
    """Drive ``flow`` with blocking I/O."""
    try:
        effect = next(flow)
        while True:
            result: Any = None
            error: BaseException | None = None
            if isinstance(effect, Send):
                try:
                    with sending(effect.secrets):
                        result = http.send(effect.request)
                except httpx2.TransportError as exc:
                    result = exc
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
                try:
                    with sending(effect.secrets):
                        result = await http.send(effect.request)
                except httpx2.TransportError as exc:
                    result = exc
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
