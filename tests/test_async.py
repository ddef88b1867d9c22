"""The async client drives the same pipeline: the behaviours of the sync tests, awaited."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.toy.server import ToyServer
from tests.toy.toy_plugin import ToyProvider
from unified_sdk import AsyncClient, Health
from unified_sdk.errors import NotSupportedError, ProviderError, ProviderTimeoutError
from unified_sdk.testing import set_jitter


@pytest.fixture
async def aclient(db_url: str) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(database_url=db_url, providers={"toy": ToyProvider}, timeout=1.0)
    set_jitter(client, lambda: 0.0)
    yield client
    await client.aclose()


async def _conn(client: AsyncClient, server: ToyServer) -> str:
    conn = await client.connections.create(
        provider="toy", credentials={"api_key": "async-key-1"}, config={"base_url": server.url}
    )
    return conn.id


async def test_async_iteration_walks_every_page_once(aclient: AsyncClient, toy_server: ToyServer) -> None:
    cid = await _conn(aclient, toy_server)
    page = await aclient.crm.deals.list(connection_id=cid, limit=7)
    assert len(page.data) == 7 and page.next_cursor == "7"
    ids = [deal.id async for deal in page]
    assert ids == [str(i) for i in range(25)]
    pages = [len(p.data) async for p in page.iter_pages()]
    assert pages == [7, 7, 7, 4]
    assert (await aclient.connections.get(cid)).health == Health.HEALTHY


async def test_async_retries_get_but_not_post(aclient: AsyncClient, toy_server: ToyServer) -> None:
    cid = await _conn(aclient, toy_server)
    toy_server.inject(status=503, times=1)
    assert len((await aclient.crm.deals.list(connection_id=cid, limit=2)).data) == 2
    assert toy_server.hits["GET /items"] == 2
    toy_server.inject(status=503, times=1)
    with pytest.raises(ProviderError):
        await aclient.crm.deals.create(connection_id=cid, data={"name": "once"})
    assert toy_server.hits["POST /items"] == 1


async def test_async_timeout_is_reported(aclient: AsyncClient, toy_server: ToyServer) -> None:
    # The client's timeout bounds the whole call: the attempt that timed out used it all, so no retry.
    cid = await _conn(aclient, toy_server)
    toy_server.faults.timeout_delay = 1.5
    toy_server.inject(fault="timeout", times=3)
    with pytest.raises(ProviderTimeoutError) as info:
        await aclient.crm.deals.list(connection_id=cid)
    assert info.value.category == "timeout" and info.value.status is None
    assert info.value.details["deadline_exceeded"]
    logs = await aclient.logs.list(connection_id=cid)
    assert [(log.attempt, log.category, log.action) for log in reversed(logs)] == [(1, "timeout", "fail")]


async def test_async_passthrough_and_unsupported(aclient: AsyncClient, toy_server: ToyServer) -> None:
    cid = await _conn(aclient, toy_server)
    response = await aclient.passthrough.request(cid, "GET", "/items", params={"n": 1})
    assert response is not None and response.status == 200 and response.json()["items"][0]["key"] == 0
    with pytest.raises(NotSupportedError):
        await aclient.crm.contacts.list(connection_id=cid)
    with pytest.raises(NotSupportedError):
        await aclient.crm.deals.delete(connection_id=cid, id="1")
    assert toy_server.hits == {"GET /items": 1}
