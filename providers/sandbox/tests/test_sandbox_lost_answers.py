"""Writes whose answer is lost on the way back, through a proxy in front of the sandbox.

The sandbox honours ``Idempotency-Key`` (a repeated key replays the first result), so the SDK
re-sends a write whose answer was lost, with the same key, and the record is made once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_testkit import new_client
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import AsyncClient, Client, Connection
from unified_sdk.errors import ConfigurationError, NetworkError, OutcomeUnknownError
from unified_sdk.testing import LossyProxy


@pytest.fixture
def proxy(server: SandboxServer) -> Iterator[LossyProxy]:
    with LossyProxy(server.url) as p:
        yield p


@pytest.fixture
def proxied(client: Client, server: SandboxServer, proxy: LossyProxy) -> Connection:
    """An API-key connection whose API calls go through the proxy."""
    return client.connections.create(
        provider="sandbox", credentials={"api_key": server.api_key}, config={**server.config, "base_url": proxy.url}
    )


def _named(server: SandboxServer, name: str) -> list[str]:
    return [rid for rid, r in server.data.deals.records.items() if r.get("title") == name]


def _post_keys(server: SandboxServer) -> list[str | None]:
    return [r.idempotency_key for r in server.requests if r.method == "POST"]


def test_a_lost_answer_is_resent_with_the_same_key(
    client: Client, server: SandboxServer, proxy: LossyProxy, proxied: Connection
) -> None:
    proxy.lose_response(method="POST", path="/v1/deals")
    deal = client.crm.deals.create(connection_id=proxied.id, data={"name": "Exactly once"})
    assert deal is not None and _named(server, "Exactly once") == [deal.id]
    keys = _post_keys(server)
    assert len(keys) == 2 and keys[0] is not None and keys[0] == keys[1]
    assert [r.fate for r in proxy.requests if r.method == "POST"] == ["lost", "relayed"]


def test_every_answer_lost_is_outcome_unknown_with_the_key_to_resend(
    client: Client, server: SandboxServer, proxy: LossyProxy, proxied: Connection
) -> None:
    proxy.lose_response(method="POST", path="/v1/deals", times=3)
    with pytest.raises(OutcomeUnknownError) as info:
        client.crm.deals.create(connection_id=proxied.id, data={"name": "Lost thrice"})
    err = info.value
    assert isinstance(err, NetworkError) and err.retryable is False and err.details["may_have_succeeded"] is True
    key = err.details["idempotency_key"]
    assert _post_keys(server) == [key] * 3 and len(_named(server, "Lost thrice")) == 1
    assert err.hint is not None and "look the record up" in err.hint and "idempotency_key" in err.hint
    # Re-sending with the SDK's key is safe: the sandbox replays the first result.
    again = client.crm.deals.create(connection_id=proxied.id, data={"name": "Lost thrice"}, idempotency_key=key)
    assert again is not None and _named(server, "Lost thrice") == [again.id]


def test_the_callers_key_makes_an_app_level_retry_safe(
    client: Client, server: SandboxServer, proxy: LossyProxy, proxied: Connection
) -> None:
    proxy.lose_response(method="POST", path="/v1/deals", times=3)
    with pytest.raises(NetworkError) as info:
        client.crm.deals.create(connection_id=proxied.id, data={"name": "Order 42"}, idempotency_key="order-42")
    err = info.value
    assert not isinstance(err, OutcomeUnknownError) and err.retryable is True  # the same key makes it safe
    deal = client.crm.deals.create(connection_id=proxied.id, data={"name": "Order 42"}, idempotency_key="order-42")
    assert deal is not None and _named(server, "Order 42") == [deal.id]
    assert _post_keys(server) == ["order-42"] * 4


def test_an_update_carries_the_callers_key(
    client: Client, server: SandboxServer, proxy: LossyProxy, proxied: Connection
) -> None:
    rid = next(iter(server.data.deals.records))
    proxy.lose_response(method="PATCH")
    updated = client.crm.deals.update(connection_id=proxied.id, id=rid, data={"name": "Renamed"}, idempotency_key="u-1")
    assert updated is not None and updated.name == "Renamed"
    assert [r.idempotency_key for r in server.requests if r.method == "PATCH"] == ["u-1", "u-1"]


@pytest.mark.parametrize("key", ["", " padded", "tab\there", "é", "x" * 201])
def test_a_bad_key_is_refused_before_sending(client: Client, server: SandboxServer, conn: Connection, key: str) -> None:
    with pytest.raises(ConfigurationError):
        client.crm.deals.create(connection_id=conn.id, data={"name": "Never"}, idempotency_key=key)
    assert server.count("POST") == 0


def test_a_refused_connection_creates_nothing(client: Client, server: SandboxServer) -> None:
    proxy = LossyProxy(server.url).start()
    config = {**server.config, "base_url": proxy.url}
    conn = client.connections.create(provider="sandbox", credentials={"api_key": server.api_key}, config=config)
    proxy.stop()
    before = len(server.data.deals)
    with pytest.raises(NetworkError) as info:
        client.crm.deals.create(connection_id=conn.id, data={"name": "Never"})
    assert not isinstance(info.value, OutcomeUnknownError) and info.value.retryable is True
    assert info.value.details["sent"] is False
    assert server.count("POST") == 0 and len(server.data.deals) == before


async def test_async_lost_answers(tmp_path: Path, server: SandboxServer, proxy: LossyProxy) -> None:
    async with new_client(tmp_path, AsyncClient) as aclient:
        conn = await aclient.connections.create(
            provider="sandbox", credentials={"api_key": server.api_key}, config={**server.config, "base_url": proxy.url}
        )
        proxy.lose_response(method="POST", path="/v1/deals")
        deal = await aclient.crm.deals.create(connection_id=conn.id, data={"name": "Async once"})
        assert deal is not None and _named(server, "Async once") == [deal.id]
        proxy.lose_response(method="POST", path="/v1/deals", times=3)
        with pytest.raises(OutcomeUnknownError) as info:
            await aclient.crm.deals.create(connection_id=conn.id, data={"name": "Async lost"})
    assert info.value.retryable is False and len(_named(server, "Async lost")) == 1
