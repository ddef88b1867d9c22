"""Batch writes (``create_many`` / ``update_many``) and smaller pages after a timeout, against the sandbox.

The sandbox has no batch endpoint: a batch is one call per record, paced by its rate-limit headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from unified_sdk import AsyncClient, BatchResult, Client
from unified_sdk import errors as e

pytest.importorskip("unified_sdk_sandbox.fake")
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk.testing import set_jitter


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    c = Client(database_url=db_url, timeout=5.0)
    set_jitter(c, lambda: 0.0)
    yield c
    c.close()


def _connect(client: Client, server: SandboxServer) -> str:
    conn = client.connections.create(provider="sandbox", credentials={"api_key": server.api_key}, config=server.config)
    return conn.id


def test_a_thousand_creates_are_paced_under_the_rate_limit(client: Client) -> None:
    # 1,000 creates against a budget of 250 requests a second: the throttle waits for each window.
    with SandboxServer(deals=0, contacts=0, companies=0, rate_limit=250, rate_limit_window=1.0) as server:
        cid = _connect(client, server)
        rows = [{"first_name": f"P{i}", "last_name": "Batch"} for i in range(1000)]
        result = client.crm.contacts.create_many(connection_id=cid, data=rows)

        assert isinstance(result, BatchResult)
        assert [item.index for item in result] == list(range(1000))
        assert result.failed == []
        assert [r.first_name for r in result.records] == [f"P{i}" for i in range(1000)]
        assert server.count("POST", "/v1/contacts") == 1000  # no 429 re-sent, nothing twice
        stored = sorted(c["first_name"] for c in server.data.contacts.records.values())
        assert stored == sorted(f"P{i}" for i in range(1000))
        assert client.logs.list(connection_id=cid, status_min=429, status_max=429) == []


def test_a_bad_item_fails_alone_and_is_not_sent(client: Client) -> None:
    with SandboxServer(deals=0, contacts=0, companies=0) as server:
        cid = _connect(client, server)
        rows: list[object] = [{"first_name": "A"}, {"first_name": 5}, {"nickname": "x"}, {"first_name": "D"}]
        result = client.crm.contacts.create_many(connection_id=cid, data=rows)  # type: ignore[arg-type]

        assert [item.ok for item in result] == [True, False, False, True]
        assert [r.first_name for r in result.records] == ["A", "D"]
        for item in result.failed:
            assert isinstance(item.error, e.ValidationError)
            assert item.error.details["index"] == item.index
            assert item.error.connection_id == cid
        assert result.failed[0].error is not None and result.failed[0].error.details["fields"] == ["first_name"]
        assert server.count("POST", "/v1/contacts") == 2


def test_a_provider_refusal_fails_only_its_item(client: Client) -> None:
    with SandboxServer(deals=0, contacts=0, companies=0) as server:
        cid = _connect(client, server)
        server.inject(status=422, times=1, path="/v1/contacts")
        result = client.crm.contacts.create_many(connection_id=cid, data=[{"first_name": "A"}, {"first_name": "B"}])

        assert [item.ok for item in result] == [False, True]
        assert isinstance(result.items[0].error, e.ValidationError)
        assert result.items[0].error.status == 422
        assert [r.first_name for r in result.records] == ["B"]


def test_update_many_checks_ids_and_updates_the_rest(client: Client) -> None:
    with SandboxServer(deals=0, contacts=3, companies=0) as server:
        cid = _connect(client, server)
        ids = sorted(server.data.contacts.records)
        before = server.count("PATCH")
        result = client.crm.contacts.update_many(
            connection_id=cid,
            data=[(ids[0], {"title": "CEO"}), ("../x", {"title": "CTO"}), (ids[1], {"title": "CFO"}), "junk"],  # type: ignore[list-item]
        )

        assert [item.ok for item in result] == [True, False, True, False]
        assert [r.title for r in result.records] == ["CEO", "CFO"]
        assert all(isinstance(item.error, e.ValidationError) for item in result.failed)
        assert server.count("PATCH") - before == 2
        assert client.crm.contacts.get(connection_id=cid, id=ids[0]).title == "CEO"


def test_a_dead_credential_stops_the_rest_unsent(client: Client) -> None:
    with SandboxServer(deals=0, contacts=0, companies=0) as server:
        cid = _connect(client, server)
        server.inject(status=401, times=1, path="/v1/contacts")
        result = client.crm.contacts.create_many(connection_id=cid, data=[{"first_name": str(i)} for i in range(5)])

        assert all(isinstance(item.error, e.AuthenticationError) for item in result)
        assert len(result.failed) == 5
        assert server.count("POST", "/v1/contacts") == 1


def test_a_lone_mapping_is_refused_before_sending(client: Client) -> None:
    with SandboxServer(deals=0, contacts=0, companies=0) as server:
        cid = _connect(client, server)
        with pytest.raises(e.ValidationError):
            client.crm.contacts.create_many(connection_id=cid, data={"first_name": "A"})  # type: ignore[arg-type]
        assert server.count("POST") == 0


async def test_async_create_many(db_url: str) -> None:
    with SandboxServer(deals=0, contacts=0, companies=0) as server:
        async with AsyncClient(database_url=db_url, timeout=5.0) as client:
            conn = await client.connections.create(
                provider="sandbox", credentials={"api_key": server.api_key}, config=server.config
            )
            result = await client.crm.deals.create_many(
                connection_id=conn.id, data=[{"name": "one"}, {"name": 7}, {"name": "three"}]
            )
            assert [item.ok for item in result] == [True, False, True]
            updated = await client.crm.deals.update_many(
                connection_id=conn.id, data=[(result.records[0].id, {"name": "uno"})]
            )
            assert [r.name for r in updated.records] == ["uno"]
        assert server.count("POST", "/v1/deals") == 2


# -- smaller pages when a big page times out --------------------------------------------------------------


def _limits(server: SandboxServer, path: str) -> list[int]:
    return [int(parse_qs(r.query)["limit"][0]) for r in server.requests if r.path == path]


def test_a_504_page_is_retried_once_at_half_size_and_the_walk_is_exact(client: Client) -> None:
    with SandboxServer(deals=230, contacts=0, companies=0, rate_limit=1_000_000) as server:
        cid = _connect(client, server)
        # The first page fails on every attempt the pipeline makes (1 + 2 retries).
        server.inject(status=504, times=3, path="/v1/deals")
        ids = [d.id for d in client.crm.deals.list(connection_id=cid, limit=100)]

        assert sorted(ids) == sorted(server.data.deals.records) and len(ids) == len(set(ids)) == 230
        assert _limits(server, "/v1/deals")[:5] == [100, 100, 100, 50, 100]


def test_the_smaller_page_keeps_within_the_callers_timeout(db_url: str) -> None:
    # A client timeout that used up the call's whole timeout is not followed by a smaller page.
    with SandboxServer(deals=120, contacts=0, companies=0, rate_limit=1_000_000) as server:
        server.faults.timeout_delay = 2.0
        with Client(database_url=db_url, timeout=5.0) as client:
            cid = _connect(client, server)
            server.inject(fault="timeout", times=1, path="/v1/deals")
            with pytest.raises(e.ProviderTimeoutError):
                client.crm.deals.list(connection_id=cid, timeout=0.5)
        assert _limits(server, "/v1/deals") == [100]


def test_a_page_at_the_floor_is_not_shrunk(client: Client) -> None:
    with SandboxServer(deals=30, contacts=0, companies=0, rate_limit=1_000_000) as server:
        cid = _connect(client, server)
        server.inject(status=504, times=3, path="/v1/deals")
        with pytest.raises(e.ProviderTimeoutError):
            client.crm.deals.list(connection_id=cid, limit=10)
        assert _limits(server, "/v1/deals") == [10, 10, 10]


CANARY_KEY = "sk_toy_canary_9f8e7d6c5b4a"


def test_a_plugins_item_errors_are_redacted_like_every_error(db_url: str) -> None:
    """A batch answer that echoes the connection's key in an item's error (message, provider message, details)
    reaches the caller redacted, as every error the pipeline builds."""
    from collections.abc import Mapping, Sequence
    from typing import Any

    from tests.toy.server import ToyServer
    from tests.toy.toy_plugin import ToyDeals, ToyProvider
    from unified_sdk.provider import Category, OperationContext, OperationFlow, ProviderRequest, item_error

    class EchoingDeals(ToyDeals):
        batch_size = 10

        def create_many(self, ctx: OperationContext, items: Sequence[Mapping[str, Any]]) -> OperationFlow[list[Any]]:
            yield ProviderRequest("GET", "/items", params={"n": 1})
            return [
                item_error(
                    Category.VALIDATION,
                    f"value rejected for key {CANARY_KEY}",
                    provider_message=f"echo {CANARY_KEY}",
                    details={"fields": ["name"], "echo": [CANARY_KEY]},
                )
                for _ in items
            ]

    class EchoingToy(ToyProvider):
        name = "echoing"
        adapters = {"crm.deals": f"{__name__}:_ECHOING"}

    globals()["_ECHOING"] = EchoingDeals
    with ToyServer() as server, Client(database_url=db_url, providers={"echoing": EchoingToy}) as client:
        conn = client.connections.create(
            provider="echoing", credentials={"api_key": CANARY_KEY}, config={"base_url": server.url}
        )
        result = client.crm.deals.create_many(connection_id=conn.id, data=[{"name": "a"}, {"name": "b"}])
        assert [item.ok for item in result] == [False, False]
        for item in result.failed:
            error = item.error
            assert error is not None and isinstance(error, e.ValidationError)
            shown = f"{error} {error!r} {error.provider_message} {error.details}"
            assert CANARY_KEY not in shown
            assert error.connection_id == conn.id
