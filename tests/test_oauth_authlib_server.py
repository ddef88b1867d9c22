"""The SDK's OAuth flow over real HTTP against an authorization server that is not ours (authlib's)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from cryptography.fernet import Fernet

from tests.authlib_server import AuthlibOAuthServer
from tests.toy.toy_plugin import OAuthToyProvider
from unified_sdk import Client, Health
from unified_sdk.errors import AuthenticationError, AuthorizationError
from unified_sdk.testing import authorize, configure_integration

PROVIDERS = {"oauthtoy": OAuthToyProvider}


@pytest.fixture
def server() -> Iterator[AuthlibOAuthServer]:
    with AuthlibOAuthServer() as s:
        yield s


@pytest.fixture
def client(db_url: str, server: AuthlibOAuthServer) -> Iterator[Client]:
    c = Client(database_url=db_url, secret_key=Fernet.generate_key().decode(), providers=PROVIDERS, timeout=5)
    configure_integration(c, server, "oauthtoy", redirect_uri=server.redirect_uri)
    yield c
    c.close()


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _connect(client: Client, server: AuthlibOAuthServer) -> str:
    return authorize(client, server, "oauthtoy", ["crm_deal_read"], external_id="customer-7", configure=False).id


def _items_status(server: AuthlibOAuthServer, access_token: str) -> int:
    response = httpx2.get(f"{server.url}/items", headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code


def test_full_flow_creates_a_healthy_connection(client: Client, server: AuthlibOAuthServer) -> None:
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read", "crm_deal_write"], external_id="c-7")
    assert _query(req.url)["code_challenge_method"] == "S256"
    callback = server.approve(req.url)
    assert callback.startswith(server.redirect_uri + "?") and _query(callback)["state"] == req.state
    conn = client.auth.complete(callback)
    assert conn.provider == "oauthtoy" and conn.external_id == "c-7"
    assert conn.scopes == ["crm_deal_read", "crm_deal_write"]
    assert conn.health == Health.HEALTHY
    assert server.token_requests == {"authorization_code": 1}
    (issued,) = server.tokens
    assert issued.scope == "items:read items:write profile" and issued.grant_type == "authorization_code"
    page = client.crm.deals.list(connection_id=conn.id, limit=4)
    assert [d.id for d in page.data] == ["0", "1", "2", "3"]
    operations = [log.operation for log in reversed(client.logs.list(connection_id=conn.id))]
    assert operations == ["oauth.code_exchange", "health_check", "crm.deals.list"]


def test_scopes_the_user_unticks_are_not_recorded(client: Client, server: AuthlibOAuthServer) -> None:
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read", "crm_deal_write"])
    conn = client.auth.complete(server.approve(req.url, grant_scopes=["items:read"]))
    assert conn.scopes == ["crm_deal_read"]
    assert [t.scope for t in server.tokens] == ["items:read"]


def test_denied_consent_is_an_authorization_error_without_a_token_request(
    client: Client, server: AuthlibOAuthServer
) -> None:
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
    callback = server.approve(req.url, deny=True)
    assert _query(callback)["error"] == "access_denied"
    with pytest.raises(AuthorizationError) as info:
        client.auth.complete(callback)
    assert info.value.provider_code == "access_denied"
    assert server.token_requests == {}
    assert client.connections.list() == []


def test_pkce_a_code_from_another_authorization_is_refused(client: Client, server: AuthlibOAuthServer) -> None:
    first = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
    second = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
    first_callback = server.approve(first.url)
    stolen_code = _query(server.approve(second.url))["code"]
    assert [c.code_challenge_method for c in server.store.codes.values()] == ["S256", "S256"]
    # The first authorization's state (so its verifier) with the second one's code: the verifier does not match.
    with pytest.raises(AuthenticationError) as info:
        client.auth.complete(code=stolen_code, state=first.state)
    assert info.value.provider_code == "invalid_grant" and info.value.status == 400
    assert "Code challenge failed" in str(info.value)  # authlib's CodeChallenge refused it, not the code lookup
    assert stolen_code not in str(info.value)
    assert client.connections.list() == []
    assert server.tokens == []
    assert server.token_requests == {"authorization_code": 1}
    (log,) = client.logs.list()
    assert log.operation == "oauth.code_exchange" and log.status == 400
    # The server refused the verifier, not the code: the code still works with its own verifier.
    conn = client.auth.complete(code=stolen_code, state=second.state)
    assert conn.health == Health.HEALTHY
    assert first_callback  # the first authorization's own code was never used


def test_reactive_refresh_after_expiry_is_one_refresh_request(client: Client, server: AuthlibOAuthServer) -> None:
    cid = _connect(client, server)
    (original,) = server.tokens
    assert server.expire_access_tokens() == 1
    assert _items_status(server, original.access_token) == 401
    assert len(client.crm.deals.list(connection_id=cid, limit=3).data) == 3
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert server.presented_refresh_tokens == [original.refresh_token]
    assert original.refresh_revoked  # rotated
    statuses = [(log.operation, log.status) for log in reversed(client.logs.list(connection_id=cid))]
    assert statuses[-3:] == [("crm.deals.list", 401), ("oauth.refresh", 200), ("crm.deals.list", 200)]
    assert client.connections.get(cid).health == Health.HEALTHY


def test_second_refresh_uses_the_rotated_refresh_token(client: Client, server: AuthlibOAuthServer) -> None:
    cid = _connect(client, server)
    for _ in range(2):
        server.expire_access_tokens()
        assert len(client.crm.deals.list(connection_id=cid, limit=2).data) == 2
    first, second, third = server.tokens
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 2}
    assert server.presented_refresh_tokens == [first.refresh_token, second.refresh_token]
    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    assert first.refresh_revoked and second.refresh_revoked and not third.refresh_revoked
    assert third.active and not third.access_revoked
    assert client.connections.get(cid).health == Health.HEALTHY


def test_a_replayed_rotated_refresh_token_ends_the_grant(client: Client, server: AuthlibOAuthServer) -> None:
    cid = _connect(client, server)
    (original,) = server.tokens
    server.expire_access_tokens()
    client.crm.deals.list(connection_id=cid, limit=1)
    # Someone replays the refresh token the SDK already rotated away from.
    stale = httpx2.post(
        server.config["token_url"],
        data={"grant_type": "refresh_token", "refresh_token": original.refresh_token},
        auth=(server.oauth_client_id, server.oauth_client_secret),
    )
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    assert all(not t.active for t in server.tokens)
    with pytest.raises(AuthenticationError) as info:
        client.crm.deals.list(connection_id=cid, limit=1)
    assert info.value.provider_code == "invalid_grant"
    assert client.connections.get(cid).health == Health.UNHEALTHY_NOW


def test_delete_revokes_the_tokens_at_the_server(client: Client, server: AuthlibOAuthServer) -> None:
    cid = _connect(client, server)
    server.expire_access_tokens()
    client.crm.deals.list(connection_id=cid, limit=1)
    current = server.tokens[-1]
    assert _items_status(server, current.access_token) == 200
    client.connections.delete(cid)
    assert client.connections.list() == []
    assert current.access_revoked and current.refresh_revoked
    assert _items_status(server, current.access_token) == 401
    refresh = httpx2.post(
        server.config["token_url"],
        data={"grant_type": "refresh_token", "refresh_token": current.refresh_token},
        auth=(server.oauth_client_id, server.oauth_client_secret),
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
