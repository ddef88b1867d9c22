"""Every injected status and fault against the sandbox, end to end: exception class, category,
attempts sent, call-log rows, health and events (once per transition)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from unified_sdk import Client, Event
from unified_sdk import errors as e

pytest.importorskip("unified_sdk_sandbox.fake")
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk.testing import set_jitter


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(deals=30, contacts=5, companies=3) as s:
        s.faults.timeout_delay = 1.5
        yield s


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    c = Client(database_url=db_url, timeout=1.0)
    set_jitter(c, lambda: 0.0)
    yield c
    c.close()


# status → (exception, category, attempts for a GET, health after a success then this failure)
STATUSES = {
    400: (e.ValidationError, "validation", 1, "healthy"),
    401: (e.AuthenticationError, "authentication", 1, "unhealthy_now"),
    402: (e.RequestFailedError, "request_failed", 1, "healthy"),
    403: (e.PermissionDeniedError, "permission", 1, "unhealthy_now"),
    404: (e.NotFoundError, "not_found", 1, "healthy"),
    405: (e.MethodNotAllowedError, "method_not_allowed", 1, "healthy"),
    409: (e.ConflictError, "conflict", 1, "healthy"),
    422: (e.ValidationError, "validation", 1, "healthy"),
    429: (e.RateLimitedError, "rate_limited", 5, "healthy"),
    500: (e.ProviderError, "provider_error", 3, "healthy"),
    501: (e.NotImplementedByProviderError, "not_implemented", 1, "healthy"),
    503: (e.ProviderError, "provider_error", 3, "healthy"),
    504: (e.ProviderTimeoutError, "timeout", 3, "healthy"),
}


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_each_status(client: Client, server: SandboxServer, status: int) -> None:
    exc_class, category, attempts, health = STATUSES[status]
    events: list[Event] = []
    client.events.on("*", events.append)
    conn = client.connections.create(provider="sandbox", credentials={"api_key": server.api_key}, config=server.config)
    client.crm.deals.list(connection_id=conn.id, limit=1)
    server.inject(status=status, times=10, retry_after=0 if status == 429 else None, path="/v1/deals")
    try:
        with pytest.raises(exc_class) as info:
            client.crm.deals.list(connection_id=conn.id, limit=1)
    finally:
        server.faults.clear()
    err = info.value
    assert (err.category, err.status, err.provider, err.connection_id) == (category, status, "sandbox", conn.id)
    assert err.hint and err.request_id and err.log_id
    logs = client.logs.list(connection_id=conn.id, status_min=400)
    assert len(logs) == attempts
    assert [log.attempt for log in reversed(logs)] == list(range(1, attempts + 1))
    assert logs[0].id == err.log_id and logs[0].action == "fail" and logs[0].category == category
    assert all(log.provider_request_id for log in logs)
    assert client.connections.get(conn.id).health == health
    expected = ["connection.created", "connection.healthy"]
    if health == "unhealthy_now":
        expected.append("connection.unhealthy")
    assert [ev.type for ev in events] == expected


@pytest.mark.parametrize(
    ("fault", "exc_class", "category"),
    [
        ("reset", e.NetworkError, "network"),
        ("malformed_json", e.ProviderError, "provider_error"),
        ("html", e.ProviderError, "provider_error"),
    ],
)
def test_each_fault_is_retried_then_reported(
    client: Client, server: SandboxServer, fault: str, exc_class: type[e.UnifiedError], category: str
) -> None:
    conn = client.connections.create(provider="sandbox", credentials={"api_key": server.api_key}, config=server.config)
    server.inject(fault=fault, times=1, path="/v1/deals")
    assert len(client.crm.deals.list(connection_id=conn.id, limit=2).data) == 2  # one fault: the retry succeeds
    server.inject(fault=fault, times=3, path="/v1/deals")
    with pytest.raises(exc_class) as info:
        client.crm.deals.list(connection_id=conn.id, limit=2)
    assert info.value.category == category and info.value.hint
    logs = list(reversed(client.logs.list(connection_id=conn.id)))
    assert [(log.attempt, log.category, log.action) for log in logs[-3:]] == [
        (1, category, "retry"),
        (2, category, "retry"),
        (3, category, "fail"),
    ]
    assert client.connections.get(conn.id).health in ("new", "healthy")  # neutral signals


def test_a_client_timeout_ends_the_call(client: Client, server: SandboxServer) -> None:
    # The client's timeout (1 s) bounds the whole call: the attempt that timed out used it all, so no retry.
    conn = client.connections.create(provider="sandbox", credentials={"api_key": server.api_key}, config=server.config)
    server.inject(fault="timeout", times=3, path="/v1/deals")
    before = server.count("GET", "/v1/deals")
    try:
        with pytest.raises(e.ProviderTimeoutError) as info:
            client.crm.deals.list(connection_id=conn.id, limit=2)
    finally:
        server.faults.clear()
    assert info.value.category == "timeout" and info.value.retryable and info.value.details["deadline_exceeded"]
    logs = client.logs.list(connection_id=conn.id)
    assert [(log.attempt, log.category, log.action) for log in logs] == [(1, "timeout", "fail")]
    assert logs[0].id == info.value.log_id
    assert server.count("GET", "/v1/deals") - before == 1
    assert client.connections.get(conn.id).health == "new"  # a timeout is a neutral signal
