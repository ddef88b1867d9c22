"""The SDK's OAuth flow over real HTTP against the test authorization server, whose protocol is authlib's.

``unified_sdk.testing.AuthorizationServer`` runs authlib's authorization-code grant (with its
``CodeChallenge`` PKCE extension), refresh-token grant, revocation endpoint and client
authentication, so these tests exercise the SDK against an implementation other than its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from cryptography.fernet import Fernet

from tests.toy.oauth_server import OAuthToyServer
from tests.toy.toy_plugin import OAuthToyProvider
from unified_sdk import Client, Health
from unified_sdk.errors import AuthenticationError, AuthorizationError
from unified_sdk.testing import authorize, configure_integration

PROVIDERS = {"oauthtoy": OAuthToyProvider}


@pytest.fixture
def server() -> Iterator[OAuthToyServer]:
    with OAuthToyServer() as s:
        yield s


@pytest.fixture
def client(db_url: str, server: OAuthToyServer) -> Iterator[Client]:
    c = Client(database_url=db_url, secret_key=Fernet.generate_key().decode(), providers=PROVIDERS, timeout=5)
    configure_integration(c, server, "oauthtoy", redirect_uri=server.redirect_uri)
    yield c
    c.close()


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _connect(client: Client, server: OAuthToyServer) -> str:
    return authorize(client, server, "oauthtoy", ["crm_deal_read"], external_id="customer-7", configure=False).id


def _items_status(server: OAuthToyServer, access_token: str) -> int:
    response = httpx2.get(f"{server.url}/items", headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code


def _refresh_by_hand(server: OAuthToyServer, refresh_token: str) -> httpx2.Response:
    return httpx2.post(
        server.config["token_url"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": server.oauth_client_id,
            "client_secret": server.oauth_client_secret,
        },
    )


def test_full_flow_creates_a_healthy_connection(client: Client, server: OAuthToyServer) -> None:
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read", "crm_deal_write"], external_id="c-7")
    assert _query(req.url)["code_challenge_method"] == "S256"
    callback = server.approve(req.url)
    assert callback.startswith(server.redirect_uri + "?") and _query(callback)["state"] == req.state
    conn = client.auth.complete(callback)
    assert conn.provider == "oauthtoy" and conn.external_id == "c-7"
    assert conn.scopes == ["crm_deal_read", "crm_deal_write"]
    assert conn.health == Health.HEALTHY
    assert server.token_requests == {"authorization_code": 1}
    (issued,) = server.auth._access.values()
    assert issued.info.scopes == ("items:read", "items:write", "profile")
    assert issued.info.grant_type == "authorization_code"
    page = client.crm.deals.list(connection_id=conn.id, limit=4)
    assert [d.id for d in page.data] == ["0", "1", "2", "3"]
    operations = [log.operation for log in reversed(client.logs.list(connection_id=conn.id))]
    assert operations == ["oauth.code_exchange", "health_check", "crm.deals.list"]


def test_scopes_the_user_unticks_are_not_recorded(client: Client, server: OAuthToyServer) -> None:
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read", "crm_deal_write"])
    conn = client.auth.complete(server.approve(req.url, grant_scopes=["items:read"]))
    assert conn.scopes == ["crm_deal_read"]
    assert [a.info.scopes for a in server.auth._access.values()] == [("items:read",)]


def test_denied_consent_is_an_authorization_error_without_a_token_request(
    client: Client, server: OAuthToyServer
) -> None:
    req = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
    callback = server.approve(req.url, deny=True)
    assert _query(callback)["error"] == "access_denied"
    with pytest.raises(AuthorizationError) as info:
        client.auth.complete(callback)
    assert info.value.provider_code == "access_denied"
    assert server.token_requests == {}
    assert client.connections.list() == []


def test_pkce_a_code_from_another_authorization_is_refused(client: Client, server: OAuthToyServer) -> None:
    first = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
    second = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
    assert _query(first.url)["code_challenge"] != _query(second.url)["code_challenge"]
    first_callback = server.approve(first.url)
    stolen_code = _query(server.approve(second.url))["code"]
    # The first authorization's state (so its verifier) with the second one's code: the verifier does not match.
    with pytest.raises(AuthenticationError) as info:
        client.auth.complete(code=stolen_code, state=first.state)
    assert info.value.provider_code == "invalid_grant" and info.value.status == 400
    assert "Code challenge failed" in str(info.value)  # authlib's CodeChallenge refused it, not the code lookup
    assert stolen_code not in str(info.value)
    assert client.connections.list() == []
    assert server.auth._access == {}
    assert server.token_requests == {"authorization_code": 1}
    (log,) = client.logs.list()
    assert log.operation == "oauth.code_exchange" and log.status == 400
    # The server refused the verifier, not the code: the code still works with its own verifier.
    conn = client.auth.complete(code=stolen_code, state=second.state)
    assert conn.health == Health.HEALTHY
    assert first_callback  # the first authorization's own code was never used


def test_reactive_refresh_after_expiry_is_one_refresh_request(client: Client, server: OAuthToyServer) -> None:
    cid = _connect(client, server)
    ((access, _),) = server.auth._access.items()
    ((refresh, original),) = server.auth._refresh.items()
    assert server.expire_access_tokens() == 1
    assert _items_status(server, access) == 401
    assert len(client.crm.deals.list(connection_id=cid, limit=3).data) == 3
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert original.rotated and len(server.auth._refresh) == 2
    statuses = [(log.operation, log.status) for log in reversed(client.logs.list(connection_id=cid))]
    assert statuses[-3:] == [("crm.deals.list", 401), ("oauth.refresh", 200), ("crm.deals.list", 200)]
    assert client.connections.get(cid).health == Health.HEALTHY
    assert refresh not in str(client.connections.get(cid))


def test_second_refresh_uses_the_rotated_refresh_token(client: Client, server: OAuthToyServer) -> None:
    cid = _connect(client, server)
    for _ in range(2):
        server.expire_access_tokens()
        assert len(client.crm.deals.list(connection_id=cid, limit=2).data) == 2
    first, second, third = server.auth._refresh.values()
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 2}
    assert first.successor is second and second.successor is third  # each refresh presented the newest token
    assert first.rotated and second.rotated and not third.rotated and not third.revoked
    latest = list(server.auth._access)[-1]
    assert server.auth.check_access_token(latest).active
    assert client.connections.get(cid).health == Health.HEALTHY


def test_a_replayed_rotated_refresh_token_ends_the_grant(client: Client, server: OAuthToyServer) -> None:
    cid = _connect(client, server)
    (original,) = server.auth._refresh
    server.expire_access_tokens()
    client.crm.deals.list(connection_id=cid, limit=1)
    # Someone replays the refresh token the SDK already rotated away from.
    stale = _refresh_by_hand(server, original)
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    assert all(not server.auth.check_access_token(t).active for t in server.auth._access)
    with pytest.raises(AuthenticationError) as info:
        client.crm.deals.list(connection_id=cid, limit=1)
    assert info.value.provider_code == "invalid_grant"
    assert client.connections.get(cid).health == Health.UNHEALTHY_NOW


def test_delete_revokes_the_tokens_at_the_server(client: Client, server: OAuthToyServer) -> None:
    cid = _connect(client, server)
    server.expire_access_tokens()
    client.crm.deals.list(connection_id=cid, limit=1)
    access, refresh = list(server.auth._access)[-1], list(server.auth._refresh)[-1]
    assert _items_status(server, access) == 200
    client.connections.delete(cid)
    assert client.connections.list() == []
    assert server.auth.check_access_token(access).reason == "revoked" and server.auth._refresh[refresh].revoked
    assert _items_status(server, access) == 401
    refreshed = _refresh_by_hand(server, refresh)
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
