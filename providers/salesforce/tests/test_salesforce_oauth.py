"""The OAuth web-server flow with PKCE against the local Salesforce, rotation and revocation."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from sf_testkit import ALL_SCOPES, REDIRECT_URI, configure, connect, new_client
from unified_sdk_salesforce import SalesforceProvider, login_endpoints
from unified_sdk_salesforce._provider import api_version
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client
from unified_sdk.testing import DEFAULT_REDIRECT_URI, OAuthError, authorize, pkce_challenge


def _stored(client: Client, connection_id: str) -> tuple[str, str]:
    creds = client._runtime.connections_store.record(connection_id).credentials
    assert creds.access_token and creds.refresh_token
    return creds.access_token, creds.refresh_token


def test_authorization_url_asks_for_api_and_refresh_token_with_pkce(client: Client, sf: FakeSalesforce) -> None:
    configure(client, sf)
    request = client.auth.authorization_url("salesforce", scopes=["crm_deal_read"])
    query = parse_qs(urlsplit(request.url).query)
    assert request.url.startswith(sf.url + "/services/oauth2/authorize?")
    assert query["scope"] == ["api refresh_token"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert request.provider_scopes == ["api", "refresh_token"]


def test_flow_captures_instance_url_and_checks_health(client: Client, sf: FakeSalesforce) -> None:
    conn = connect(client, sf)
    assert conn.config["base_url"] == sf.url  # the token response's instance_url
    assert conn.scopes == ALL_SCOPES
    assert conn.health == "healthy"
    assert sf.token_requests == {"authorization_code": 1}
    creds = client._runtime.connections_store.record(conn.id).credentials
    assert creds.expires_at is None  # Salesforce sends no expires_in
    assert creds.extra["instance_url"] == sf.url
    assert creds.extra["id"].endswith(f"/id/{sf.org.org_id}/{sf.admin_id}")
    health = [log for log in client.logs.list(connection_id=conn.id) if log.url.endswith("/limits")]
    assert [log.status for log in health] == [200]


def test_token_response_shape(sf: FakeSalesforce) -> None:
    body = sf.issue_tokens()
    assert "expires_in" not in body
    assert body["instance_url"] == sf.url and body["token_type"] == "Bearer"
    assert {"access_token", "refresh_token", "id", "issued_at", "signature", "scope"} <= set(body)
    assert "refresh_token" not in sf.issue_tokens(scope="api")  # no refresh_token scope, no refresh token


def test_wrong_verifier_and_reused_code_are_refused(sf: FakeSalesforce) -> None:
    verifier = "v" * 50
    from unified_sdk.testing import pkce_challenge

    url = (
        f"{sf.url}/services/oauth2/authorize?response_type=code&client_id={sf.oauth_client_id}"
        f"&redirect_uri={DEFAULT_REDIRECT_URI}&scope=api&code_challenge={pkce_challenge(verifier)}"
        "&code_challenge_method=S256"
    )
    code = parse_qs(urlsplit(sf.approve(url)).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": sf.oauth_client_id,
        "client_secret": sf.oauth_client_secret,
        "redirect_uri": DEFAULT_REDIRECT_URI,
        "code_verifier": "w" * 50,
    }
    wrong = httpx2.post(sf.url + "/services/oauth2/token", data=form)
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_request", "error_description": "invalid code verifier"}
    # A refused verifier does not spend the code (authlib's grant); a successful exchange does.
    right = httpx2.post(sf.url + "/services/oauth2/token", data={**form, "code_verifier": verifier})
    assert right.status_code == 200
    again = httpx2.post(sf.url + "/services/oauth2/token", data={**form, "code_verifier": verifier})
    assert again.json() == {"error": "invalid_grant", "error_description": "invalid authorization code"}


def test_refresh_keeps_the_token_without_rotation(client: Client, sf: FakeSalesforce) -> None:
    conn = connect(client, sf)
    access, refresh = _stored(client, conn.id)
    sf.expire_access_tokens()
    client.connections.check(conn.id)
    new_access, same_refresh = _stored(client, conn.id)
    assert new_access != access and same_refresh == refresh
    assert sf.token_requests == {"authorization_code": 1, "refresh_token": 1}


def test_rotated_refresh_tokens_are_persisted(tmp_path: Path) -> None:
    with FakeSalesforce(rotate_refresh_tokens=True) as sf:
        client = new_client(tmp_path)
        try:
            conn = connect(client, sf)
            _, first = _stored(client, conn.id)
            for _ in range(2):
                sf.expire_access_tokens()
                client.connections.check(conn.id)
            _, third = _stored(client, conn.id)
            assert third != first
            assert sf.token_requests == {"authorization_code": 1, "refresh_token": 2}
            # The first refresh token was retired by rotation: presenting it again is refused.
            reuse = httpx2.post(
                sf.url + "/services/oauth2/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": first,
                    "client_id": sf.oauth_client_id,
                    "client_secret": sf.oauth_client_secret,
                },
            )
            assert reuse.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}
        finally:
            client.close()


def test_delete_revokes_the_tokens(client: Client, sf: FakeSalesforce) -> None:
    conn = connect(client, sf)
    access, _ = _stored(client, conn.id)
    assert sf.auth.check_access_token(access).active
    client.connections.delete(conn.id)
    assert sf.auth.check_access_token(access).reason == "revoked"
    revokes = [log for log in client.logs.list(connection_id=conn.id) if log.url.endswith("/services/oauth2/revoke")]
    assert revokes and all(log.status == 200 for log in revokes)


def test_user_denies_access(client: Client, sf: FakeSalesforce) -> None:
    from unified_sdk.errors import AuthorizationError

    with pytest.raises(AuthorizationError) as info:
        authorize(client, sf, "salesforce", ["crm_deal_read"], redirect_uri=REDIRECT_URI, deny=True)
    assert info.value.provider_code == "access_denied"


def test_scope_mapping_is_api_for_everything() -> None:
    for unified, mapping in SalesforceProvider.scopes.items():
        assert mapping.required == ("api", "refresh_token"), unified
        assert mapping.optional == ()
    assert "webhook" not in SalesforceProvider.scopes


def test_login_hosts_for_sandbox_and_my_domain() -> None:
    sandbox = login_endpoints("test.salesforce.com")
    assert sandbox["authorize_url"] == "https://test.salesforce.com/services/oauth2/authorize"
    assert sandbox["token_url"] == "https://test.salesforce.com/services/oauth2/token"
    assert login_endpoints("https://acme.my.salesforce.com/")["revoke_url"] == (
        "https://acme.my.salesforce.com/services/oauth2/revoke"
    )
    with pytest.raises(ValueError):
        login_endpoints("evil.example/../x")


def test_api_version_config() -> None:
    assert api_version({}) == "v62.0"
    assert api_version({"api_version": 59}) == "v59.0"
    assert api_version({"api_version": "v61.0"}) == "v61.0"
    assert api_version({"api_version": "60.0"}) == "v60.0"
    with pytest.raises(ValueError):
        api_version({"api_version": "latest"})


def test_api_version_from_connection_config(client: Client, sf: FakeSalesforce) -> None:
    conn = connect(client, sf)
    client.connections.update(conn.id, config={"api_version": "58.0"})
    sf.seed(deals=2)
    assert len(client.crm.deals.list(connection_id=conn.id).data) == 2
    assert any("/services/data/v58.0/query" in log.url for log in client.logs.list(connection_id=conn.id))


def test_a_callback_url_the_connected_app_does_not_list_is_refused(sf: FakeSalesforce) -> None:
    """Salesforce answers ``redirect_uri_mismatch`` on its own page (no redirect) for an unlisted callback URL."""
    url = (
        f"{sf.url}/services/oauth2/authorize?response_type=code&client_id={sf.oauth_client_id}"
        "&redirect_uri=https://attacker.example/steal&scope=api"
        f"&code_challenge={pkce_challenge('v' * 50)}&code_challenge_method=S256"
    )
    with pytest.raises(OAuthError):
        sf.approve(url)
    sf.allow_redirect_url("https://attacker.example/steal")
    assert sf.approve(url).startswith("https://attacker.example/steal?code=")
