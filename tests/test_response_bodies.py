"""Success statuses with bodies the call cannot use: HTML, empty, the wrong shape, or too large.

Each is a failed call: the error carries its log id, the log row says failure, and the connection is
not marked healthy by it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.rawhttp import RawServer, respond
from tests.toy.toy_plugin import ToyProvider
from unified_sdk import AsyncClient, Client
from unified_sdk.errors import ConfigurationError, ProviderError
from unified_sdk.testing import set_jitter

HTML = b"<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>"


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    c = Client(database_url=db_url, providers={"toy": ToyProvider}, timeout=5.0)
    set_jitter(c, lambda: 0.0)
    yield c
    c.close()


def _connect(client: Client, server: RawServer) -> str:
    conn = client.connections.create(provider="toy", credentials={"api_key": "k"}, config={"base_url": server.url})
    return conn.id


def test_a_200_html_page_is_a_logged_provider_error(client: Client) -> None:
    with RawServer(respond(200, "text/html; charset=utf-8", HTML)) as server:
        cid = _connect(client, server)
        with pytest.raises(ProviderError) as info:
            client.crm.deals.list(connection_id=cid)
        requests = server.requests
    err = info.value
    assert err.status == 200 and err.log_id and "HTML" in err.message and err.retryable
    assert requests == 3  # a provider_error on a GET: retried as usual
    logs = client.logs.list(connection_id=cid)
    assert logs[0].id == err.log_id
    assert [(log.category, log.action) for log in logs] == [("provider_error", "fail")] + [
        ("provider_error", "retry")
    ] * 2
    assert client.connections.get(cid).health == "new"


@pytest.mark.parametrize(
    ("body", "what"),
    [(b"", "empty"), (b'{"unexpected": true}', "KeyError"), (b'{"items": 5}', "TypeError")],
)
def test_a_200_body_the_adapter_cannot_read_is_a_logged_failure(client: Client, body: bytes, what: str) -> None:
    with RawServer(respond(200, "application/json", body)) as server:
        cid = _connect(client, server)
        with pytest.raises(ProviderError) as info:
            client.crm.deals.list(connection_id=cid)
        requests = server.requests
    err = info.value
    assert err.status == 200 and err.log_id and err.category == "provider_error" and not err.retryable
    if what != "empty":
        assert what in err.message
    assert requests == 1  # not retried: the same body would come back
    (log,) = client.logs.list(connection_id=cid)
    assert (log.id, log.status, log.category, log.action) == (err.log_id, 200, "provider_error", "fail")
    assert client.connections.get(cid).health == "new"  # not marked healthy by a call that failed


def test_a_delete_answered_200_with_no_body_succeeds(client: Client) -> None:
    with RawServer(respond(200, "application/json", b"")) as server:
        cid = _connect(client, server)
        response = client.passthrough.request(cid, "DELETE", "/items/1")
    assert response is not None and response.status == 200 and response.content == b""
    (log,) = client.logs.list(connection_id=cid)
    assert (log.category, log.action) == (None, "none")


def _page(items: int) -> bytes:
    return json.dumps({"items": [{"key": i, "label": "x" * 100} for i in range(items)], "after": None}).encode()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_response_over_the_size_cap_is_refused(tmp_path: Path, chunked: bool) -> None:
    big = _page(2000)  # ~250 kB
    with (
        Client(
            database_url=f"sqlite:///{tmp_path / 'c.db'}", providers={"toy": ToyProvider}, max_response_bytes=100_000
        ) as client,
        RawServer(respond(200, "application/json", big, chunked=chunked)) as server,
    ):
        cid = _connect(client, server)
        with pytest.raises(ProviderError) as info:
            client.crm.deals.list(connection_id=cid)
        assert server.requests == 1  # not retried: it would be as large again
        err = info.value
        assert "max_response_bytes=100000" in err.message and "max_response_bytes" in (err.hint or "")
        assert err.details["max_response_bytes"] == 100_000 and not err.retryable and err.log_id
        (log,) = client.logs.list(connection_id=cid)
        assert (log.id, log.category, log.action) == (err.log_id, "provider_error", "fail")
        small = RawServer(respond(200, "application/json", _page(3)))
        with small:
            other = _connect(client, small)
            assert len(client.crm.deals.list(connection_id=other).data) == 3


@pytest.fixture
async def aclient(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    c = AsyncClient(
        database_url=f"sqlite:///{tmp_path / 'a.db'}", providers={"toy": ToyProvider}, max_response_bytes=1000
    )
    yield c
    await c.aclose()


async def test_async_a_response_over_the_size_cap_is_refused(aclient: AsyncClient) -> None:
    with RawServer(respond(200, "application/json", _page(100), chunked=True)) as server:
        conn = await aclient.connections.create(
            provider="toy", credentials={"api_key": "k"}, config={"base_url": server.url}
        )
        with pytest.raises(ProviderError) as info:
            await aclient.crm.deals.list(connection_id=conn.id)
        assert server.requests == 1
    assert info.value.details["max_response_bytes"] == 1000


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_max_response_bytes_must_be_a_positive_integer(db_url: str, value: object) -> None:
    with pytest.raises(ConfigurationError):
        Client(database_url=db_url, max_response_bytes=value)
