"""The local HubSpot itself, over raw HTTP: what an app developer testing their own code relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from unified_sdk_hubspot.fake import AuthorizeError, FakeHubSpot

from unified_sdk.testing import pkce_challenge


def _get(fake: FakeHubSpot, path: str, token: str | None = None, **params: Any) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {token or fake.api_key}"}
    return httpx2.get(fake.url + path, params=params, headers=headers)


def _post(fake: FakeHubSpot, path: str, body: Any, token: str | None = None) -> httpx2.Response:
    return httpx2.post(fake.url + path, json=body, headers={"Authorization": f"Bearer {token or fake.api_key}"})


def test_list_paging_properties_and_associations(hubspot: FakeHubSpot) -> None:
    hubspot.seed(deals=25, contacts=5, companies=2)
    r = _get(hubspot, "/crm/v3/objects/deals", limit=10, properties="dealname,amount", associations="contacts")
    assert r.status_code == 200
    body = r.json()
    assert len(body["results"]) == 10
    first = body["results"][0]
    assert set(first) == {"id", "properties", "createdAt", "updatedAt", "archived", "associations"}
    assert set(first["properties"]) == {"dealname", "amount", "createdate", "hs_lastmodifieddate", "hs_object_id"}
    assert isinstance(first["properties"]["amount"], str)
    assert first["associations"]["contacts"]["results"][0]["type"] == "deal_to_contact"
    seen = [x["id"] for x in body["results"]]
    after = body["paging"]["next"]["after"]
    while after:
        page = _get(hubspot, "/crm/v3/objects/deals", limit=10, after=after).json()
        seen += [x["id"] for x in page["results"]]
        after = (page.get("paging") or {}).get("next", {}).get("after")
    assert seen == [x["id"] for x in hubspot.records("deals")]
    assert _get(hubspot, "/crm/v3/objects/deals", limit=101).status_code == 400


def test_rate_limit_headers_and_the_enforced_rolling_window() -> None:
    with FakeHubSpot(ten_second_limit=3, interval_ms=60_000, daily_limit=1000) as fake:
        r = _get(fake, "/crm/v3/objects/deals")
        assert r.headers["x-hubspot-ratelimit-max"] == "3"
        assert r.headers["x-hubspot-ratelimit-remaining"] == "2"
        assert r.headers["x-hubspot-ratelimit-interval-milliseconds"] == "60000"
        assert r.headers["x-hubspot-ratelimit-daily"] == "1000"
        assert r.headers["x-hubspot-ratelimit-daily-remaining"] == "999"
        _get(fake, "/crm/v3/objects/deals")
        _get(fake, "/crm/v3/objects/deals")
        refused = _get(fake, "/crm/v3/objects/deals")
        assert refused.status_code == 429
        body = refused.json()
        assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
        assert set(body) >= {"status", "message", "correlationId", "policyName", "groupName"}
        assert refused.headers["x-hubspot-ratelimit-remaining"] == "0"
        assert fake.status_counts[429] == 1


def test_daily_limit_for_private_apps() -> None:
    with FakeHubSpot(daily_limit=2) as fake:
        assert _get(fake, "/crm/v3/owners").status_code == 200
        assert _get(fake, "/crm/v3/owners").status_code == 200
        refused = _get(fake, "/crm/v3/owners")
        assert refused.status_code == 429 and refused.json()["policyName"] == "DAILY"


def test_search_filters_sorts_and_ceiling() -> None:
    with FakeHubSpot(search_ceiling=50, search_limit_per_second=None) as fake:
        fake.seed(deals=120)
        body = {
            "filterGroups": [{"filters": [{"propertyName": "pipeline", "operator": "EQ", "value": "default"}]}],
            "sorts": [{"propertyName": "amount", "direction": "DESCENDING"}],
            "properties": ["amount", "pipeline"],
            "limit": 20,
        }
        r = _post(fake, "/crm/v3/objects/deals/search", body)
        assert r.status_code == 200
        page = r.json()
        expected = [d for d in fake.records("deals") if d["properties"]["pipeline"] == "default"]
        assert page["total"] == len(expected) > 50
        amounts = [float(x["properties"]["amount"]) for x in page["results"]]
        assert amounts == sorted(amounts, reverse=True)
        assert "associations" not in page["results"][0]
        offsets = []
        while "paging" in page:
            offsets.append(page["paging"]["next"]["after"])
            page = _post(fake, "/crm/v3/objects/deals/search", {**body, "after": offsets[-1]}).json()
        assert offsets == ["20", "40"]  # the third page ends at the ceiling, with no paging.next
        past = _post(fake, "/crm/v3/objects/deals/search", {**body, "after": "50"})
        assert past.status_code == 400 and past.json()["category"] == "VALIDATION_ERROR"


def test_search_rate_limit_is_per_second() -> None:
    with FakeHubSpot(search_limit_per_second=2) as fake:
        statuses = [_post(fake, "/crm/v3/objects/contacts/search", {}).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


def test_error_bodies(hubspot: FakeHubSpot) -> None:
    r = _get(hubspot, "/crm/v3/objects/deals", token="nope")
    assert r.status_code == 401 and r.json()["category"] == "INVALID_AUTHENTICATION"
    limited = hubspot.private_app_token(["crm.objects.contacts.read"])
    r = _get(hubspot, "/crm/v3/objects/deals", token=limited)
    body = r.json()
    assert r.status_code == 403 and body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredScopes"] == ["crm.objects.deals.read"]
    r = _get(hubspot, "/crm/v3/objects/deals/999999")
    assert r.status_code == 404 and r.json()["category"] == "OBJECT_NOT_FOUND"
    r = _post(hubspot, "/crm/v3/objects/deals", {"properties": {"amount": "lots"}})
    assert r.status_code == 400 and '"name":"amount"' in r.json()["message"]
    assert r.headers["x-hubspot-correlation-id"] == r.json()["correlationId"]
    _post(hubspot, "/crm/v3/objects/contacts", {"properties": {"email": "a@b.example"}})
    r = _post(hubspot, "/crm/v3/objects/contacts", {"properties": {"email": "a@b.example"}})
    assert r.status_code == 409 and r.json()["message"].startswith("Contact already exists. Existing ID: ")
    hubspot.inject(status=503)
    r = _get(hubspot, "/crm/v3/owners")
    assert r.status_code == 503 and r.json()["category"] == "SERVICE_UNAVAILABLE"


def test_oauth_refuses_what_hubspot_refuses(hubspot: FakeHubSpot) -> None:
    verifier = "v" * 50
    base = (
        f"{hubspot.config['authorize_url']}?client_id={hubspot.oauth_client_id}&response_type=code"
        f"&redirect_uri=https://app.example.com/oauth/callback"
    )
    no_oauth = hubspot.approve(base + "&scope=crm.objects.deals.read&state=s1")
    assert "error=invalid_scope" in no_oauth and "state=s1" in no_oauth
    with pytest.raises(AuthorizeError):
        hubspot.approve(base.replace(hubspot.oauth_client_id, "someone-else") + "&scope=oauth")
    callback = hubspot.approve(
        base + f"&scope=oauth&code_challenge={pkce_challenge(verifier)}&code_challenge_method=S256"
    )
    code = callback.split("code=")[1].split("&")[0]
    form = {
        "grant_type": "authorization_code",
        "client_id": hubspot.oauth_client_id,
        "client_secret": hubspot.oauth_client_secret,
        "redirect_uri": "https://app.example.com/oauth/callback",
        "code": code,
    }
    wrong = httpx2.post(hubspot.config["token_url"], data={**form, "code_verifier": "w" * 50})
    assert wrong.status_code == 400 and wrong.json()["status"] == "BAD_AUTH_CODE"
    bad_secret = httpx2.post(hubspot.config["token_url"], data={**form, "client_secret": "x"})
    assert bad_secret.json()["status"] == "BAD_CLIENT_SECRET"
    bad_refresh = httpx2.post(
        hubspot.config["token_url"],
        data={
            "grant_type": "refresh_token",
            "client_id": hubspot.oauth_client_id,
            "client_secret": hubspot.oauth_client_secret,
            "refresh_token": "nope",
        },
    )
    assert bad_refresh.status_code == 400
    assert bad_refresh.json()["status"] == "BAD_REFRESH_TOKEN"
    assert bad_refresh.json()["message"] == "missing or invalid refresh token"


def test_token_response_shape_and_expiry() -> None:
    with FakeHubSpot(access_token_ttl=1800) as fake:
        url = (
            f"{fake.config['authorize_url']}?client_id={fake.oauth_client_id}&response_type=code"
            "&redirect_uri=https://app.example.com/oauth/callback&scope=oauth%20crm.objects.deals.read"
        )
        code = fake.approve(url).split("code=")[1].split("&")[0]
        token = httpx2.post(
            fake.config["token_url"],
            data={
                "grant_type": "authorization_code",
                "client_id": fake.oauth_client_id,
                "client_secret": fake.oauth_client_secret,
                "redirect_uri": "https://app.example.com/oauth/callback",
                "code": code,
            },
        ).json()
        assert set(token) == {"token_type", "access_token", "refresh_token", "expires_in", "hub_id", "scopes"}
        assert token["expires_in"] == 1800 and token["scopes"] == ["oauth", "crm.objects.deals.read"]
        assert _get(fake, "/crm/v3/objects/deals", token=token["access_token"]).status_code == 200
        fake.expire_access_tokens()
        r = _get(fake, "/crm/v3/objects/deals", token=token["access_token"])
        assert r.status_code == 401 and r.json()["category"] == "EXPIRED_AUTHENTICATION"
        assert "expired" in r.json()["message"]
        refreshed = httpx2.post(
            fake.config["token_url"],
            data={
                "grant_type": "refresh_token",
                "client_id": fake.oauth_client_id,
                "client_secret": fake.oauth_client_secret,
                "refresh_token": token["refresh_token"],
            },
        ).json()
        assert refreshed["refresh_token"] == token["refresh_token"]  # not rotated by default
        assert fake.token_requests == {"authorization_code": 1, "refresh_token": 1}


def test_runs_as_its_own_process() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "unified_sdk_hubspot.fake", "--port", "0", "--deals", "20", "--api-key", "pat-x"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        r = httpx2.get(url + "/crm/v3/objects/deals", params={"limit": 100}, headers={"Authorization": "Bearer pat-x"})
        assert r.status_code == 200 and len(r.json()["results"]) == 20
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_guides_offline_testing_example_runs(tmp_path: Path) -> None:
    guide = (Path(__file__).resolve().parents[3] / "docs" / "guide.md").read_text()
    section = guide.split("## Testing your app offline", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/guide.md", "exec"), namespace)
    namespace["test_sync_job"](tmp_path)


def test_oauth_refuses_a_redirect_url_the_app_does_not_list(hubspot: FakeHubSpot) -> None:
    """HubSpot shows an error page (no redirect) for a redirect URL missing from the app's settings."""
    base = (
        f"{hubspot.config['authorize_url']}?client_id={hubspot.oauth_client_id}&response_type=code&scope=oauth"
        "&redirect_uri=https://attacker.example/steal"
    )
    with pytest.raises(AuthorizeError):
        hubspot.approve(base)
    hubspot.allow_redirect_url("https://attacker.example/steal")
    assert hubspot.approve(base).startswith("https://attacker.example/steal?code=")
