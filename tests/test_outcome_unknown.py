"""Writes whose outcome is unknown: a POST that reached the provider and got no answer must not say "retry".

The toy provider declares no idempotency header, so its POSTs are never safe to re-send.
Every behaviour test goes through :class:`LossyProxy`, which lets the toy server create the
record and then loses the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.toy.server import ToyServer
from tests.toy.toy_plugin import ToyProvider
from unified_sdk import AsyncClient, Category, Client
from unified_sdk._retry import may_have_been_sent
from unified_sdk.errors import (
    NetworkError,
    NotSupportedError,
    OutcomeUnknownError,
    ProviderCallError,
    ProviderError,
    ProviderTimeoutError,
)
from unified_sdk.testing import LossyProxy, sqlite_client


@pytest.fixture
def proxy(toy_server: ToyServer) -> Iterator[LossyProxy]:
    with LossyProxy(toy_server.url) as p:
        yield p


def _conn(client: Client, proxy: LossyProxy) -> str:
    conn = client.connections.create(
        provider="toy", credentials={"api_key": "k-123456"}, config={"base_url": proxy.url}
    )
    return conn.id


def _labels(server: ToyServer, label: str) -> int:
    return sum(1 for item in server.items if item["label"] == label)


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_lost_answer_to_a_post_is_outcome_unknown(
    toy_client: Client, toy_server: ToyServer, proxy: LossyProxy, reset: bool
) -> None:
    cid = _conn(toy_client, proxy)
    proxy.lose_response(method="POST", reset=reset)
    with pytest.raises(OutcomeUnknownError) as info:
        toy_client.crm.deals.create(connection_id=cid, data={"name": "once"})
    err = info.value
    assert isinstance(err, NetworkError)  # `except NetworkError` still catches it
    assert err.category == "network" and err.retryable is False
    assert err.details["may_have_succeeded"] is True and err.details["sent"] is True
    assert err.hint is not None and "look the record up" in err.hint
    assert "check network access" not in str(err)
    assert proxy.count("POST", "/items") == 1 and toy_server.hits["POST /items"] == 1
    assert _labels(toy_server, "once") == 1  # the provider did create it
    (log,) = toy_client.logs.list(connection_id=cid)
    assert (log.action, log.category, log.attempt, log.id) == ("fail", "network", 1, err.log_id)
    assert log.action_reason == "default(category=network); outcome unknown: the provider may have processed it"


def test_a_post_answered_after_the_read_timeout_is_outcome_unknown(
    db_url: str, toy_server: ToyServer, proxy: LossyProxy
) -> None:
    with Client(database_url=db_url, providers={"toy": ToyProvider}, timeout=0.5) as client:
        cid = _conn(client, proxy)
        proxy.delay_response(3.0, method="POST")
        with pytest.raises(OutcomeUnknownError) as info:
            client.crm.deals.create(connection_id=cid, data={"name": "slow"})
    err = info.value
    assert isinstance(err, ProviderTimeoutError)  # `except ProviderTimeoutError` still catches it
    assert err.category == "timeout" and err.retryable is False and err.details["may_have_succeeded"] is True
    assert proxy.count("POST") == 1 and _labels(toy_server, "slow") == 1


def test_a_refused_connection_is_plainly_retryable(toy_client: Client, toy_server: ToyServer) -> None:
    proxy = LossyProxy(toy_server.url).start()
    cid = _conn(toy_client, proxy)
    proxy.stop()  # nothing listens on the port any more
    with pytest.raises(NetworkError) as info:
        toy_client.crm.deals.create(connection_id=cid, data={"name": "never"})
    err = info.value
    assert not isinstance(err, OutcomeUnknownError)
    assert err.retryable is True and err.details["sent"] is False and "may_have_succeeded" not in err.details
    assert err.hint is not None and "network access" in err.hint
    assert toy_server.hits.get("POST /items", 0) == 0 and _labels(toy_server, "never") == 0
    assert [log.action for log in reversed(toy_client.logs.list(connection_id=cid))] == ["retry", "retry", "fail"]


def test_a_lost_answer_to_a_get_is_retried(toy_client: Client, toy_server: ToyServer, proxy: LossyProxy) -> None:
    cid = _conn(toy_client, proxy)
    proxy.lose_response(method="GET")
    assert len(toy_client.crm.deals.list(connection_id=cid, limit=3).data) == 3
    assert proxy.count("GET") == 2


def test_504_to_a_post_is_outcome_unknown(toy_client: Client, toy_server: ToyServer) -> None:
    cid = toy_client.connections.create(
        provider="toy", credentials={"api_key": "k-123456"}, config={"base_url": toy_server.url}
    ).id
    toy_server.inject(status=504, times=1)
    with pytest.raises(OutcomeUnknownError) as info:
        toy_client.crm.deals.create(connection_id=cid, data={"name": "gateway"})
    err = info.value
    assert isinstance(err, ProviderTimeoutError) and err.status == 504
    assert err.retryable is False and err.details["may_have_succeeded"] is True
    assert toy_server.hits["POST /items"] == 1


def test_408_to_a_post_is_resent(toy_client: Client, toy_server: ToyServer) -> None:
    # 408: the server gave up receiving the request, so it did not process it.
    cid = toy_client.connections.create(
        provider="toy", credentials={"api_key": "k-123456"}, config={"base_url": toy_server.url}
    ).id
    toy_server.inject(status=408, times=1)
    created = toy_client.crm.deals.create(connection_id=cid, data={"name": "after 408"})
    assert created is not None and toy_server.hits["POST /items"] == 2 and _labels(toy_server, "after 408") == 1


def test_a_rule_allowing_repeats_keeps_a_lost_post_retryable(
    toy_client: Client, toy_server: ToyServer, proxy: LossyProxy
) -> None:
    cid = _conn(toy_client, proxy)
    toy_client.actions.set("retry", category="network", provider="toy", max_retries=1, retry_non_idempotent=True)
    proxy.lose_response(method="POST", times=2)
    with pytest.raises(NetworkError) as info:
        toy_client.crm.deals.create(connection_id=cid, data={"name": "twice"})
    assert not isinstance(info.value, OutcomeUnknownError) and info.value.retryable is True
    assert proxy.count("POST") == 2 and _labels(toy_server, "twice") == 2  # what the user asked for


def test_503_to_a_post_is_not_called_retryable(toy_client: Client, toy_server: ToyServer) -> None:
    cid = toy_client.connections.create(
        provider="toy", credentials={"api_key": "k-123456"}, config={"base_url": toy_server.url}
    ).id
    toy_server.inject(status=503, times=1)
    with pytest.raises(ProviderError) as info:
        toy_client.crm.deals.create(connection_id=cid, data={"name": "x"})
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.retryable is False  # the SDK did not re-send it: neither should the app, blindly
    assert toy_server.hits["POST /items"] == 1


def test_an_idempotency_key_without_provider_support_is_refused_before_sending(
    toy_client: Client, toy_server: ToyServer
) -> None:
    cid = toy_client.connections.create(
        provider="toy", credentials={"api_key": "k-123456"}, config={"base_url": toy_server.url}
    ).id
    with pytest.raises(NotSupportedError) as info:
        toy_client.crm.deals.create(connection_id=cid, data={"name": "x"}, idempotency_key="order-1")
    assert "idempotency" in str(info.value)
    assert toy_server.hits == {} and toy_client.logs.list(connection_id=cid) == []


async def test_async_lost_answer_is_outcome_unknown(tmp_path: Path, toy_server: ToyServer, proxy: LossyProxy) -> None:
    async with sqlite_client(tmp_path, AsyncClient, filename="a.db", providers={"toy": ToyProvider}) as client:
        conn = await client.connections.create(
            provider="toy", credentials={"api_key": "k-123456"}, config={"base_url": proxy.url}
        )
        proxy.lose_response(method="POST")
        with pytest.raises(OutcomeUnknownError) as info:
            await client.crm.deals.create(connection_id=conn.id, data={"name": "async once"})
    assert isinstance(info.value, NetworkError) and info.value.retryable is False
    assert proxy.count("POST") == 1 and _labels(toy_server, "async once") == 1


def test_the_error_tree() -> None:
    from unified_sdk import errors

    assert issubclass(OutcomeUnknownError, ProviderCallError)
    network = errors.error_class_for(Category.NETWORK, outcome_unknown=True)
    timeout = errors.error_class_for(Category.TIMEOUT, outcome_unknown=True)
    assert issubclass(network, OutcomeUnknownError) and issubclass(network, NetworkError)
    assert issubclass(timeout, OutcomeUnknownError) and issubclass(timeout, ProviderTimeoutError)
    assert network.default_category == "network" and timeout.default_category == "timeout"
    assert errors.error_class_for(Category.NETWORK) is NetworkError
    assert "OutcomeUnknownError" in errors.__all__


@pytest.mark.parametrize(
    ("error", "sent"),
    [
        (httpx2.ConnectError("refused"), False),
        (httpx2.ConnectTimeout("slow connect"), False),
        (httpx2.PoolTimeout("no connection free"), False),
        (httpx2.UnsupportedProtocol("ftp"), False),
        (httpx2.ProxyError("CONNECT refused"), False),
        (httpx2.LocalProtocolError("bad header"), False),
        (httpx2.WriteError("broken pipe"), True),
        (httpx2.WriteTimeout("slow write"), True),
        (httpx2.ReadError("reset"), True),
        (httpx2.ReadTimeout("slow answer"), True),
        (httpx2.RemoteProtocolError("Server disconnected without sending a response."), True),
        (httpx2.CloseError("close"), True),
        (httpx2.TransportError("unknown"), True),
    ],
)
def test_which_transport_errors_prove_a_request_unsent(error: Exception, sent: bool) -> None:
    assert may_have_been_sent(error) is sent


def test_the_proxy_forwards_chunked_bodies_and_keeps_order(toy_server: ToyServer, proxy: LossyProxy) -> None:
    with httpx2.Client(base_url=proxy.url) as http:
        created = http.post("/items", content=iter([b'{"label": ', b'"chunked"}']), headers={"x-api-key": "k"})
        assert created.status_code == 201 and created.json()["label"] == "chunked"
        assert created.headers["connection"] == "close"
        proxy.lose_response(method="GET", path="/items")
        with pytest.raises(httpx2.RemoteProtocolError):
            http.get("/items")
        assert http.get("/items", params={"n": 1}).status_code == 200
    assert [(r.method, r.path, r.status, r.fate) for r in proxy.requests] == [
        ("POST", "/items", 201, "relayed"),
        ("GET", "/items", 200, "lost"),
        ("GET", "/items", 200, "relayed"),
    ]
    with pytest.raises(ValueError, match="times"):
        proxy.lose_response(times=0)
