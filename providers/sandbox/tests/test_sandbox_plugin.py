"""The sandbox plugin, sans-I/O: identity, auth, scopes, classify (from real server responses), adapters."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Any

import httpx2
import pytest
from sandbox_testkit import PROVIDER, ctx, drive, oauth_token, send
from unified_sdk_sandbox import SandboxProvider
from unified_sdk_sandbox.crm import _base
from unified_sdk_sandbox.crm.companies import CompaniesAdapter
from unified_sdk_sandbox.crm.contacts import ContactsAdapter
from unified_sdk_sandbox.crm.deals import DealsAdapter
from unified_sdk_sandbox.crm.pipelines import PipelinesAdapter
from unified_sdk_sandbox.crm.users import UsersAdapter
from unified_sdk_sandbox.fake import SCOPES, SandboxServer

from unified_sdk._outcome import HealthSignal
from unified_sdk.errors import NotFoundError, ValidationError
from unified_sdk.models import (
    Address,
    Company,
    Contact,
    Deal,
    Email,
    Metadata,
    Pipeline,
    Stage,
    Telephone,
    User,
)
from unified_sdk.provider import (
    AuthType,
    Category,
    Credentials,
    ListQuery,
    ProviderRequest,
    ProviderResponse,
)

# -- identity, packaging, auth, scopes --------------------------------------------------------------


def test_identity_and_entry_point() -> None:
    assert (SandboxProvider.name, SandboxProvider.display_name) == ("sandbox", "Sandbox CRM")
    assert SandboxProvider.categories == frozenset({"crm"})
    assert SandboxProvider.auth_types == frozenset({AuthType.API_KEY, AuthType.OAUTH2})
    assert SandboxProvider.base_url == "http://127.0.0.1:8765"
    found = [ep for ep in entry_points(group="unified_sdk.providers") if ep.name == "sandbox"]
    assert [ep.value for ep in found] == ["unified_sdk_sandbox:SandboxProvider"]
    assert found[0].load() is SandboxProvider


def test_importing_the_package_loads_neither_the_fake_nor_the_adapters() -> None:
    code = (
        "import sys, unified_sdk_sandbox\n"
        "heavy = [m for m in ('starlette', 'uvicorn', 'unified_sdk_sandbox.fake', 'unified_sdk_sandbox.crm.deals',"
        " 'unified_sdk_sandbox.crm') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert unified_sdk_sandbox.SandboxServer.__name__ == 'SandboxServer'\n"
        "assert 'uvicorn' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_adapters_are_named_lazily_and_load() -> None:
    provider = SandboxProvider()
    assert set(provider.adapters) == {"crm.deals", "crm.contacts", "crm.companies", "crm.pipelines", "crm.users"}
    assert isinstance(provider.adapter("crm.deals"), DealsAdapter)
    assert provider.adapter("crm.deals") is provider.adapter("crm.deals")
    assert provider.adapter("crm.leads") is None
    assert all(DealsAdapter.supports(op) for op in ("list", "get", "create", "update", "delete"))
    assert PipelinesAdapter.supports("list") and PipelinesAdapter.supports("get")
    assert not PipelinesAdapter.supports("create") and not UsersAdapter.supports("delete")


def test_auth_headers() -> None:
    key = Credentials(type=AuthType.API_KEY, api_key="sk_sandbox_secret")
    assert PROVIDER.auth_headers(key) == {"X-Api-Key": "sk_sandbox_secret"}
    oauth = Credentials(type=AuthType.OAUTH2, access_token="at_secret", refresh_token="rt_secret")
    assert PROVIDER.auth_headers(oauth) == {"Authorization": "Bearer at_secret"}
    assert "secret" not in repr(key) + repr(oauth)


def test_scopes_and_oauth_spec() -> None:
    assert set(SandboxProvider.scopes) == {
        "crm_deal_read",
        "crm_deal_write",
        "crm_contact_read",
        "crm_contact_write",
        "crm_company_read",
        "crm_company_write",
        "crm_pipeline_read",
        "crm_user_read",
        "webhook",
    }
    deal_read = SandboxProvider.scopes["crm_deal_read"]
    assert (deal_read.required, deal_read.optional) == (("deals:read",), ("pipelines:read",))
    used = {s for m in SandboxProvider.scopes.values() for s in (*m.required, *m.optional)}
    assert used == set(SCOPES)
    spec = SandboxProvider.oauth
    assert spec is not None
    assert (spec.pkce, spec.scope_separator, spec.token_endpoint_auth_method) == (True, " ", "client_secret_post")
    assert spec.token_url == "http://127.0.0.1:8765/oauth/token"
    assert spec.revoke_url == "http://127.0.0.1:8765/oauth/revoke"
    assert SandboxProvider.idempotency_header == "Idempotency-Key"


def test_resolve_base_url(server: SandboxServer) -> None:
    assert PROVIDER.resolve_base_url({}) == "http://127.0.0.1:8765"
    assert PROVIDER.resolve_base_url(server.config) == server.url


def test_parse_rate_limit(api: httpx2.Client) -> None:
    headers = api.get("/v1/me").headers
    limit = PROVIDER.parse_rate_limit(headers)
    assert limit is not None
    assert limit.limit == 10_000
    assert limit.remaining == int(headers["x-ratelimit-remaining"])
    assert limit.reset_after == float(headers["x-ratelimit-reset"])
    assert PROVIDER.parse_rate_limit({}) is None
    assert PROVIDER.parse_rate_limit({"x-ratelimit-remaining": "n/a"}) is None


def test_health_check_is_get_me(server: SandboxServer, api: httpx2.Client) -> None:
    result, sent = drive(PROVIDER.health_check(ctx(server)), api)
    assert (result, sent) == (None, 1)
    assert server.requests[-1].path == "/v1/me"


# -- classify: every sandbox error type, from real responses ----------------------------------------


def response(http: httpx2.Client, method: str, path: str, **kwargs: Any) -> ProviderResponse:
    r = http.request(method, path, **kwargs)
    return ProviderResponse(r.status_code, r.headers, r.content)


def test_classify_success_carries_the_request_id(api: httpx2.Client) -> None:
    resp = response(api, "GET", "/v1/me")
    outcome = PROVIDER.classify(resp)
    assert outcome.ok and outcome.status == 200
    assert outcome.request_id == resp.headers["x-request-id"]


@pytest.mark.parametrize(
    ("how", "status", "code", "category"),
    [
        ("bad_limit", 400, "invalid_request", Category.VALIDATION),
        ("bad_cursor", 400, "invalid_cursor", Category.VALIDATION),
        ("bad_json", 400, "invalid_json", Category.VALIDATION),
        ("no_auth", 401, "authentication_required", Category.AUTHENTICATION),
        ("bad_key", 401, "invalid_api_key", Category.AUTHENTICATION),
        ("bad_token", 401, "invalid_token", Category.AUTHENTICATION),
        ("missing", 404, "not_found", Category.NOT_FOUND),
        ("no_route", 404, "route_not_found", Category.NOT_FOUND),
        ("put", 405, "method_not_allowed", Category.METHOD_NOT_ALLOWED),
        ("duplicate", 409, "duplicate_record", Category.CONFLICT),
        ("invalid", 422, "validation_failed", Category.VALIDATION),
        ("webhooks", 501, "not_implemented", Category.NOT_IMPLEMENTED),
    ],
)
def test_classify_real_errors(
    server: SandboxServer, api: httpx2.Client, how: str, status: int, code: str, category: Category
) -> None:
    company = next(iter(server.data.companies.records.values()))
    anonymous = httpx2.Client(base_url=server.url)
    makers: dict[str, Callable[[], ProviderResponse]] = {
        "bad_limit": lambda: response(api, "GET", "/v1/deals", params={"limit": 500}),
        "bad_cursor": lambda: response(api, "GET", "/v1/deals", params={"cursor": "zz"}),
        "bad_json": lambda: response(
            api, "POST", "/v1/deals", content=b"{", headers={"content-type": "application/json"}
        ),
        "no_auth": lambda: response(anonymous, "GET", "/v1/deals"),
        "bad_key": lambda: response(api, "GET", "/v1/deals", headers={"X-Api-Key": "nope"}),
        "bad_token": lambda: response(anonymous, "GET", "/v1/deals", headers={"Authorization": "Bearer nope"}),
        "missing": lambda: response(api, "GET", "/v1/deals/dl_missing"),
        "no_route": lambda: response(api, "GET", "/v1/tickets"),
        "put": lambda: response(api, "PUT", "/v1/deals/dl_x", json={}),
        "duplicate": lambda: response(api, "POST", "/v1/companies", json={"name": "x", "domain": company["domain"]}),
        "invalid": lambda: response(api, "POST", "/v1/deals", json={"value": {"amount": "lots"}}),
        "webhooks": lambda: response(api, "GET", "/v1/webhooks"),
    }
    with anonymous:
        resp = makers[how]()
    outcome = PROVIDER.classify(resp)
    assert (outcome.status, outcome.provider_code, outcome.category) == (status, code, category)
    assert outcome.request_id == resp.headers["x-request-id"]
    assert outcome.provider_message == resp.json()["error"]["message"]
    if code == "duplicate_record":
        assert outcome.details["existing_id"] == company["id"]
    if code == "validation_failed":
        assert [f["field"] for f in outcome.details["fields"]] == ["title", "value.amount"]
        assert outcome.hint == "fix the fields the sandbox rejected: title, value.amount"
    if code in ("invalid_request", "invalid_cursor"):
        assert outcome.details["param"] in ("limit", "cursor")
    if code == "invalid_api_key":
        assert outcome.health == HealthSignal.UNHEALTHY
        assert outcome.hint is not None and "API key" in outcome.hint


@pytest.mark.parametrize(
    ("status", "code", "category", "health"),
    [
        (402, "payment_required", Category.REQUEST_FAILED, HealthSignal.NEUTRAL),
        (403, "forbidden", Category.PERMISSION, HealthSignal.UNHEALTHY),
        (409, "conflict", Category.CONFLICT, HealthSignal.NEUTRAL),
        (429, "rate_limit_exceeded", Category.RATE_LIMITED, HealthSignal.HEALTHY),
        (500, "internal_error", Category.PROVIDER_ERROR, HealthSignal.NEUTRAL),
        (502, "bad_gateway", Category.PROVIDER_ERROR, HealthSignal.NEUTRAL),
        (503, "service_unavailable", Category.PROVIDER_ERROR, HealthSignal.NEUTRAL),
        (504, "gateway_timeout", Category.TIMEOUT, HealthSignal.NEUTRAL),
    ],
)
def test_classify_injected_statuses(
    server: SandboxServer, api: httpx2.Client, status: int, code: str, category: Category, health: HealthSignal
) -> None:
    server.inject(status=status)
    outcome = PROVIDER.classify(response(api, "GET", "/v1/deals"))
    assert (outcome.status, outcome.provider_code, outcome.category, outcome.health) == (status, code, category, health)


def test_classify_insufficient_scope_names_missing_scopes(server: SandboxServer) -> None:
    with httpx2.Client(base_url=server.url) as http:
        token = oauth_token(server, http, "deals:read")
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        outcome = PROVIDER.classify(response(http, "DELETE", "/v1/deals/dl_x", headers=bearer))
        assert (outcome.category, outcome.provider_code) == (Category.PERMISSION, "insufficient_scope")
        assert outcome.details["missing_scopes"] == ["deals:write"]
        assert outcome.details["granted_scopes"] == ["deals:read"]
        assert outcome.hint == "missing sandbox scopes: deals:write; re-authorize the connection with them"
        server.expire_access_tokens()
        expired = PROVIDER.classify(response(http, "GET", "/v1/deals", headers=bearer))
        assert (expired.category, expired.provider_code) == (Category.AUTHENTICATION, "token_expired")
        assert expired.hint is not None and "refresh" in expired.hint


def test_classify_rate_limit_waits(server: SandboxServer, api: httpx2.Client) -> None:
    server.inject(status=429, retry_after=2)
    assert PROVIDER.classify(response(api, "GET", "/v1/deals")).retry_after == 2.0
    # Without Retry-After, the body's retry_after, then the window reset are used.
    body_only = ProviderResponse(
        429, {"content-type": "application/json"}, b'{"error": {"type": "rate_limit_exceeded", "retry_after": 7}}'
    )
    assert PROVIDER.classify(body_only).retry_after == 7.0
    reset_only = ProviderResponse(429, {"x-ratelimit-reset": "4"}, b'{"error": {"type": "rate_limit_exceeded"}}')
    assert PROVIDER.classify(reset_only).retry_after == 4.0


def test_classify_html_and_foreign_bodies(server: SandboxServer, api: httpx2.Client) -> None:
    server.inject(fault="html")
    outcome = PROVIDER.classify(response(api, "GET", "/v1/deals"))
    assert (outcome.category, outcome.status, outcome.provider_code) == (Category.PROVIDER_ERROR, 502, None)
    assert outcome.hint is not None and "HTML" in outcome.hint
    assert outcome.request_id is not None
    # The timeout fault answers 504 with a body that is not the sandbox's: fall back on the status.
    server.faults.timeout_delay = 0.0
    server.inject(fault="timeout")
    outcome = PROVIDER.classify(response(api, "GET", "/v1/deals"))
    assert (outcome.category, outcome.status, outcome.provider_code) == (Category.TIMEOUT, 504, None)
    empty = PROVIDER.classify(ProviderResponse(500, {}, b""))
    assert (empty.category, empty.provider_code) == (Category.PROVIDER_ERROR, None)
    unknown_type = PROVIDER.classify(ProviderResponse(418, {}, b'{"error": {"type": "teapot", "message": "no"}}'))
    assert (unknown_type.category, unknown_type.provider_code) == (Category.VALIDATION, "teapot")


# -- adapters driven by hand ---------------------------------------------------------------------


def test_deal_listing_walks_every_page(server: SandboxServer, api: httpx2.Client) -> None:
    adapter = DealsAdapter(PROVIDER)
    seen: list[Deal] = []
    cursor = None
    pages = 0
    while True:
        result, sent = drive(adapter.list(ctx(server), ListQuery(limit=25, cursor=cursor)), api)
        assert sent == 1
        pages += 1
        seen += result.items
        cursor = result.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert [d.id for d in seen] == list(server.data.deals.records)
    assert server.requests[0].query == "limit=25"


def test_list_params() -> None:
    assert _base.list_params(ListQuery()) == {"limit": 100}
    assert _base.list_params(ListQuery(limit=5000, cursor="c")) == {"limit": 100, "cursor": "c"}
    since = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert _base.list_params(ListQuery(limit=3, updated_after=since))["updated_since"] == "2024-05-01T10:00:00.000Z"
    naive = _base.list_params(ListQuery(updated_after=datetime(2024, 5, 1)))
    assert naive["updated_since"] == "2024-05-01T00:00:00.000Z"


def test_updated_after_reaches_the_server(server: SandboxServer, api: httpx2.Client) -> None:
    target = list(server.data.deals.records)[3]
    api.patch(f"/v1/deals/{target}", json={"labels": ["touched"]})
    query = ListQuery(updated_after=datetime(2025, 1, 1, tzinfo=UTC))
    result, _ = drive(DealsAdapter(PROVIDER).list(ctx(server), query), api)
    assert [d.id for d in result.items] == [target]
    assert result.items[0].tags == ["touched"]


def test_deal_mapping(server: SandboxServer, api: httpx2.Client) -> None:
    raw = next(
        r
        for r in server.data.deals.records.values()
        if r["value"] and r["status"] == "lost" and r["company_id"] and r["custom_fields"]
    )
    deal, _ = drive(DealsAdapter(PROVIDER).get(ctx(server), raw["id"]), api)
    stage, pipeline = server.data.stages[raw["stage_id"]]
    assert deal.id == raw["id"]
    assert deal.name == raw["title"]
    assert deal.amount == Decimal(raw["value"]["amount"])
    assert deal.currency == raw["value"]["currency"]
    assert deal.probability == pytest.approx(raw["win_probability"] * 100)
    assert (deal.stage, deal.stage_id) == (stage["label"], stage["id"])
    assert (deal.pipeline, deal.pipeline_id) == (pipeline["name"], pipeline["id"])
    assert deal.closing_at == datetime.fromisoformat(raw["expected_close_date"] + "T00:00:00+00:00")
    assert deal.closed_at == datetime.fromisoformat(raw["closed_at"])
    assert (deal.won_reason, deal.lost_reason) == (None, raw["close_reason"])
    assert deal.source == raw["lead_source"]
    assert deal.tags == raw["labels"]
    assert deal.user_id == raw["owner_id"]
    assert deal.company_ids == [raw["company_id"]]
    assert deal.contact_ids == raw["contact_ids"]
    assert deal.created_at == datetime.fromisoformat(raw["created_at"])
    assert deal.created_at is not None and deal.created_at.tzinfo is not None
    assert deal.metadata == [Metadata(id=k, slug=k, value=v) for k, v in raw["custom_fields"].items()]
    assert deal.raw is not None and deal.raw["id"] == raw["id"]
    # The fast construction gives the same model as validating the same values.
    assert Deal.model_validate(deal.model_dump()) == deal


def test_sparse_records_map_to_none(server: SandboxServer, api: httpx2.Client) -> None:
    raw = next(r for r in server.data.deals.records.values() if r["value"] is None)
    deal, _ = drive(DealsAdapter(PROVIDER).get(ctx(server), raw["id"]), api)
    assert (deal.amount, deal.currency, deal.probability, deal.closing_at, deal.source) == (None,) * 5
    assert deal.metadata == []


def test_contact_and_company_mapping(server: SandboxServer, api: httpx2.Client) -> None:
    raw = next(r for r in server.data.contacts.records.values() if r["address"] and r["company_id"] and r["phones"])
    contact, _ = drive(ContactsAdapter(PROVIDER).get(ctx(server), raw["id"]), api)
    company_raw = server.data.companies.records[raw["company_id"]]
    assert contact.name == f"{raw['first_name']} {raw['last_name']}"
    assert (contact.title, contact.department) == (raw["job_title"], raw["department"])
    assert contact.company == company_raw["name"]
    assert contact.company_ids == [raw["company_id"]]
    assert contact.emails == [Email(email=e["address"], type=e["label"]) for e in raw["emails"]]
    assert contact.telephones == [Telephone(telephone=p["number"], type=p["label"]) for p in raw["phones"]]
    a = raw["address"]
    assert contact.address == Address(
        address1=a["line1"],
        address2=a["line2"],
        city=a["city"],
        region=a["state"],
        region_code=a["state_code"],
        postal_code=a["postal_code"],
        country=a["country"],
        country_code=a["country_code"],
    )
    assert contact.user_id == raw["owner_id"]
    assert Contact.model_validate(contact.model_dump()) == contact
    company, _ = drive(CompaniesAdapter(PROVIDER).get(ctx(server), company_raw["id"]), api)
    assert company.domains == [company_raw["domain"]]
    assert company.employees == company_raw["employee_count"]
    assert Company.model_validate(company.model_dump()) == company


def test_pipelines_and_users(server: SandboxServer, api: httpx2.Client) -> None:
    result, _ = drive(PipelinesAdapter(PROVIDER).list(ctx(server), ListQuery()), api)
    assert result.next_cursor is None
    sales = result.items[0]
    assert (sales.id, sales.name, sales.is_active, sales.display_order) == ("pip_sales", "Sales", True, 0)
    assert sales.stages is not None
    assert sales.stages[2] == Stage(
        id="stg_sal_3", name="Proposal", active=True, deal_probability=60.0, display_order=2
    )
    assert Pipeline.model_validate(sales.model_dump()) == sales
    one, _ = drive(PipelinesAdapter(PROVIDER).get(ctx(server), "pip_renewals"), api)
    assert one.stages is not None and len(one.stages) == 5
    users, _ = drive(UsersAdapter(PROVIDER).list(ctx(server), ListQuery()), api)
    assert len(users.items) == 12
    first = users.items[0]
    assert first.name == "Maya Chen" and first.emails == [Email(email="maya.chen@sandbox-crm.test", type="work")]
    assert users.items[-1].is_active is False
    assert User.model_validate(first.model_dump()) == first


# -- writes ----------------------------------------------------------------------------------------

deal_body = DealsAdapter(PROVIDER).to_provider
contact_body = ContactsAdapter(PROVIDER).to_provider
company_body = CompaniesAdapter(PROVIDER).to_provider


def test_deal_body_maps_unified_fields() -> None:
    body = deal_body(
        {
            "name": "N",
            "amount": Decimal("10.10"),
            "currency": "EUR",
            "probability": 35.0,
            "stage_id": "stg_sal_2",
            "closing_at": datetime(2030, 1, 2, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
            "closed_at": datetime(2030, 1, 5, 8, 0, tzinfo=UTC),
            "lost_reason": "Timing",
            "source": "Referral",
            "tags": ["x"],
            "user_id": "usr_1000",
            "company_ids": ["co_1"],
            "contact_ids": ["ct_1"],
            "metadata": [{"slug": "region", "value": "NA"}, {"id": "seats", "value": 4}],
        }
    )
    assert body == {
        "title": "N",
        "value": {"amount": "10.10", "currency": "EUR"},
        "win_probability": 0.35,
        "stage_id": "stg_sal_2",
        "expected_close_date": "2030-01-03",
        "closed_at": "2030-01-05T08:00:00.000Z",  # the sandbox's own spelling (milliseconds, Z)
        "close_reason": "Timing",
        "lead_source": "Referral",
        "labels": ["x"],
        "owner_id": "usr_1000",
        "company_id": "co_1",
        "contact_ids": ["ct_1"],
        "custom_fields": {"region": "NA", "seats": 4},
    }
    assert deal_body({"amount": None}) == {"value": None}
    assert deal_body({"company_ids": []}) == {"company_id": None}
    with pytest.raises(ValidationError):
        deal_body({"company_ids": ["co_1", "co_2"]})
    with pytest.raises(ValidationError):
        deal_body({"won_reason": "a", "lost_reason": "b"})


def test_contact_and_company_bodies() -> None:
    assert contact_body(
        {
            "name": "Ada King Lovelace",
            "title": "CTO",
            "emails": [{"email": "a@x.test", "type": "work"}],
            "telephones": [{"telephone": "+1 555 0100", "type": None}],
        }
    ) == {
        "first_name": "Ada King",
        "last_name": "Lovelace",
        "job_title": "CTO",
        "emails": [{"address": "a@x.test", "label": "work"}],
        "phones": [{"number": "+1 555 0100", "label": None}],
    }
    # One word is a last name (convert.split_name, as every provider splits).
    assert contact_body({"name": "Cher"}) == {"first_name": None, "last_name": "Cher"}
    # ``company`` and ``deal_ids`` are not in the adapter's writable_fields: the core refuses them before this runs.
    assert "company" not in ContactsAdapter.writable_fields and "deal_ids" not in ContactsAdapter.writable_fields
    assert company_body(
        {
            "name": "Acme",
            "domains": ["acme.test"],
            "employees": 5,
            "emails": [{"email": "hi@acme.test"}],
            "address": {"city": "Lyon"},
        }
    ) == {
        "name": "Acme",
        "employee_count": 5,
        "domain": "acme.test",
        "email": "hi@acme.test",
        "address": {
            "line1": None,
            "line2": None,
            "city": "Lyon",
            "state": None,
            "state_code": None,
            "postal_code": None,
            "country": None,
            "country_code": None,
        },
    }
    with pytest.raises(ValidationError):
        company_body({"domains": ["a.test", "b.test"]})


def test_deal_crud_by_hand(server: SandboxServer, api: httpx2.Client) -> None:
    adapter = DealsAdapter(PROVIDER)
    created, sent = drive(
        adapter.create(
            ctx(server), {"name": "Hand made", "amount": Decimal("12.34"), "currency": "GBP", "stage": "negotiation"}
        ),
        api,
    )
    assert sent == 2  # GET /v1/pipelines to resolve the label, then POST
    assert (created.stage_id, created.stage, created.amount) == ("stg_sal_4", "Negotiation", Decimal("12.34"))
    updated, sent = drive(adapter.update(ctx(server), str(created.id), {"pipeline": "Renewals"}), api)
    assert (sent, updated.pipeline_id, updated.stage_id) == (2, "pip_renewals", "stg_ren_1")
    updated, sent = drive(adapter.update(ctx(server), str(created.id), {"stage": "Churned", "won_reason": None}), api)
    assert (sent, updated.stage) == (2, "Churned")
    _, sent = drive(adapter.delete(ctx(server), str(created.id)), api)
    assert sent == 1
    with pytest.raises(NotFoundError):
        drive(adapter.get(ctx(server), str(created.id)), api)


def test_unknown_stage_label_fails_before_writing(server: SandboxServer, api: httpx2.Client) -> None:
    before = len(server.data.deals)
    with pytest.raises(ValidationError) as caught:
        drive(DealsAdapter(PROVIDER).create(ctx(server), {"name": "x", "stage": "Imaginary"}), api)
    assert "Imaginary" in str(caught.value)
    assert server.count("POST", "/v1/deals") == 0
    assert len(server.data.deals) == before


def test_contact_and_company_crud_by_hand(server: SandboxServer, api: httpx2.Client) -> None:
    companies = CompaniesAdapter(PROVIDER)
    company, _ = drive(
        companies.create(
            ctx(server), {"name": "Hand Co", "domains": ["hand.test"], "metadata": [{"slug": "tier", "value": "gold"}]}
        ),
        api,
    )
    assert company.metadata == [Metadata(id="tier", slug="tier", value="gold")]
    contacts = ContactsAdapter(PROVIDER)
    contact, _ = drive(
        contacts.create(
            ctx(server),
            {"first_name": "Ada", "company_ids": [str(company.id)], "address": {"city": "Lyon", "country_code": "FR"}},
        ),
        api,
    )
    assert contact.company == "Hand Co"
    assert contact.address is not None and contact.address.city == "Lyon"
    contact, _ = drive(contacts.update(ctx(server), str(contact.id), {"last_name": "Lovelace"}), api)
    assert contact.name == "Ada Lovelace"
    request = next(contacts.delete(ctx(server), str(contact.id)))
    assert request == ProviderRequest("DELETE", f"/v1/contacts/{contact.id}")
    assert send(api, request).status == 204
