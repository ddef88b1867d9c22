"""OAuth against the local HubSpot through the client: the authorization URL, code exchange with PKCE,
granted scopes from introspection, refresh on expiry, rotation and a dead refresh token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from hubspot_testkit import REDIRECT_URI, configure, connect_oauth, new_client
from unified_sdk_hubspot import HubSpotProvider
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import Client
from unified_sdk.errors import AuthenticationError
from unified_sdk.provider import ScopeMapping
from unified_sdk.testing import authorize, authorize_async


class _WithOptionalScope(HubSpotProvider):
    """HubSpot with one optional scope, to see ``optional_scope`` on the authorization URL."""

    scopes: ClassVar[Mapping[str, ScopeMapping]] = {
        **HubSpotProvider.scopes,
        "crm_pipeline_read": ScopeMapping(required=("crm.objects.deals.read",), optional=("crm.schemas.deals.read",)),
    }


def test_authorization_url_carries_hubspots_parameters(client: Client, hubspot: FakeHubSpot) -> None:
    configure(client, hubspot)
    request = client.auth.authorization_url("hubspot", scopes=["crm_deal_read", "crm_contact_write", "crm_user_read"])
    url = urlsplit(request.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == hubspot.config["authorize_url"]
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert set(params) == {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    }
    assert params["client_id"] == hubspot.oauth_client_id
    assert params["redirect_uri"] == REDIRECT_URI
    assert params["scope"].split(" ") == [
        "oauth",
        "crm.objects.deals.read",
        "crm.objects.contacts.write",
        "crm.objects.owners.read",
    ]
    assert params["code_challenge_method"] == "S256"
    assert params["state"] == request.state
    assert "optional_scope" not in params
    # Spaces percent-encoded, as HubSpot's own example URLs have them.
    assert "scope=oauth%20crm.objects.deals.read%20crm.objects.contacts.write%20" in url.query
    assert "+" not in url.query


def test_optional_scopes_go_in_optional_scope_and_grants_come_from_introspection(tmp_path: Path) -> None:
    with FakeHubSpot() as hubspot, new_client(tmp_path, providers={"hubspot": _WithOptionalScope}) as client:
        configure(client, hubspot)
        request = client.auth.authorization_url("hubspot", scopes=["crm_deal_read", "crm_pipeline_read"])
        params = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        assert params["scope"] == "oauth crm.objects.deals.read"
        assert params["optional_scope"] == "crm.schemas.deals.read"
        # The account cannot grant the optional scope: the token covers the required ones only.
        conn = client.auth.complete(hubspot.approve(request.url, grant_optional=False))
        assert conn.provider_scopes == ["oauth", "crm.objects.deals.read"]
        assert conn.scopes == ["crm_deal_read", "crm_pipeline_read"]
        assert len(hubspot.auth.introspections) == 1
        form = hubspot.auth.introspections[0]
        assert set(form) == {"client_id", "client_secret", "token", "token_type_hint"}
        assert form["client_id"] == hubspot.oauth_client_id


def test_code_exchange_uses_pkce_and_checks_the_connection(client: Client, hubspot: FakeHubSpot) -> None:
    configure(client, hubspot)
    request = client.auth.authorization_url("hubspot", scopes=["crm_deal_read"])
    challenge = parse_qs(urlsplit(request.url).query)["code_challenge"][0]
    conn = client.auth.complete(hubspot.approve(request.url))
    assert hubspot.token_requests == {"authorization_code": 1}
    assert conn.auth_type == "oauth2" and conn.health.value == "healthy"
    assert conn.provider_scopes == ["oauth", "crm.objects.deals.read"]
    # S256 of a verifier is 43 base64url characters; the fake refuses a code without the verifier
    # (see test_hubspot_fake.py), so this exchange proved it.
    assert len(challenge) == 43 and "=" not in challenge
    logs = client.logs.list(connection_id=conn.id)
    assert any(log.url.endswith("/account-info/v3/details") and log.status == 200 for log in logs)


def test_refused_authorization(client: Client, hubspot: FakeHubSpot) -> None:
    with pytest.raises(AuthenticationError) as info:
        authorize(client, hubspot, "hubspot", ["crm_deal_read"], redirect_uri=REDIRECT_URI, deny=True)
    assert info.value.provider_code == "access_denied"
    assert hubspot.token_requests == {}


def test_token_expiring_mid_listing_is_refreshed_once(client: Client, hubspot: FakeHubSpot) -> None:
    hubspot.seed(deals=450)
    conn = connect_oauth(client, hubspot)
    page = client.crm.deals.list(connection_id=conn.id, limit=100)
    ids = [str(d.id) for d in page.data]
    hubspot.expire_access_tokens()
    next_page = page.get_next_page()
    assert next_page is not None
    for p in next_page.iter_pages():
        ids += [str(d.id) for d in p.data]
    assert sorted(ids) == sorted(r["id"] for r in hubspot.records("deals"))
    assert hubspot.token_requests == {"authorization_code": 1, "refresh_token": 1}
    expired = [log for log in client.logs.list(connection_id=conn.id) if log.status == 401]
    assert len(expired) == 1 and expired[0].action == "refresh_and_retry"
    assert client.connections.get(conn.id).health.value == "healthy"


def test_each_refresh_token_returned_is_persisted(tmp_path: Path) -> None:
    # HubSpot does not promise refresh tokens stay the same; with rotation, reusing an old one
    # revokes the grant, so the client must store every one it gets.
    with FakeHubSpot(rotate_refresh_tokens=True) as hubspot, new_client(tmp_path) as client:
        hubspot.seed(deals=5)
        conn = connect_oauth(client, hubspot)
        for _ in range(3):
            hubspot.expire_access_tokens()
            assert len(client.crm.deals.list(connection_id=conn.id).data) == 5
        assert hubspot.token_requests == {"authorization_code": 1, "refresh_token": 3}


def test_dead_refresh_token_asks_to_reauthorize(client: Client, hubspot: FakeHubSpot) -> None:
    conn = connect_oauth(client, hubspot)
    hubspot.auth.server.revoke_all()  # the user uninstalled the app
    with pytest.raises(AuthenticationError) as info:
        client.crm.deals.list(connection_id=conn.id)
    err = info.value
    assert err.provider_code == "BAD_REFRESH_TOKEN"
    assert err.hint is not None and "re-authorize" in err.hint
    assert hubspot.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert client.connections.get(conn.id).health.value == "unhealthy_now"


def test_refreshes_before_expiry_from_expires_in(tmp_path: Path) -> None:
    # A token 20 s from its expiry, a client that refreshes 60 s ahead: the call refreshes first and
    # never meets EXPIRED_AUTHENTICATION (HubSpot: a 401 is not the signal to refresh).
    with FakeHubSpot() as hubspot, new_client(tmp_path, refresh_skew=60) as client:
        hubspot.seed(deals=3)
        conn = connect_oauth(client, hubspot)
        store = client._runtime.connections_store
        creds = store.record(conn.id, fresh=True).credentials
        now = datetime.now(UTC)  # as if the 30-minute token had been issued 29 min 40 s ago
        aged = replace(creds, issued_at=now - timedelta(minutes=30), expires_at=now + timedelta(seconds=20))
        client._runtime.store.update_connection(conn.id, {"credentials": store.encrypt_credentials(conn.id, aged)})
        store.forget(conn.id)
        assert len(client.crm.deals.list(connection_id=conn.id).data) == 3
        # One refresh: the fresh 30-minute token is far from its margin for the listing's second request.
        assert hubspot.token_requests == {"authorization_code": 1, "refresh_token": 1}
        assert all(log.status != 401 for log in client.logs.list(connection_id=conn.id))


async def test_async_flow_and_refresh_on_expiry(aclient: Any, hubspot: FakeHubSpot) -> None:
    hubspot.seed(deals=150)
    conn = await authorize_async(aclient, hubspot, "hubspot", ["crm_deal_read"], redirect_uri=REDIRECT_URI)
    assert conn.provider_scopes == ["oauth", "crm.objects.deals.read"]
    page = await aclient.crm.deals.list(connection_id=conn.id, limit=100)
    hubspot.expire_access_tokens()
    ids = [d.id async for d in page]
    assert len(set(ids)) == 150
    assert hubspot.token_requests == {"authorization_code": 1, "refresh_token": 1}
