"""The sandbox server's own API over real HTTP: pagination, CRUD, validation, errors, auth, limits, faults."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

import httpx2
import pytest
from sandbox_testkit import api_client, oauth_token
from unified_sdk_sandbox.fake import SandboxData, SandboxServer

# -- data -------------------------------------------------------------------------------------------


def test_default_data_set_is_realistic(big: SandboxServer) -> None:
    data = big.data
    assert (len(data.deals), len(data.contacts), len(data.companies)) == (2500, 1000, 300)
    assert len(data.users) == 12
    assert [len(p["stages"]) for p in data.pipelines.values()] == [6, 5]
    deals = list(data.deals.records.values())
    assert all(d["stage_id"] in data.stages and data.stages[d["stage_id"]][1]["id"] == d["pipeline_id"] for d in deals)
    assert all(c in data.contacts.records for d in deals for c in d["contact_ids"])
    assert all(d["company_id"] is None or d["company_id"] in data.companies.records for d in deals)
    # Some records leave optional fields empty, so readers must tolerate nulls.
    assert any(d["value"] is None for d in deals) and any(d["owner_id"] is None for d in deals)
    assert any(c["address"] is None for c in data.contacts.records.values())


def test_seeding_is_deterministic() -> None:
    one, two = SandboxData(deals=30, contacts=10, companies=5), SandboxData(deals=30, contacts=10, companies=5)
    assert [one.deals.json_of(i) for i in one.deals.records] == [two.deals.json_of(i) for i in two.deals.records]
    other = SandboxData(deals=30, contacts=10, companies=5, seed=8)
    assert list(other.deals.records) != list(one.deals.records)


def test_seed_replaces_the_data_set(server: SandboxServer, api: httpx2.Client) -> None:
    server.seed(deals=7, contacts=3, companies=2)
    assert len(api.get("/v1/deals", params={"limit": 100}).json()["data"]) == 7
    assert len(api.get("/v1/contacts", params={"limit": 100}).json()["data"]) == 3
    server.seed(deals=4)
    assert len(api.get("/v1/deals", params={"limit": 100}).json()["data"]) == 4
    assert len(api.get("/v1/companies", params={"limit": 100}).json()["data"]) == 2


# -- pagination ------------------------------------------------------------------------------------


def walk(http: httpx2.Client, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    records: list[dict[str, Any]] = []
    pages = 0
    cursor = None
    while True:
        r = http.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        records += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return records, pages


@pytest.mark.parametrize(
    ("resource", "count", "pages"), [("deals", 2500, 25), ("contacts", 1000, 10), ("companies", 300, 3)]
)
def test_pagination_returns_every_record_once(big: SandboxServer, resource: str, count: int, pages: int) -> None:
    with api_client(big) as http:
        records, seen_pages = walk(http, f"/v1/{resource}", limit=100)
    ids = [r["id"] for r in records]
    assert len(ids) == count == len(set(ids))
    assert set(ids) == set(big.data.collection(resource).records)
    assert seen_pages == pages


def test_pagination_is_stable_while_records_change(server: SandboxServer, api: httpx2.Client) -> None:
    original = set(server.data.deals.records)
    first = api.get("/v1/deals", params={"limit": 20}).json()
    seen = [r["id"] for r in first["data"]]
    # Between pages: delete one not yet seen, add a new one.
    unseen = [i for i in server.data.deals.records if i not in seen]
    assert api.delete(f"/v1/deals/{unseen[0]}").status_code == 204
    created = api.post("/v1/deals", json={"title": "Added mid-listing"}).json()["id"]
    cursor = first["next_cursor"]
    while cursor:
        body = api.get("/v1/deals", params={"limit": 20, "cursor": cursor}).json()
        seen += [r["id"] for r in body["data"]]
        cursor = body["next_cursor"]
    assert len(seen) == len(set(seen))
    assert set(seen) == (original - {unseen[0]}) | {created}


def test_updated_since_filters_and_is_carried_by_the_cursor(server: SandboxServer, api: httpx2.Client) -> None:
    ids = list(server.data.deals.records)
    for rid in ids[5:30]:
        assert api.patch(f"/v1/deals/{rid}", json={"lead_source": "Webinar"}).status_code == 200
    records, pages = walk(api, "/v1/deals", limit=10, updated_since="2024-06-01T00:00:00Z")
    assert [r["id"] for r in records] == ids[5:30]
    assert pages == 3
    records, _ = walk(api, "/v1/deals", limit=100, updated_since="2024-06-01T00:00:00+02:00")
    assert len(records) == 25


def test_list_parameter_errors(api: httpx2.Client) -> None:
    for params in ({"limit": 101}, {"limit": 0}, {"limit": "ten"}, {"updated_since": "yesterday"}):
        r = api.get("/v1/deals", params=params)
        assert r.status_code == 400
        assert r.json()["error"]["type"] == "invalid_request"
    contacts_cursor = api.get("/v1/contacts", params={"limit": 1}).json()["next_cursor"]
    for cursor in ("garbage!", contacts_cursor):
        r = api.get("/v1/deals", params={"cursor": cursor})
        assert (r.status_code, r.json()["error"]["type"]) == (400, "invalid_cursor")


def test_default_page_size(api: httpx2.Client) -> None:
    assert len(api.get("/v1/deals").json()["data"]) == 25


# -- CRUD and validation -------------------------------------------------------------------------


def test_deal_crud(server: SandboxServer, api: httpx2.Client) -> None:
    contact = next(iter(server.data.contacts.records))
    r = api.post(
        "/v1/deals",
        json={
            "title": "Pilot",
            "value": {"amount": 1200.5, "currency": "EUR"},
            "stage_id": "stg_ren_2",
            "contact_ids": [contact],
            "custom_fields": {"region": "EMEA"},
            "expected_close_date": "2030-01-31",
        },
    )
    assert r.status_code == 201
    deal = r.json()
    assert deal["value"] == {"amount": "1200.50", "currency": "EUR"}
    assert deal["pipeline"] == {"id": "pip_renewals", "name": "Renewals"}
    assert deal["stage"] == {"id": "stg_ren_2", "label": "In Review"}
    assert deal["status"] == "open"
    assert api.get(f"/v1/deals/{deal['id']}").json() == deal
    r = api.patch(
        f"/v1/deals/{deal['id']}",
        json={"value": {"amount": "99.999"}, "custom_fields": {"region": None, "tier": "gold"}},
    )
    assert r.status_code == 200
    assert r.json()["value"] == {"amount": "99.999", "currency": "EUR"}
    assert r.json()["custom_fields"] == {"tier": "gold"}
    assert r.json()["updated_at"] >= deal["updated_at"]
    assert api.delete(f"/v1/deals/{deal['id']}").status_code == 204
    r = api.get(f"/v1/deals/{deal['id']}")
    assert (r.status_code, r.json()["error"]["type"]) == (404, "not_found")
    assert api.delete(f"/v1/deals/{deal['id']}").status_code == 404


def test_deal_validation_lists_every_field(api: httpx2.Client) -> None:
    r = api.post(
        "/v1/deals",
        json={
            "value": {"amount": "12,5", "currency": "euro"},
            "win_probability": 3,
            "stage_id": "stg_nope",
            "owner_id": "usr_nope",
            "colour": "red",
            "id": "x",
        },
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["type"] == "validation_failed"
    assert {(f["field"], f["code"]) for f in error["fields"]} == {
        ("title", "required"),
        ("value.amount", "not_a_number"),
        ("value.currency", "invalid"),
        ("win_probability", "out_of_range"),
        ("stage_id", "not_found"),
        ("owner_id", "not_found"),
        ("colour", "unknown_field"),
        ("id", "read_only"),
    }
    r = api.post("/v1/deals", json={"title": "x", "stage_id": "stg_sal_1", "pipeline_id": "pip_renewals"})
    assert [f["code"] for f in r.json()["error"]["fields"]] == ["mismatch"]


def test_bad_bodies(api: httpx2.Client) -> None:
    r = api.post("/v1/deals", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["error"]["type"]) == (400, "invalid_json")
    r = api.post("/v1/deals", json=["a list"])
    assert (r.status_code, r.json()["error"]["type"]) == (400, "invalid_request")


def test_contact_and_company_crud_with_conflicts(server: SandboxServer, api: httpx2.Client) -> None:
    company = api.post("/v1/companies", json={"name": "Acme", "domain": "acme.test", "employee_count": 40})
    assert company.status_code == 201
    company_id = company.json()["id"]
    dup = api.post("/v1/companies", json={"name": "Acme again", "domain": "ACME.test"})
    assert dup.status_code == 409
    assert dup.json()["error"]["type"] == "duplicate_record"
    assert dup.json()["error"]["existing_id"] == company_id
    contact = api.post(
        "/v1/contacts",
        json={"first_name": "Ada", "company_id": company_id, "emails": [{"address": "ada@acme.test", "label": "work"}]},
    )
    assert contact.status_code == 201
    assert contact.json()["company"] == {"id": company_id, "name": "Acme"}
    api.patch(f"/v1/companies/{company_id}", json={"name": "Acme Corp"})
    assert api.get(f"/v1/contacts/{contact.json()['id']}").json()["company"]["name"] == "Acme Corp"
    again = api.post("/v1/contacts", json={"emails": [{"address": "ADA@acme.test"}]})
    assert (again.status_code, again.json()["error"]["existing_id"]) == (409, contact.json()["id"])
    empty = api.post("/v1/contacts", json={"job_title": "CTO"})
    assert empty.status_code == 422
    assert api.delete(f"/v1/companies/{company_id}").status_code == 204
    assert api.get(f"/v1/contacts/{contact.json()['id']}").json()["company"] is None


def test_pipelines_users_and_me(api: httpx2.Client, server: SandboxServer) -> None:
    pipelines = api.get("/v1/pipelines").json()["data"]
    assert [p["id"] for p in pipelines] == ["pip_sales", "pip_renewals"]
    assert [s["label"] for s in pipelines[0]["stages"]] == [
        "Qualified",
        "Demo",
        "Proposal",
        "Negotiation",
        "Closed Won",
        "Closed Lost",
    ]
    assert api.get("/v1/pipelines/pip_sales").json()["name"] == "Sales"
    users = api.get("/v1/users").json()["data"]
    assert len(users) == 12
    assert api.get(f"/v1/users/{users[3]['id']}").json() == users[3]
    me = api.get("/v1/me").json()
    assert me["auth"]["type"] == "api_key"
    assert me["account"]["id"] == "acc_sandbox"


# -- routing, auth, scopes -------------------------------------------------------------------------


def test_unknown_routes_and_methods(api: httpx2.Client) -> None:
    r = api.get("/v1/invoices")
    assert (r.status_code, r.json()["error"]["type"]) == (404, "route_not_found")
    r = api.put("/v1/deals/dl_x", json={})
    assert (r.status_code, r.json()["error"]["type"]) == (405, "method_not_allowed")
    assert r.headers["allow"] == "GET, PATCH, DELETE"
    assert api.delete("/v1/deals").status_code == 405
    r = api.post("/v1/webhooks", json={})
    assert (r.status_code, r.json()["error"]["type"]) == (501, "not_implemented")


def test_api_key_auth(server: SandboxServer) -> None:
    with httpx2.Client(base_url=server.url) as http:
        r = http.get("/v1/deals")
        assert (r.status_code, r.json()["error"]["type"]) == (401, "authentication_required")
        r = http.get("/v1/deals", headers={"X-Api-Key": "sk_sandbox_wrong"})
        assert (r.status_code, r.json()["error"]["type"]) == (401, "invalid_api_key")
        assert server.api_key not in r.text
        r = http.get("/v1/deals", headers={"Authorization": "Bearer at_made_up"})
        assert (r.status_code, r.json()["error"]["type"]) == (401, "invalid_token")
    assert server.api_key.startswith("sk_sandbox_")
    assert SandboxServer(deals=0).api_key != server.api_key


def test_oauth_tokens_and_scopes(server: SandboxServer) -> None:
    with httpx2.Client(base_url=server.url) as http:
        token = oauth_token(server, http, "deals:read contacts:read")
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        assert http.get("/v1/deals", headers=bearer).status_code == 200
        assert http.get("/v1/me", headers=bearer).json()["auth"] == {
            "type": "oauth",
            "scopes": ["contacts:read", "deals:read"],
        }
        r = http.post("/v1/deals", headers=bearer, json={"title": "x"})
        assert r.status_code == 403
        error = r.json()["error"]
        assert error["type"] == "insufficient_scope"
        assert error["required_scopes"] == ["deals:write"]
        assert http.get("/v1/pipelines", headers=bearer).json()["error"]["required_scopes"] == ["pipelines:read"]
        assert server.expire_access_tokens() == 1
        r = http.get("/v1/deals", headers=bearer)
        assert (r.status_code, r.json()["error"]["type"]) == (401, "token_expired")
        r = http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": token["refresh_token"],
                "client_id": server.oauth_client_id,
                "client_secret": server.oauth_client_secret,
            },
        )
        fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert http.get("/v1/deals", headers=fresh).status_code == 200
        http.post(
            "/oauth/revoke",
            data={
                "token": r.json()["refresh_token"],
                "client_id": server.oauth_client_id,
                "client_secret": server.oauth_client_secret,
            },
        )
        r = http.get("/v1/deals", headers=fresh)
        assert (r.status_code, r.json()["error"]["type"]) == (401, "token_revoked")
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}


def test_oauth_endpoints_are_mounted(server: SandboxServer) -> None:
    with httpx2.Client(base_url=server.url) as http:
        r = http.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": server.oauth_client_id,
                "redirect_uri": "http://127.0.0.1:9/cb",
                "scope": "deals:read",
            },
        )
        assert r.status_code == 200 and "Sandbox CRM" in r.text
        r = http.post(
            "/oauth/introspect",
            data={"token": "x", "client_id": server.oauth_client_id, "client_secret": server.oauth_client_secret},
        )
        assert r.json() == {"active": False}
    assert set(server.config) == {"base_url", "authorize_url", "token_url", "revoke_url", "introspect_url"}
    assert server.config["token_url"] == server.url + "/oauth/token"


# -- headers, rate limits, idempotency --------------------------------------------------------------


def test_every_response_has_request_id_and_rate_limit_headers(api: httpx2.Client) -> None:
    for r in (api.get("/v1/deals"), api.get("/v1/nope"), api.put("/v1/deals"), api.post("/v1/deals", json={})):
        assert r.headers["x-request-id"].startswith("req_")
        assert int(r.headers["x-ratelimit-limit"]) == 10_000
        assert 0 <= int(r.headers["x-ratelimit-remaining"]) < 10_000
        assert 1 <= int(r.headers["x-ratelimit-reset"]) <= 10
    r = api.get("/v1/nope")
    assert r.json()["error"]["request_id"] == r.headers["x-request-id"]


def test_rate_limit_is_enforced() -> None:
    with (
        SandboxServer(deals=5, contacts=2, companies=1, rate_limit=3, rate_limit_window=60) as server,
        api_client(server) as http,
    ):
        remaining = [http.get("/v1/deals").headers["x-ratelimit-remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        r = http.get("/v1/deals")
        assert r.status_code == 429
        assert r.json()["error"]["type"] == "rate_limit_exceeded"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.json()["error"]["retry_after"] == int(r.headers["retry-after"])


def test_idempotency_key_replays_the_first_result(server: SandboxServer, api: httpx2.Client) -> None:
    before = len(server.data.deals)
    key = {"Idempotency-Key": "idem_1"}
    first = api.post("/v1/deals", json={"title": "Once"}, headers=key)
    second = api.post("/v1/deals", json={"title": "Once"}, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(server.data.deals) == before + 1
    other = api.post("/v1/deals", json={"title": "Different"}, headers=key)
    assert (other.status_code, other.json()["error"]["type"]) == (409, "idempotency_key_reused")
    assert [r.idempotency_key for r in server.requests[-3:]] == ["idem_1"] * 3


# -- fault injection and request counting ------------------------------------------------------------


def test_injected_statuses_use_the_sandbox_error_body(server: SandboxServer, api: httpx2.Client) -> None:
    server.inject(status=429, times=2, retry_after=1)
    for _ in range(2):
        r = api.get("/v1/deals")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]["type"] == "rate_limit_exceeded"
        assert r.json()["error"]["retry_after"] == 1
        assert r.json()["error"]["request_id"] == r.headers["x-request-id"]
    assert api.get("/v1/deals").status_code == 200
    for status, kind in (
        (402, "payment_required"),
        (500, "internal_error"),
        (503, "service_unavailable"),
        (504, "gateway_timeout"),
        (409, "conflict"),
    ):
        server.inject(status=status)
        r = api.get("/v1/deals")
        assert (r.status_code, r.json()["error"]["type"]) == (status, kind)


def test_faults_only_touch_the_api(server: SandboxServer, api: httpx2.Client) -> None:
    server.inject(status=500)
    r = api.post(
        "/oauth/introspect",
        data={"token": "x", "client_id": server.oauth_client_id, "client_secret": server.oauth_client_secret},
    )
    assert r.status_code == 200
    assert api.get("/v1/me").status_code == 500


def test_fault_kinds(server: SandboxServer, api: httpx2.Client) -> None:
    server.inject(fault="html")
    r = api.get("/v1/deals")
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    server.inject(fault="malformed_json")
    r = api.get("/v1/deals")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    server.inject(fault="reset")
    with pytest.raises(httpx2.TransportError):
        api.get("/v1/deals")
    server.faults.timeout_delay = 0.5
    server.inject(fault="timeout")
    with pytest.raises(httpx2.ReadTimeout):
        api.get("/v1/deals", timeout=0.1)


def test_requests_are_recorded(server: SandboxServer, api: httpx2.Client) -> None:
    server.inject(status=503)
    api.get("/v1/deals", params={"limit": 5})
    api.get("/v1/deals", params={"limit": 5})
    api.post("/v1/deals", json={"title": "x"})
    api.post("/oauth/introspect", data={})
    assert server.count("GET", "/v1/deals") == 2
    assert server.count("POST", "/v1/deals") == 1
    assert server.count() == 3
    assert server.requests[0].query == "limit=5"
    server.clear_requests()
    assert server.requests == []


def test_concurrent_requests(server: SandboxServer) -> None:
    errors: list[int] = []

    def work() -> None:
        with api_client(server) as http:
            for i in range(10):
                r = http.post("/v1/companies", json={"name": f"C{threading.get_ident()}-{i}"})
                if r.status_code != 201:
                    errors.append(r.status_code)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(server.data.companies) == 15 + 40
    assert server.count("POST", "/v1/companies") == 40


# -- as its own process -----------------------------------------------------------------------------


def test_runs_as_a_process() -> None:
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "unified_sdk_sandbox.fake",
            "--port",
            "0",
            "--deals",
            "150",
            "--contacts",
            "5",
            "--companies",
            "3",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            info = json.loads(proc.stdout.readline())
            assert set(info) == {"url", "api_key", "oauth_client_id", "oauth_client_secret", "config"}
            with httpx2.Client(base_url=info["url"], headers={"X-Api-Key": info["api_key"]}) as http:
                records, pages = walk(http, "/v1/deals", limit=100)
            assert (len(records), pages) == (150, 2)
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0
