"""The whole AsyncClient surface is awaitable and never blocks the event loop; async listeners are awaited."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import AsyncClient, Client, Event
from unified_sdk.testing import authorize_async, sqlite_client

#: asyncio's debug mode reports every loop step that ran longer than this (seconds).
#: A blocking call (a SQLite open, a plugin import, a TLS trust-store load, a network wait) holds the loop for
#: tens to hundreds of ms; pure-Python work between awaits stays far below this even when the suite's parallel
#: workers share two cores (at 0.05 s, a 25 ms log-row conversion slowed 2x by the other workers tripped it).
SLOW_CALLBACK = 0.15

#: What touches storage or the network: every public method of these namespaces must be awaitable.
ASYNC_NAMESPACES = ("connections", "integrations", "logs", "auth", "keys", "passthrough")


@pytest.fixture
def fake() -> Iterator[SandboxServer]:
    with SandboxServer(deals=30, contacts=5, companies=5) as server:
        yield server


class SlowSteps(logging.Handler):
    """Collects asyncio's "Executing <Handle ...> took X seconds" reports."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing"):
            self.reports.append(message)


@pytest.fixture
def slow_steps() -> Iterator[SlowSteps]:
    handler = SlowSteps()
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addHandler(handler)
    try:
        yield handler
    finally:
        asyncio_logger.removeHandler(handler)


def _public_methods(obj: object) -> list[tuple[str, object]]:
    return [
        (name, getattr(type(obj), name))
        for name in dir(type(obj))
        if not name.startswith("_") and inspect.isfunction(getattr(type(obj), name))
    ]


async def test_every_async_namespace_method_that_does_io_is_a_coroutine(tmp_path: Path) -> None:
    async with sqlite_client(tmp_path, AsyncClient) as client:
        namespaces = {name: getattr(client, name) for name in ASYNC_NAMESPACES}
        namespaces.update({f"crm.{r}": getattr(client.crm, r) for r in ("deals", "contacts", "companies")})
        sync_methods = {
            f"{where}.{name}"
            for where, namespace in namespaces.items()
            for name, method in _public_methods(namespace)
            if not inspect.iscoroutinefunction(method)
        }
        assert sync_methods == set()
        assert {name for name, _ in _public_methods(client.logs)} == {"list", "get"}
        assert {name for name, _ in _public_methods(client.integrations)} == {"configure"}
        # The sync client keeps its blocking namespaces.
        with sqlite_client(tmp_path, Client, filename="sync.db") as sync:
            assert not inspect.iscoroutinefunction(type(sync.logs).list)
            assert not inspect.iscoroutinefunction(type(sync.integrations).configure)


async def test_the_whole_async_surface_runs_without_blocking_the_loop(
    tmp_path: Path, fake: SandboxServer, slow_steps: SlowSteps
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK
    awaited: list[tuple[str, str]] = []
    called: list[tuple[str, str]] = []

    async def async_listener(event: Event) -> None:
        await asyncio.sleep(0)  # really awaited on the loop, not called and dropped
        awaited.append((event.type, event.connection_id))

    def sync_listener(event: Event) -> None:
        called.append((event.type, event.connection_id))

    client = sqlite_client(tmp_path, AsyncClient)  # fresh: its first call opens SQLite and creates the schema
    for event_type in ("connection.created", "connection.healthy", "connection.deleted"):
        client.events.on(event_type, async_listener)
    client.events.on("*", sync_listener)

    conn = await client.connections.create(
        provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config, external_id="c-1"
    )
    assert (await client.connections.get(conn.id)).id == conn.id
    assert [c.id for c in await client.connections.list(provider="sandbox")] == [conn.id]
    await client.connections.update(conn.id, external_id="c-2")
    checked = await client.connections.check(conn.id)
    assert checked.health.value == "healthy"

    page = await client.crm.deals.list(connection_id=conn.id, limit=10)
    assert len([deal async for deal in page]) == 30
    deal = await client.crm.deals.create(connection_id=conn.id, data={"name": "Async parity"})
    assert (await client.crm.deals.get(connection_id=conn.id, id=deal.id)).name == "Async parity"
    await client.crm.deals.update(connection_id=conn.id, id=deal.id, data={"name": "Async parity 2"})
    await client.crm.deals.delete(connection_id=conn.id, id=deal.id)
    response = await client.passthrough.request(conn.id, "GET", "/v1/deals", params={"limit": 1})
    assert response.status == 200

    oauth = await authorize_async(client, fake, "sandbox", ["crm_deal_read"])  # integrations.configure too
    assert len((await client.crm.deals.list(connection_id=oauth.id, limit=2)).data) == 2

    logs = await client.logs.list(connection_id=conn.id, limit=100)
    assert len(logs) == 3 + 4 + 1 + 1  # three pages, the writes and read of one deal, the passthrough, the check
    one = await client.logs.get(logs[0].id)
    assert one is not None and one.id == logs[0].id
    await client.keys.rotate()
    assert client.stats().call_logs_dropped == 0

    await client.connections.delete(oauth.id)  # revokes at the fake first
    await client.connections.delete(conn.id)
    await client.aclose()  # waits for the async listeners still running

    assert slow_steps.reports == []
    expected = [
        ("connection.created", conn.id),
        ("connection.healthy", conn.id),
        ("connection.created", oauth.id),  # stored healthy by its completion check: no transition
        ("connection.deleted", oauth.id),
        ("connection.deleted", conn.id),
    ]
    assert sorted(awaited) == sorted(expected)
    assert set(expected) <= set(called)
    assert ("connection.updated", conn.id) in called


async def test_a_failing_async_listener_is_logged_and_the_call_succeeds(
    tmp_path: Path, fake: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(event: Event) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("listener bug")

    async with sqlite_client(tmp_path, AsyncClient) as client:
        client.events.on("connection.created", broken)
        with caplog.at_level(logging.ERROR, logger="unified_sdk.events"):
            conn = await client.connections.create(
                provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config
            )
            await client.events.drain()
        assert (await client.connections.get(conn.id)).id == conn.id
    assert [r.exc_info[1].args for r in caplog.records if r.exc_info and r.exc_info[1]] == [("listener bug",)]


def test_an_async_listener_on_the_sync_client_is_awaited(tmp_path: Path, fake: SandboxServer) -> None:
    awaited: list[str] = []

    async def listener(event: Event) -> None:
        await asyncio.sleep(0)
        awaited.append(event.type)

    with sqlite_client(tmp_path, Client) as client:
        client.events.on("connection.created", listener)
        client.connections.create(provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config)
        assert awaited == ["connection.created"]
