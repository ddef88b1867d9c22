"""The client's timeout bounds a whole call: connect, every attempt and wait, and reading the body.

The bad servers are raw sockets on 127.0.0.1 (tests/rawhttp.py). Elapsed time is measured only to check
a behaviour bound (2 s + a generous margin), never as a benchmark.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.rawhttp import RawServer, hang, trickle
from tests.toy.server import ToyServer
from tests.toy.toy_plugin import ToyProvider
from unified_sdk import AsyncClient, Client
from unified_sdk.errors import ProviderError, ProviderTimeoutError
from unified_sdk.testing import set_jitter

TIMEOUT = 2.0
BOUND = 3.5  # TIMEOUT + margin for a loaded machine; the unbounded code took 6 s and more
BODY = b'{"items": [], "after": null}'


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    c = Client(database_url=db_url, providers={"toy": ToyProvider}, timeout=TIMEOUT)
    set_jitter(c, lambda: 0.0)
    yield c
    c.close()


@pytest.fixture
async def aclient(db_url: str) -> AsyncIterator[AsyncClient]:
    c = AsyncClient(database_url=db_url, providers={"toy": ToyProvider}, timeout=TIMEOUT)
    set_jitter(c, lambda: 0.0)
    yield c
    await c.aclose()


def _sync_call(client: Client, server: RawServer) -> tuple[ProviderTimeoutError, float]:
    conn = client.connections.create(provider="toy", credentials={"api_key": "k"}, config={"base_url": server.url})
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError) as info:
        client.crm.deals.list(connection_id=conn.id)
    return info.value, time.monotonic() - started


async def _async_call(client: AsyncClient, server: RawServer) -> tuple[ProviderTimeoutError, float]:
    conn = await client.connections.create(
        provider="toy", credentials={"api_key": "k"}, config={"base_url": server.url}
    )
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError) as info:
        await client.crm.deals.list(connection_id=conn.id)
    return info.value, time.monotonic() - started


def test_a_hung_server_is_given_up_on_at_the_deadline(client: Client) -> None:
    with RawServer(hang) as server:
        error, elapsed = _sync_call(client, server)
    assert elapsed < BOUND
    assert error.category == "timeout" and error.retryable and error.log_id
    assert server.requests == 1  # no retry: the timed-out attempt used the whole call's time
    (log,) = client.logs.list()
    assert (log.id, log.category, log.action) == (error.log_id, "timeout", "fail")


def test_a_trickling_body_cannot_outlive_the_deadline(client: Client) -> None:
    # One byte every 0.5 s: each read is well within the read timeout, the whole body is not.
    with RawServer(trickle(BODY, every=0.5)) as server:
        error, elapsed = _sync_call(client, server)
    assert elapsed < BOUND
    assert error.category == "timeout" and error.log_id
    assert server.requests == 1


async def test_async_a_hung_server_is_given_up_on_at_the_deadline(aclient: AsyncClient) -> None:
    with RawServer(hang) as server:
        error, elapsed = await _async_call(aclient, server)
    assert elapsed < BOUND
    assert error.category == "timeout" and error.log_id
    assert server.requests == 1


async def test_async_a_trickling_body_cannot_outlive_the_deadline(aclient: AsyncClient) -> None:
    with RawServer(trickle(BODY, every=0.5)) as server:
        error, elapsed = await _async_call(aclient, server)
    assert elapsed < BOUND
    assert error.category == "timeout" and error.log_id
    assert server.requests == 1


def test_no_wait_sleeps_past_the_deadline(client: Client, toy_server: ToyServer) -> None:
    # A 503 asking to come back in 5 s: that wait would cross the 2 s deadline, so the call fails at once
    # with the last error (not a timeout: the provider did answer).
    client.actions.set("wait_and_retry", status=503, max_retries=3)
    toy_server.inject(status=503, times=10, retry_after=5)
    conn = client.connections.create(provider="toy", credentials={"api_key": "k"}, config={"base_url": toy_server.url})
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        client.crm.deals.list(connection_id=conn.id)
    assert time.monotonic() - started < BOUND
    assert info.value.status == 503 and info.value.retryable and info.value.details["deadline_exceeded"]
    assert "timeout" in (info.value.hint or "")
    assert toy_server.hits["GET /items"] == 1
    (log,) = client.logs.list()
    assert (log.id, log.action) == (info.value.log_id, "fail")
