"""End to end through ``unified_sdk.Client``/``AsyncClient`` against the sandbox server."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sandbox_testkit import REDIRECT, configure_oauth, connect_api_key, connect_oauth, new_client
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import AsyncClient, Client, Connection
from unified_sdk.errors import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    ValidationError,
)
from unified_sdk.models import Deal
from unified_sdk.testing import authorize_async, set_jitter

# -- listing --------------------------------------------------------------------------------------


def test_listing_10000_deals(tmp_path: Path) -> None:
    with SandboxServer(deals=10_000, contacts=50, companies=10) as server, new_client(tmp_path) as client:
        conn = connect_api_key(client, server)
        ids = [d.id for d in client.crm.deals.list(connection_id=conn.id, limit=100)]
        assert len(ids) == 10_000 == len(set(ids))
        assert server.count("GET", "/v1/deals") == 100


def test_listing_pages_and_other_resources(client: Client, server: SandboxServer, conn: Connection) -> None:
    page = client.crm.deals.list(connection_id=conn.id, limit=25)
    assert len(page.data) == 25 and page.next_cursor is not None
    assert all(isinstance(d, Deal) for d in page.data)
    assert len(list(client.crm.contacts.list(connection_id=conn.id, limit=15))) == 40
    assert len(list(client.crm.companies.list(connection_id=conn.id))) == 15
    pipelines = client.crm.pipelines.list(connection_id=conn.id).data
    assert [p.name for p in pipelines] == ["Sales", "Renewals"]
    assert [len(p.stages or []) for p in pipelines] == [6, 5]
    assert len(client.crm.users.list(connection_id=conn.id).data) == 12


async def test_async_listing_and_crud(aclient: AsyncClient, server: SandboxServer) -> None:
    conn = await aclient.connections.create(
        provider="sandbox", credentials={"api_key": server.api_key}, config=server.config
    )
    page = await aclient.crm.deals.list(connection_id=conn.id, limit=25)
    ids = [d.id async for d in page]
    assert len(ids) == 60 == len(set(ids))
    created = await aclient.crm.contacts.create(connection_id=conn.id, data={"name": "Grace Hopper"})
    assert created is not None and (created.first_name, created.last_name) == ("Grace", "Hopper")
    await aclient.crm.contacts.delete(connection_id=conn.id, id=str(created.id))
    with pytest.raises(NotFoundError):
        await aclient.crm.contacts.get(connection_id=conn.id, id=str(created.id))


# -- CRUD and the errors a user sees ----------------------------------------------------------------


def test_deal_crud(client: Client, server: SandboxServer, conn: Connection) -> None:
    contact = next(iter(server.data.contacts.records))
    deal = client.crm.deals.create(
        connection_id=conn.id,
        data={
            "name": "Expansion",
            "amount": "25000.10",
            "currency": "USD",
            "stage": "Demo",
            "contact_ids": [contact],
            "tags": ["upsell"],
            "metadata": [{"slug": "region", "value": "NA"}],
        },
    )
    assert deal is not None
    assert (deal.amount, deal.stage, deal.pipeline) == (Decimal("25000.10"), "Demo", "Sales")
    assert server.data.deals.records[str(deal.id)]["value"] == {"amount": "25000.10", "currency": "USD"}
    fetched = client.crm.deals.get(connection_id=conn.id, id=str(deal.id))
    assert fetched == deal
    updated = client.crm.deals.update(connection_id=conn.id, id=str(deal.id), data={"probability": 70})
    assert updated is not None and updated.probability == 70.0
    assert server.data.deals.records[str(deal.id)]["win_probability"] == 0.7
    client.crm.deals.delete(connection_id=conn.id, id=str(deal.id))
    with pytest.raises(NotFoundError) as caught:
        client.crm.deals.get(connection_id=conn.id, id=str(deal.id))
    error = caught.value
    assert (error.status, error.provider_code, error.provider) == (404, "not_found", "sandbox")
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert error.log_id is not None


def test_validation_and_conflict_errors(client: Client, server: SandboxServer, conn: Connection) -> None:
    with pytest.raises(ValidationError) as caught:
        client.crm.deals.create(connection_id=conn.id, data={"currency": "US Dollars"})
    assert caught.value.status == 422
    assert [f["field"] for f in caught.value.details["fields"]] == ["title", "value.currency"]
    domain = next(iter(server.data.companies.records.values()))["domain"]
    with pytest.raises(ConflictError) as conflict:
        client.crm.companies.create(connection_id=conn.id, data={"name": "Copy", "domains": [domain]})
    assert conflict.value.details["existing_id"] in server.data.companies.records
    # Refused by the plugin before anything is sent.
    sent = server.count()
    with pytest.raises(ValidationError):
        client.crm.deals.create(connection_id=conn.id, data={"name": "x", "company_ids": ["co_a", "co_b"]})
    assert server.count() == sent


def test_bad_api_key_marks_the_connection_unhealthy(client: Client, server: SandboxServer) -> None:
    conn = client.connections.create(
        provider="sandbox", credentials={"api_key": "sk_sandbox_wrong"}, config=server.config
    )
    with pytest.raises(AuthenticationError) as caught:
        client.crm.deals.list(connection_id=conn.id)
    assert caught.value.provider_code == "invalid_api_key"
    assert "sk_sandbox_wrong" not in str(caught.value) + repr(caught.value)
    assert server.count("GET", "/v1/deals") == 1  # an API key cannot be refreshed: no retry
    assert client.connections.get(conn.id).health == "unhealthy"


def test_health_check(client: Client, server: SandboxServer, conn: Connection) -> None:
    assert client.connections.check(conn.id).health == "healthy"
    assert server.requests[-1].path == "/v1/me"


def test_passthrough(client: Client, server: SandboxServer, conn: Connection) -> None:
    response = client.passthrough.request(conn.id, "GET", "/v1/me")
    assert response is not None and response.status == 200
    assert response.json()["account"]["id"] == "acc_sandbox"
    with pytest.raises(NotFoundError) as caught:
        client.passthrough.request(conn.id, "GET", "/v1/invoices")
    assert caught.value.provider_code == "route_not_found"


def test_logs_are_redacted(client: Client, server: SandboxServer, conn: Connection) -> None:
    client.crm.deals.list(connection_id=conn.id, limit=5)
    logs = client.logs.list(connection_id=conn.id)
    assert len(logs) == 1
    log = logs[0]
    assert (log.status, log.operation, log.category) == (200, "crm.deals.list", None)
    assert log.provider_request_id is not None and log.provider_request_id.startswith("req_")
    assert server.api_key not in str(log.request_headers) + (log.request_body or "") + log.url


# -- retries and faults ------------------------------------------------------------------------------


def test_rate_limited_then_success(client: Client, server: SandboxServer, conn: Connection) -> None:
    server.inject(status=429, times=2, retry_after=0)
    assert len(client.crm.deals.list(connection_id=conn.id, limit=10).data) == 10
    assert server.count("GET", "/v1/deals") == 3
    actions = [log.action for log in reversed(client.logs.list(connection_id=conn.id))]
    assert actions == ["wait_and_retry", "wait_and_retry", "none"]


def test_rate_limit_wait_longer_than_allowed_fails(client: Client, server: SandboxServer, conn: Connection) -> None:
    server.inject(status=429, times=1, retry_after=3600)
    with pytest.raises(RateLimitedError) as caught:
        client.crm.deals.list(connection_id=conn.id)
    assert caught.value.details["retry_after"] == 3600.0
    assert server.count("GET", "/v1/deals") == 1


def test_server_errors_are_retried_then_fail(client: Client, server: SandboxServer, conn: Connection) -> None:
    server.inject(status=503, times=10)
    with pytest.raises(ProviderError) as caught:
        client.crm.deals.get(connection_id=conn.id, id="dl_any")
    assert caught.value.provider_code == "service_unavailable"
    assert server.count("GET", "/v1/deals/dl_any") == 3  # the first try and two retries


def test_posts_are_retried_safely_with_an_idempotency_key(
    client: Client, server: SandboxServer, conn: Connection
) -> None:
    before = len(server.data.deals)
    server.inject(status=500, times=1)
    deal = client.crm.deals.create(connection_id=conn.id, data={"name": "Exactly once"})
    assert deal is not None
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 2
    assert posts[0].idempotency_key is not None and posts[0].idempotency_key == posts[1].idempotency_key
    assert len(server.data.deals) == before + 1


def test_html_and_malformed_bodies(client: Client, server: SandboxServer, conn: Connection) -> None:
    server.inject(fault="html", times=3)
    with pytest.raises(ProviderError) as caught:
        client.crm.deals.list(connection_id=conn.id)
    assert caught.value.hint is not None and "HTML" in caught.value.hint
    server.inject(fault="malformed_json", times=3)
    with pytest.raises(ProviderError):
        client.crm.deals.list(connection_id=conn.id)


def test_connection_reset_is_retried(client: Client, server: SandboxServer, conn: Connection) -> None:
    server.inject(fault="reset", times=1)
    assert len(client.crm.deals.list(connection_id=conn.id, limit=5).data) == 5
    assert server.count("GET", "/v1/deals") == 2
    server.inject(fault="reset", times=3)
    with pytest.raises(NetworkError):
        client.crm.deals.list(connection_id=conn.id, limit=5)


def test_timeouts(tmp_path: Path, server: SandboxServer) -> None:
    server.faults.timeout_delay = 1.0
    server.inject(fault="timeout", times=3)
    client = Client(database_url=f"sqlite:///{tmp_path / 't.db'}", timeout=0.2)
    set_jitter(client, lambda: 0.0)
    with client:
        conn = connect_api_key(client, server)
        with pytest.raises(ProviderTimeoutError):
            client.crm.deals.list(connection_id=conn.id)
    # The timeout bounds the whole call: the attempt that timed out used it all, so it is not retried.
    assert server.count("GET", "/v1/deals") == 1


# -- OAuth ---------------------------------------------------------------------------------------------


def test_oauth_connection_lifecycle(client: Client, server: SandboxServer) -> None:
    configure_oauth(client, server)
    request = client.auth.authorization_url("sandbox", scopes=["crm_deal_read", "crm_deal_write"])
    assert request.url.startswith(server.url + "/oauth/authorize?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    assert params["scope"].split(" ") == ["deals:read", "deals:write", "pipelines:read"]
    assert params["code_challenge_method"] == "S256"
    assert params["client_id"] == server.oauth_client_id
    conn = client.auth.complete(server.approve(request.url))
    assert server.token_requests == {"authorization_code": 1}
    assert client.connections.get(conn.id).health == "healthy"
    assert len(client.crm.deals.list(connection_id=conn.id, limit=5).data) == 5
    # An expired access token is refreshed once, and the call goes through.
    server.expire_access_tokens()
    assert len(client.crm.deals.list(connection_id=conn.id, limit=5).data) == 5
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert len(client.crm.deals.list(connection_id=conn.id, limit=5).data) == 5
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}


def test_oauth_optional_scope_not_granted(client: Client, server: SandboxServer) -> None:
    conn = connect_oauth(client, server, ["crm_deal_read"], grant_scopes=["deals:read"])
    assert len(client.crm.deals.list(connection_id=conn.id, limit=3).data) == 3
    with pytest.raises(PermissionDeniedError):
        client.crm.pipelines.list(connection_id=conn.id)


def test_oauth_missing_provider_scope_is_reported(client: Client, server: SandboxServer) -> None:
    conn = connect_oauth(client, server, ["crm_deal_read", "crm_deal_write"], grant_scopes=["deals:read"])
    # The core knows from the token's scopes that crm_deal_write was not granted: nothing is sent.
    with pytest.raises(PermissionDeniedError) as caught:
        client.crm.deals.create(connection_id=conn.id, data={"name": "x"})
    assert caught.value.hint is not None and "crm_deal_write" in caught.value.hint
    assert server.count("POST", "/v1/deals") == 0
    # A raw request reaches the sandbox, whose 403 names the missing sandbox scope.
    with pytest.raises(PermissionDeniedError) as denied:
        client.passthrough.request(conn.id, "POST", "/v1/deals", json={"title": "x"})
    assert denied.value.provider_code == "insufficient_scope"
    assert denied.value.details["missing_scopes"] == ["deals:write"]
    assert denied.value.hint == "missing sandbox scopes: deals:write; re-authorize the connection with them"


def test_oauth_denied(client: Client, server: SandboxServer) -> None:
    with pytest.raises(AuthorizationError):
        connect_oauth(client, server, ["crm_deal_read"], deny=True)
    assert server.token_requests == {}


def test_revoked_refresh_token_needs_reauthorization(client: Client, server: SandboxServer) -> None:
    conn = connect_oauth(client, server, ["crm_deal_read"])
    server.oauth.revoke_all()
    with pytest.raises(AuthenticationError):
        client.crm.deals.list(connection_id=conn.id)
    assert server.token_requests.get("refresh_token") == 1
    assert client.connections.get(conn.id).health == "unhealthy_now"


# -- the same behaviours through AsyncClient ----------------------------------------------------------


async def _async_api_key(aclient: AsyncClient, server: SandboxServer) -> Connection:
    return await aclient.connections.create(
        provider="sandbox", credentials={"api_key": server.api_key}, config=server.config
    )


async def test_async_errors_and_retries(aclient: AsyncClient, server: SandboxServer) -> None:
    conn = await _async_api_key(aclient, server)
    server.inject(status=429, times=1, retry_after=0)
    page = await aclient.crm.deals.list(connection_id=conn.id, limit=10)
    assert len(page.data) == 10
    assert server.count("GET", "/v1/deals") == 2
    with pytest.raises(ValidationError) as caught:
        await aclient.crm.deals.create(connection_id=conn.id, data={"amount": "1"})
    assert caught.value.provider_code == "validation_failed"
    server.inject(status=500, times=1)
    created = await aclient.crm.deals.create(connection_id=conn.id, data={"name": "Async once"})
    assert created is not None
    assert [d["title"] for d in server.data.deals.records.values()].count("Async once") == 1


async def test_async_oauth_refresh(aclient: AsyncClient, server: SandboxServer) -> None:
    conn = await authorize_async(aclient, server, "sandbox", ["crm_deal_read"], redirect_uri=REDIRECT)
    server.expire_access_tokens()
    page = await aclient.crm.deals.list(connection_id=conn.id, limit=3)
    assert len(page.data) == 3
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
