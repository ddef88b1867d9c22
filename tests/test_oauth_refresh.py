"""Token refresh against the sandbox in rotation mode: a failing or silent token endpoint is a
transient provider error (never a dead connection), a lost answer after rotation, the lease,
and the refresh margin. Real HTTP to the real fake, real SQLite."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from unified_sdk import AsyncClient, Client, Event, Health
from unified_sdk import errors as e
from unified_sdk.testing import authorize

pytest.importorskip("unified_sdk_sandbox.fake")
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk.testing import set_jitter

TOKEN = "/oauth/token"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(deals=5, contacts=1, companies=1) as s:
        s.faults.timeout_delay = 1.5
        yield s


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    c = Client(database_url=db_url, timeout=1.0)
    set_jitter(c, lambda: 0.0)
    yield c
    c.close()


def _connect(client: Client, server: SandboxServer) -> str:
    cid = authorize(client, server, "sandbox", ["crm_deal_read"]).id
    client.crm.deals.list(connection_id=cid, limit=1)
    return cid


def _events(client: Client) -> list[Event]:
    events: list[Event] = []
    client.events.on("*", events.append)
    return events


@pytest.mark.parametrize(
    ("inject", "exc_class", "category"),
    [
        ({"status": 503}, e.ProviderError, "provider_error"),
        ({"status": 500}, e.ProviderError, "provider_error"),
        ({"status": 429, "retry_after": 7}, e.RateLimitedError, "rate_limited"),
        ({"fault": "timeout"}, e.ProviderTimeoutError, "timeout"),
        ({"fault": "reset"}, e.NetworkError, "network"),
    ],
)
def test_a_failing_token_endpoint_is_a_transient_provider_error(
    client: Client, server: SandboxServer, inject: dict[str, object], exc_class: type[e.UnifiedError], category: str
) -> None:
    cid = _connect(client, server)
    events = _events(client)
    server.expire_access_tokens()
    server.inject(path=TOKEN, **inject)  # type: ignore[arg-type]
    with pytest.raises(exc_class) as info:
        client.crm.deals.list(connection_id=cid, limit=1)
    err = info.value
    assert not isinstance(err, e.AuthenticationError)
    assert (err.category, err.retryable, err.connection_id) == (category, True, cid)
    assert "re-authorize" not in str(err)
    if category == "rate_limited":
        assert err.details["retry_after"] == 7
    assert client.connections.get(cid).health == Health.HEALTHY
    assert events == []
    (log,) = [log for log in client.logs.list(connection_id=cid) if log.operation == "oauth.refresh"]
    assert log.category == category
    # No cooldown: the next call refreshes again and succeeds (the injected failure never reached
    # the authorization server, so it counts one refresh).
    assert len(client.crm.deals.list(connection_id=cid, limit=1).data) == 1
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert client.connections.get(cid).health == Health.HEALTHY


async def test_a_failing_token_endpoint_is_transient_for_the_async_client_too(
    db_url: str, server: SandboxServer
) -> None:
    sync = Client(database_url=db_url, timeout=1.0)
    cid = _connect(sync, server)
    sync.close()
    async with AsyncClient(database_url=db_url, timeout=1.0) as client:
        events: list[Event] = []
        client.events.on("*", events.append)
        server.expire_access_tokens()
        server.inject(status=503, path=TOKEN)
        with pytest.raises(e.ProviderError) as info:
            await client.crm.deals.list(connection_id=cid, limit=1)
        assert info.value.retryable and not isinstance(info.value, e.AuthenticationError)
        assert (await client.connections.get(cid)).health == Health.HEALTHY and events == []
        assert len((await client.crm.deals.list(connection_id=cid, limit=1)).data) == 1


def age_token(client: Client, cid: str, *, left: float) -> None:
    """Make the stored access token of ``cid`` an hour old with ``left`` seconds to live (as time would)."""
    store = client._runtime.connections_store
    creds = store.record(cid, fresh=True).credentials
    now = datetime.now(UTC)
    aged = replace(creds, issued_at=now - timedelta(hours=1), expires_at=now + timedelta(seconds=left))
    client._runtime.store.update_connection(cid, {"credentials": store.encrypt_credentials(cid, aged)})
    store.forget(cid)


def test_a_proactive_refresh_failing_transiently_changes_nothing(db_url: str) -> None:
    with SandboxServer(deals=3, contacts=1, companies=1) as server:
        client = Client(database_url=db_url, timeout=1.0)
        cid = authorize(client, server, "sandbox", ["crm_deal_read"]).id
        age_token(client, cid, left=30)
        events = _events(client)
        server.inject(status=503, path=TOKEN)
        with pytest.raises(e.ProviderError) as info:
            client.crm.deals.list(connection_id=cid, limit=1)
        assert info.value.retryable and "re-authorize" not in str(info.value)
        assert events == [] and client.connections.get(cid).health == Health.HEALTHY
        assert len(client.crm.deals.list(connection_id=cid, limit=1).data) == 1
        assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
        client.close()


@pytest.mark.parametrize("fault", ["timeout_after_processing", "reset_after_processing"])
def test_a_lost_refresh_answer_after_rotation_keeps_the_connection_with_a_grace_period(db_url: str, fault: str) -> None:
    with SandboxServer(deals=3, contacts=1, companies=1, refresh_token_reuse_grace=30) as server:
        server.faults.timeout_delay = 1.5
        client = Client(database_url=db_url, timeout=1.0)
        cid = _connect(client, server)
        events = _events(client)
        server.expire_access_tokens()
        server.inject(fault=fault, path=TOKEN)
        with pytest.raises((e.ProviderTimeoutError, e.NetworkError)) as info:
            client.crm.deals.list(connection_id=cid, limit=1)
        assert info.value.retryable
        assert "may have rotated" in (info.value.hint or "")
        assert server.token_requests["refresh_token"] == 1  # the server rotated; the answer was lost
        # The next call re-sends the previous refresh token within the provider's grace period.
        assert len(client.crm.deals.list(connection_id=cid, limit=1).data) == 1
        server.expire_access_tokens()
        assert len(client.crm.deals.list(connection_id=cid, limit=1).data) == 1
        assert server.token_requests == {"authorization_code": 1, "refresh_token": 3}
        assert client.connections.get(cid).health == Health.HEALTHY and events == []
        client.close()


def test_a_lost_refresh_answer_without_a_grace_period_says_what_happened(client: Client, server: SandboxServer) -> None:
    cid = _connect(client, server)
    server.expire_access_tokens()
    server.inject(fault="timeout_after_processing", path=TOKEN)
    with pytest.raises(e.ProviderTimeoutError):
        client.crm.deals.list(connection_id=cid, limit=1)
    # The provider rotated the token and revokes the grant on reuse: nothing can save it, but the
    # error says why instead of a bare "re-authorize".
    with pytest.raises(e.AuthenticationError) as info:
        client.crm.deals.list(connection_id=cid, limit=1)
    err = info.value
    assert err.provider_code == "invalid_grant"
    assert "earlier refresh" in err.message and "rotated" in (err.hint or "")
    assert "re-authorize" in (err.hint or "")
    assert client.connections.get(cid).health == Health.UNHEALTHY_NOW


def _row(db_url: str, cid: str) -> sa.Row[tuple[str | None, float | None, int]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as c:
            row = c.execute(
                sa.text(
                    "SELECT refresh_lease_owner, refresh_lease_until, credentials_version "
                    "FROM unified_connections WHERE id = :id"
                ),
                {"id": cid},
            ).one()
    finally:
        engine.dispose()
    return row  # type: ignore[return-value]


def _while_refreshing(server: SandboxServer, action: object) -> threading.Thread:
    """Run ``action()`` once the token endpoint has received the refresh (it is then held by the fault)."""

    def watch() -> None:
        while server.token_requests.get("refresh_token", 0) < 1:
            time.sleep(0.01)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def test_the_refresh_lease_outlives_the_whole_token_request(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'lease.db'}"
    seen: list[float] = []
    with SandboxServer(deals=3, contacts=1, companies=1) as server:
        server.faults.timeout_delay = 0.5  # the answer comes late, well within the client's timeout
        client = Client(database_url=db_url, timeout=45.0)
        cid = _connect(client, server)
        server.expire_access_tokens()
        server.inject(fault="timeout_after_processing", path=TOKEN)
        watcher = _while_refreshing(server, lambda: seen.append(_row(db_url, cid)[1] - time.time()))
        client.crm.deals.list(connection_id=cid, limit=1)
        watcher.join()
        client.close()
    # A 45 s token request must not outlive its lease, or another process could refresh meanwhile.
    assert seen and seen[0] > 45.0


def test_a_lease_lost_before_the_commit_keeps_the_new_tokens_without_overwriting(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'lost.db'}"
    with SandboxServer(deals=3, contacts=1, companies=1) as server:
        server.faults.timeout_delay = 0.5
        client = Client(database_url=db_url, timeout=5.0)
        cid = _connect(client, server)
        version = _row(db_url, cid)[2]
        server.expire_access_tokens()
        server.inject(fault="timeout_after_processing", path=TOKEN)

        def steal() -> None:  # another process claims the lease after ours expired
            engine = sa.create_engine(db_url)
            with engine.begin() as c:
                c.execute(
                    sa.text("UPDATE unified_connections SET refresh_lease_owner = 'intruder' WHERE id = :id"),
                    {"id": cid},
                )
            engine.dispose()

        watcher = _while_refreshing(server, steal)
        assert len(client.crm.deals.list(connection_id=cid, limit=1).data) == 1
        watcher.join()
        # The rotated refresh token was stored although the lease was lost: it is the only live one.
        assert _row(db_url, cid)[2] == version + 1
        assert _row(db_url, cid)[0] == "intruder"  # the other holder's lease is left alone
        client._runtime.connections_store.forget(cid)
        server.expire_access_tokens()
        engine = sa.create_engine(db_url)
        with engine.begin() as c:  # the intruder gives up; its commit would find a newer version
            c.execute(
                sa.text("UPDATE unified_connections SET refresh_lease_owner = NULL, refresh_lease_until = NULL"),
            )
        engine.dispose()
        assert len(client.crm.deals.list(connection_id=cid, limit=1).data) == 1
        assert server.token_requests == {"authorization_code": 1, "refresh_token": 2}
        client.close()


def test_a_newer_version_committed_by_another_process_is_never_overwritten(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'newer.db'}"
    with SandboxServer(deals=3, contacts=1, companies=1) as server:
        server.faults.timeout_delay = 0.5
        client = Client(database_url=db_url, timeout=5.0)
        cid = _connect(client, server)
        version = _row(db_url, cid)[2]
        server.expire_access_tokens()
        server.inject(fault="timeout_after_processing", path=TOKEN)

        def commit_elsewhere() -> None:
            engine = sa.create_engine(db_url)
            with engine.begin() as c:
                c.execute(
                    sa.text(
                        "UPDATE unified_connections SET refresh_lease_owner = NULL, refresh_lease_until = NULL, "
                        "credentials_version = credentials_version + 1, updated_at = 12345 WHERE id = :id"
                    ),
                    {"id": cid},
                )
            engine.dispose()

        watcher = _while_refreshing(server, commit_elsewhere)
        with contextlib.suppress(e.AuthenticationError):  # the "newer" row here holds the old tokens
            client.crm.deals.list(connection_id=cid, limit=1)
        watcher.join()
        engine = sa.create_engine(db_url)
        with engine.connect() as c:
            updated_at = c.execute(sa.text("SELECT updated_at FROM unified_connections")).scalar_one()
        engine.dispose()
        assert _row(db_url, cid)[2] == version + 1 and updated_at == 12345
        client.close()


def test_the_refresh_margin_is_at_most_half_the_token_lifetime(db_url: str) -> None:
    with SandboxServer(deals=3, contacts=1, companies=1, access_token_ttl=45) as server:
        client = Client(database_url=db_url)  # the default 60 s refresh margin
        cid = authorize(client, server, "sandbox", ["crm_deal_read"]).id
        server.expire_access_tokens()
        for _ in range(20):
            assert len(client.crm.deals.list(connection_id=cid, limit=1).data) == 1
        assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
        client.close()
