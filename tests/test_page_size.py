"""``limit`` outside ``1..max_page_size`` is refused by the core before anything is sent, sync and async."""

from __future__ import annotations

from typing import Any

import pytest

from tests.toy.server import ToyServer
from tests.toy.toy_plugin import ToyDeals, ToyProvider
from unified_sdk import AsyncClient, Client
from unified_sdk.errors import ValidationError

BAD_LIMITS: tuple[Any, ...] = (0, -5, 101, 10_000, True, 2.0, "5")


class BigDeals(ToyDeals):
    max_page_size = 500


class BigToy(ToyProvider):
    adapters = {"crm.deals": "tests.test_page_size:BigDeals"}


def _connect(client: Client, server: ToyServer) -> str:
    conn = client.connections.create(provider="toy", credentials={"api_key": "k"}, config={"base_url": server.url})
    return conn.id


def test_the_adapter_declares_its_largest_page() -> None:
    assert ToyDeals.max_page_size == 100  # the base's default: the toy declares none


@pytest.mark.parametrize("limit", BAD_LIMITS)
def test_a_limit_outside_the_page_range_is_refused_before_sending(
    toy_server: ToyServer, toy_client: Client, limit: Any
) -> None:
    cid = _connect(toy_client, toy_server)
    before = len(toy_server.received_requests)
    with pytest.raises(ValidationError) as caught:
        toy_client.crm.deals.list(connection_id=cid, limit=limit)
    error = caught.value
    assert error.details["fields"] == ["limit"] and error.details["maximum"] == 100
    assert error.connection_id == cid and error.provider == "toy"
    assert "nothing was sent" in (error.hint or "")
    assert toy_server.received_requests[before:] == []


@pytest.mark.parametrize("limit", [1, 100, None])
def test_limits_in_range_are_sent_unchanged(toy_server: ToyServer, toy_client: Client, limit: int | None) -> None:
    cid = _connect(toy_client, toy_server)
    before = len(toy_server.received_requests)
    page = toy_client.crm.deals.list(connection_id=cid, limit=limit)
    assert len(page.data) == min(limit or 10, 25)
    assert toy_server.received_requests[before:] == [("GET", f"/items?n={limit or 10}")]


def test_a_plugin_may_declare_a_larger_page(toy_server: ToyServer, db_url: str) -> None:
    with Client(database_url=db_url, providers={"toy": BigToy}, timeout=2.0) as client:
        cid = _connect(client, toy_server)
        assert len(client.crm.deals.list(connection_id=cid, limit=500).data) == 25
        with pytest.raises(ValidationError):
            client.crm.deals.list(connection_id=cid, limit=501)


async def test_the_async_client_refuses_the_same_limits(toy_server: ToyServer, db_url: str) -> None:
    with Client(database_url=db_url, providers={"toy": ToyProvider}) as sync:
        cid = _connect(sync, toy_server)
    aclient = AsyncClient(database_url=db_url, providers={"toy": ToyProvider}, timeout=2.0)
    try:
        before = len(toy_server.received_requests)
        for limit in (0, -5, 101):
            with pytest.raises(ValidationError) as caught:
                await aclient.crm.deals.list(connection_id=cid, limit=limit)
            assert caught.value.details["fields"] == ["limit"]
        assert toy_server.received_requests[before:] == []
        assert len((await aclient.crm.deals.list(connection_id=cid, limit=3)).data) == 3
    finally:
        await aclient.aclose()
