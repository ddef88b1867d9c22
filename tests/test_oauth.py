"""OAuth 2 connections end to end over real HTTP against a real authorization server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet

from tests.test_oauth_refresh import age_token
from tests.toy.oauth_server import OAuthToyServer
from tests.toy.toy_plugin import OAuthToyProvider
from unified_sdk import AsyncClient, Client, Event, Health
from unified_sdk._oauth import manager
from unified_sdk.errors import AuthenticationError, AuthorizationError, ConfigurationError, PermissionDeniedError
from unified_sdk.testing import authorize, configure_integration

PROVIDERS = {"oauthtoy": OAuthToyProvider}


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def server() -> Iterator[OAuthToyServer]:
    with OAuthToyServer() as s:
        yield s


@pytest.fixture
def client(db_url: str, key: str, server: OAuthToyServer) -> Iterator[Client]:
    c = Client(database_url=db_url, secret_key=key, providers=PROVIDERS, timeout=5)
    configure_integration(c, server, "oauthtoy", redirect_uri=server.redirect_uri)
    yield c
    c.close()


def _connect(client: Client, server: OAuthToyServer) -> str:
    """An OAuth connection through the integration the test configured."""
    return authorize(client, server, "oauthtoy", ["crm_deal_read"], external_id="customer-42", configure=False).id


def test_authorization_url_maps_unified_scopes_with_state_and_pkce(client: Client, server: OAuthToyServer) -> None:
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read", "crm_deal_write"])
    query = parse_qs(urlsplit(req.url).query)
    assert urlsplit(req.url).path == "/oauth/authorize"
    assert query["scope"] == ["items:read items:write profile"]
    assert "scope=items%3Aread%20items%3Awrite%20profile" in urlsplit(req.url).query  # %20, never "+"
    assert req.provider_scopes == ["items:read", "items:write", "profile"]
    assert req.optional_provider_scopes == ["profile"]
    assert query["state"] == [req.state] and len(req.state) >= 32
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["client_id"] == [server.oauth_client_id]
    assert query["redirect_uri"] == [server.redirect_uri]
    assert req.state not in repr(req)


def test_unknown_or_unsupported_scope_is_refused_before_any_url(client: Client) -> None:
    with pytest.raises(ConfigurationError) as info:
        client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read", "crm_contact_read", "nonsense"])
    assert "nonsense" in str(info.value) and "crm_contact_read" in str(info.value)
    assert info.value.hint == "oauthtoy supports: crm_deal_read, crm_deal_write"


def test_full_flow_creates_a_healthy_connection(client: Client, server: OAuthToyServer) -> None:
    events: list[Event] = []
    client.events.on("*", events.append)
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"], external_id="customer-42")
    conn = client.auth.complete(server.approve(req.url))
    assert conn.provider == "oauthtoy" and conn.external_id == "customer-42"
    assert conn.scopes == ["crm_deal_read"]
    assert conn.health == Health.HEALTHY
    assert conn.config["base_url"] == server.url
    assert [e.type for e in events] == ["connection.created"]
    assert server.token_requests == {"authorization_code": 1}
    assert len(client.crm.deals.list(connection_id=conn.id, limit=5).data) == 5
    operations = [log.operation for log in reversed(client.logs.list(connection_id=conn.id))]
    assert operations == ["oauth.code_exchange", "health_check", "crm.deals.list"]


@pytest.mark.parametrize("case", ["unknown", "expired", "reused", "denied", "no_code", "no_state"])
def test_rejected_callbacks_never_reach_the_token_endpoint(client: Client, server: OAuthToyServer, case: str) -> None:
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
    callback = server.approve(req.url)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    if case == "unknown":
        args: dict[str, str] = {"code": code, "state": "not-a-state-we-made"}
    elif case == "expired":
        manager(client._runtime).state_ttl = -1
        req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
        args = {"code": code, "state": req.state}
    elif case == "reused":
        client.auth.complete(callback)
        server.auth.reset_token_requests()
        args = {"code": code, "state": req.state}
    elif case == "denied":
        denied = server.approve(client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"]).url, deny=True)
        with pytest.raises(AuthorizationError) as info:
            client.auth.complete(denied)
        assert info.value.provider_code == "access_denied"
        assert server.token_requests == {}
        return
    elif case == "no_code":
        args = {"state": req.state}
    else:
        args = {"code": code}
    with pytest.raises(AuthorizationError) as info:
        client.auth.complete(**args)
    assert info.value.hint
    assert server.token_requests == {}


def test_failed_code_exchange_persists_nothing_and_is_logged(client: Client, server: OAuthToyServer) -> None:
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
    callback = server.approve(req.url)
    server.auth.revoke_all()
    state = parse_qs(urlsplit(callback).query)["state"][0]
    bad = callback.replace("code=", "code=x")
    with pytest.raises(AuthenticationError) as info:
        client.auth.complete(bad)
    assert info.value.provider_code == "invalid_grant"
    assert "start the authorization again" in (info.value.hint or "")
    assert client.connections.list() == []
    (log,) = client.logs.list()
    assert log.operation == "oauth.code_exchange" and log.status == 400
    assert state not in str(info.value)


def test_granted_scopes_are_enforced_before_sending(client: Client, server: OAuthToyServer) -> None:
    # The user unticks the write scope on the consent screen.
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read", "crm_deal_write"])
    conn = client.auth.complete(server.approve(req.url, grant_scopes=["items:read"]))
    assert conn.scopes == ["crm_deal_read"]
    before = dict(server.hits)
    with pytest.raises(PermissionDeniedError) as info:
        client.crm.deals.create(connection_id=conn.id, data={"name": "x"})
    assert info.value.details["missing_scopes"] == ["crm_deal_write"]
    assert server.hits == before
    again = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_write"], connection_id=conn.id)
    assert again.scopes == ["crm_deal_read", "crm_deal_write"]
    updated = client.auth.complete(server.approve(again.url))
    assert updated.id == conn.id and updated.scopes == ["crm_deal_read", "crm_deal_write"]


def test_reactive_refresh_on_401_refreshes_once_and_retries(client: Client, server: OAuthToyServer) -> None:
    cid = _connect(client, server)
    server.expire_access_tokens()
    assert len(client.crm.deals.list(connection_id=cid, limit=3).data) == 3
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}


def test_proactive_refresh_when_the_token_is_about_to_expire(db_url: str, key: str) -> None:
    with OAuthToyServer() as server:
        c = Client(database_url=db_url, secret_key=key, providers=PROVIDERS, refresh_skew=60)
        configure_integration(c, server, "oauthtoy", redirect_uri=server.redirect_uri)
        cid = _connect(c, server)
        age_token(c, cid, left=30)  # an hour-long token, 30 s before its expiry
        c.crm.deals.list(connection_id=cid, limit=1)
        c.crm.deals.list(connection_id=cid, limit=1)
        assert server.token_requests["refresh_token"] == 1
        assert all(log.status != 401 for log in c.logs.list(connection_id=cid))
        c.close()


def test_100_concurrent_calls_share_one_refresh(db_url: str, key: str, client: Client, server: OAuthToyServer) -> None:
    cid = _connect(client, server)
    client.crm.deals.list(connection_id=cid, limit=1)
    server.expire_access_tokens()
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(50)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(len(client.crm.deals.list(connection_id=cid, limit=2).data))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    async def tasks() -> list[int]:
        async with AsyncClient(database_url=db_url, secret_key=key, providers=PROVIDERS, timeout=10) as ac:
            pages = await asyncio.gather(*(ac.crm.deals.list(connection_id=cid, limit=2) for _ in range(50)))
            return [len(p.data) for p in pages]

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    async_results = asyncio.run(tasks())
    for t in threads:
        t.join()
    assert errors == []
    assert results + async_results == [2] * 100
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}


def test_rotated_refresh_token_survives_a_restart(db_url: str, key: str, server: OAuthToyServer) -> None:
    first = Client(database_url=db_url, secret_key=key, providers=PROVIDERS)
    configure_integration(first, server, "oauthtoy", redirect_uri=server.redirect_uri)
    cid = _connect(first, server)
    server.expire_access_tokens()
    first.crm.deals.list(connection_id=cid, limit=1)
    first.close()
    # A new process: the old refresh token, if sent, would revoke the whole family (reuse detection).
    second = Client(database_url=db_url, secret_key=key, providers=PROVIDERS)
    server.expire_access_tokens()
    assert len(second.crm.deals.list(connection_id=cid, limit=1).data) == 1
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 2}
    assert second.connections.get(cid).health == Health.HEALTHY
    second.close()


def test_invalid_grant_makes_the_connection_unhealthy_without_a_storm(client: Client, server: OAuthToyServer) -> None:
    events: list[Event] = []
    client.events.on("connection.unhealthy", events.append)
    cid = _connect(client, server)
    server.auth.revoke_all()
    for _ in range(5):
        with pytest.raises(AuthenticationError) as info:
            client.crm.deals.list(connection_id=cid)
        assert "re-authorize" in (info.value.hint or "")
    assert server.token_requests["refresh_token"] == 1  # the cooldown answers the other four
    assert client.connections.get(cid).health == Health.UNHEALTHY_NOW
    assert [e.type for e in events] == ["connection.unhealthy"]


def test_delete_revokes_tokens_at_the_provider(client: Client, server: OAuthToyServer) -> None:
    cid = _connect(client, server)
    tokens = list(server.auth._access)
    client.connections.delete(cid)
    assert all(not server.auth.check_access_token(t).active for t in tokens)
    assert client.connections.list() == []


def test_no_secret_reaches_logs_errors_reprs_or_the_database(
    client: Client, server: OAuthToyServer, db_url: str
) -> None:
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
    callback = server.approve(req.url)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    conn = client.auth.complete(callback)
    server.expire_access_tokens()
    client.crm.deals.list(connection_id=conn.id, limit=1)
    server.auth.revoke_all()
    with pytest.raises(AuthenticationError) as info:
        client.crm.deals.list(connection_id=conn.id)
    secrets = [*server.auth._access, *server.auth._refresh, server.oauth_client_secret, code, req.state]
    record = client._runtime.connections_store.record(conn.id)
    secrets += record.credentials.secret_values()
    texts = [str(info.value), repr(info.value), repr(conn), repr(record.credentials), repr(req)]
    for log in client.logs.list(limit=1000):
        texts.append(repr(log))
        texts.append(log.as_curl())
    client.close()
    raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    for wal in Path(db_url.removeprefix("sqlite:///")).parent.glob("*-wal"):
        raw += wal.read_bytes()
    for secret in secrets:
        assert secret and len(secret) > 8
        assert secret.encode() not in raw, "a secret is in the database in plain text"
        for text in texts:
            assert secret not in text
