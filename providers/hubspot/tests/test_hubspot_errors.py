"""Every HubSpot error class: the translation table, then each one over real HTTP through the client."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hubspot_testkit import connect_api_key
from unified_sdk_hubspot import HubSpotProvider
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import Category, Client, Connection, HealthSignal
from unified_sdk.errors import (
    AuthenticationError,
    ConflictError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    ValidationError,
)
from unified_sdk.provider import ProviderResponse

PROVIDER = HubSpotProvider()


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> ProviderResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return ProviderResponse(status, {"content-type": "application/json", **(headers or {})}, raw)


# -- the translation table ------------------------------------------------------------------------------------


def test_expired_authentication() -> None:
    out = PROVIDER.classify(
        response(
            401,
            {
                "status": "error",
                "message": "The OAuth token used to make this call expired 7 second(s) ago.",
                "correlationId": "c-401",
                "category": "EXPIRED_AUTHENTICATION",
            },
        )
    )
    assert out.category == Category.AUTHENTICATION
    assert out.health == HealthSignal.UNHEALTHY
    assert out.provider_code == "EXPIRED_AUTHENTICATION"
    assert out.request_id == "c-401"
    assert out.details["expired"] is True
    assert out.hint is not None and "refreshed once" in out.hint


def test_missing_scopes_names_hubspot_and_unified_scopes() -> None:
    out = PROVIDER.classify(
        response(
            403,
            {
                "status": "error",
                "message": "This app hasn't been granted all required scopes to make this call.",
                "correlationId": "c-403",
                "errors": [
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredScopes": ["crm.objects.deals.read"]},
                    }
                ],
                "links": {"scopes": "https://developers.hubspot.com/scopes"},
                "category": "MISSING_SCOPES",
            },
        )
    )
    assert out.category == Category.PERMISSION
    assert out.details["missing_scopes"] == ["crm.objects.deals.read"]
    assert out.details["unified_scopes"] == ["crm_deal_read", "crm_pipeline_read"]
    assert out.hint == (
        "missing HubSpot scopes: crm.objects.deals.read; "
        "request unified scopes crm_deal_read, crm_pipeline_read and re-authorize"
    )


def test_conflict_carries_the_existing_id() -> None:
    out = PROVIDER.classify(
        response(
            409,
            {
                "status": "error",
                "message": "Contact already exists. Existing ID: 37765128953",
                "correlationId": "c-409",
                "category": "CONFLICT",
            },
        )
    )
    assert out.category == Category.CONFLICT
    assert out.details == {"existing_id": "37765128953"}
    assert out.hint is not None and "37765128953" in out.hint


def test_validation_error_names_the_field_from_errors_in() -> None:
    out = PROVIDER.classify(
        response(
            400,
            {
                "status": "error",
                "message": "Some detail for a human.",
                "errors": [{"message": "more detail", "in": "name"}],
                "category": "VALIDATION_ERROR",
                "correlationId": "c-400",
            },
        )
    )
    assert out.category == Category.VALIDATION
    assert out.details["fields"] == ["name"]
    assert out.hint == "HubSpot rejected field(s) name; fix their values"


def test_validation_error_names_the_property_from_the_embedded_results() -> None:
    problems = [
        {
            "isValid": False,
            "message": "x was not one of the allowed options",
            "error": "INVALID_OPTION",
            "name": "dealstage",
        }
    ]
    out = PROVIDER.classify(
        response(
            400,
            {
                "status": "error",
                "message": "Property values were not valid: " + json.dumps(problems),
                "correlationId": "c-400",
                "category": "VALIDATION_ERROR",
            },
        )
    )
    assert out.details["fields"] == ["dealstage"]
    assert out.details["problems"] == ["INVALID_OPTION"]


@pytest.mark.parametrize(
    ("policy", "headers", "wait"),
    [
        ("TEN_SECONDLY_ROLLING", {"x-hubspot-ratelimit-interval-milliseconds": "10000"}, 10.0),
        ("TEN_SECONDLY_ROLLING", {"retry-after": "3"}, 3.0),
        ("SECONDLY", {}, 1.0),
    ],
)
def test_rate_limits_by_policy(policy: str, headers: dict[str, str], wait: float) -> None:
    out = PROVIDER.classify(
        response(
            429,
            {
                "status": "error",
                "message": f"You have reached your {policy.lower()} limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": "c-429",
                "policyName": policy,
                "groupName": "publicapi:x",
            },
            headers,
        )
    )
    assert out.category == Category.RATE_LIMITED
    assert out.health == HealthSignal.HEALTHY
    assert out.provider_code == policy
    assert out.retry_after == wait
    assert out.details == {"policy": policy, "daily": False}


def test_daily_limit_waits_until_the_reset() -> None:
    from unified_sdk_hubspot import _errors

    body = {
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "c-429",
        "policyName": "DAILY",
    }
    now = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    out = _errors.classify(response(429, body), PROVIDER.scopes, PROVIDER.classify, now=now)
    assert out.provider_code == "DAILY"
    assert out.retry_after == 2 * 3600.0
    # Longer than the provider's max_wait: the default action fails instead of waiting.
    assert out.retry_after > PROVIDER.response_actions[Category.RATE_LIMITED].max_wait


def test_server_errors_and_html_pages() -> None:
    out = PROVIDER.classify(
        response(
            500,
            {"status": "error", "message": "Internal Error", "correlationId": "c-500", "category": "INTERNAL_ERROR"},
        )
    )
    assert out.category == Category.PROVIDER_ERROR and out.request_id == "c-500"
    page = ProviderResponse(502, {"content-type": "text/html"}, b"<!DOCTYPE html><html>Bad Gateway</html>")
    out = PROVIDER.classify(page)
    assert out.category == Category.PROVIDER_ERROR and out.hint is not None and "HTML" in out.hint


def test_bad_refresh_token_means_reauthorize() -> None:
    out = PROVIDER.classify_token_error(
        response(
            400,
            {
                "status": "BAD_REFRESH_TOKEN",
                "message": "missing or invalid refresh token",
                "correlationId": "c-rt",
            },
        )
    )
    assert out.category == Category.AUTHENTICATION
    assert out.provider_code == "BAD_REFRESH_TOKEN"
    assert out.details["reauthorize"] is True
    assert out.hint is not None and "re-authorize" in out.hint


def test_parse_rate_limit_picks_the_tightest_window() -> None:
    limit = PROVIDER.parse_rate_limit(
        {
            "x-hubspot-ratelimit-max": "100",
            "x-hubspot-ratelimit-remaining": "3",
            "x-hubspot-ratelimit-interval-milliseconds": "10000",
            "x-hubspot-ratelimit-daily": "500000",
            "x-hubspot-ratelimit-daily-remaining": "499000",
        }
    )
    assert limit is not None
    assert (limit.remaining, limit.limit, limit.reset_after, limit.policy) == (3, 100, 10.0, "TEN_SECONDLY_ROLLING")
    daily = PROVIDER.parse_rate_limit(
        {
            "x-hubspot-ratelimit-max": "100",
            "x-hubspot-ratelimit-remaining": "90",
            "x-hubspot-ratelimit-daily": "500000",
            "x-hubspot-ratelimit-daily-remaining": "0",
        }
    )
    assert daily is not None and daily.policy == "DAILY" and daily.remaining == 0
    assert PROVIDER.parse_rate_limit({"content-type": "application/json"}) is None


# -- over real HTTP, through the client ---------------------------------------------------------------------------


def test_invalid_token_is_authentication(client: Client, hubspot: FakeHubSpot) -> None:
    conn = connect_api_key(client, hubspot, api_key="pat-na1-not-a-real-token")
    with pytest.raises(AuthenticationError) as info:
        client.crm.deals.list(connection_id=conn.id)
    err = info.value
    assert err.status == 401 and err.provider_code == "INVALID_AUTHENTICATION"
    assert err.hint is not None and "re-authorize" in err.hint
    assert "pat-na1-not-a-real-token" not in str(err) + repr(err)
    assert client.connections.get(conn.id).health.value == "unhealthy"


def test_missing_scopes_through_the_client(client: Client, hubspot: FakeHubSpot) -> None:
    token = hubspot.private_app_token(["crm.objects.contacts.read"])
    conn = connect_api_key(client, hubspot, api_key=token)
    with pytest.raises(PermissionDeniedError) as info:
        client.crm.deals.list(connection_id=conn.id)
    err = info.value
    assert err.details["missing_scopes"] == ["crm.objects.deals.read"]
    assert "crm_deal_read" in (err.hint or "") and "crm.objects.deals.read" in (err.hint or "")
    assert err.request_id is not None
    log = client.logs.list(connection_id=conn.id)[0]
    assert log.status == 403 and log.provider_request_id == err.request_id


def test_conflict_through_the_client(client: Client, conn: Connection, hubspot: FakeHubSpot) -> None:
    first = client.crm.contacts.create(connection_id=conn.id, data={"emails": [{"email": "dup@example.com"}]})
    assert first is not None
    with pytest.raises(ConflictError) as info:
        client.crm.contacts.create(connection_id=conn.id, data={"emails": [{"email": "DUP@example.com"}]})
    assert info.value.details["existing_id"] == first.id
    assert info.value.status == 409


def test_validation_through_the_client(client: Client, conn: Connection) -> None:
    with pytest.raises(ValidationError) as info:
        client.crm.deals.create(connection_id=conn.id, data={"name": "x", "stage_id": "no-such-stage"})
    assert info.value.details["fields"] == ["dealstage"]
    assert info.value.hint == "HubSpot rejected field(s) dealstage; fix their values"
    with pytest.raises(ValidationError) as info:
        client.crm.deals.create(
            connection_id=conn.id, data={"name": "x", "metadata": [{"slug": "not_a_property", "value": "1"}]}
        )
    assert info.value.details["fields"] == ["not_a_property"]
    assert info.value.details["problems"] == ["PROPERTY_DOESNT_EXIST"]


def test_ten_secondly_429_is_waited_out_and_retried(client: Client, conn: Connection, hubspot: FakeHubSpot) -> None:
    hubspot.seed(deals=5)
    hubspot.inject_rate_limit("TEN_SECONDLY_ROLLING", times=2, retry_after=0, path="/crm/v3/objects")
    page = client.crm.deals.list(connection_id=conn.id)
    assert len(page.data) == 5
    statuses = [(log.status, log.action) for log in reversed(client.logs.list(connection_id=conn.id))]
    assert statuses[:3] == [(429, "wait_and_retry"), (429, "wait_and_retry"), (200, "none")]


def test_daily_limit_is_not_retried(client: Client, conn: Connection, hubspot: FakeHubSpot) -> None:
    hubspot.inject_rate_limit("DAILY", times=3)
    with pytest.raises(RateLimitedError) as info:
        client.crm.deals.list(connection_id=conn.id)
    err = info.value
    assert err.provider_code == "DAILY"
    assert err.hint is not None and "daily" in err.hint
    assert hubspot.faults.pending == 2  # one request, no retry
    assert client.connections.get(conn.id).health.value != "unhealthy"


def test_server_errors_are_retried_then_raised(client: Client, conn: Connection, hubspot: FakeHubSpot) -> None:
    hubspot.seed(deals=3)
    hubspot.inject(status=502, times=1)
    assert len(client.crm.deals.list(connection_id=conn.id).data) == 3
    hubspot.inject(status=500, times=3, path="/crm/v3/objects/deals")
    with pytest.raises(ProviderError) as info:
        client.crm.deals.list(connection_id=conn.id)
    assert info.value.status == 500 and info.value.request_id is not None
    assert hubspot.faults.pending == 0


def test_health_check_proves_the_token(client: Client, hubspot: FakeHubSpot) -> None:
    # account-info needs no CRM scope: a token with none is healthy.
    good = connect_api_key(client, hubspot, api_key=hubspot.private_app_token([]))
    assert client.connections.check(good.id).health.value == "healthy"
    bad = connect_api_key(client, hubspot, api_key="pat-na1-revoked")
    with pytest.raises(AuthenticationError):
        client.connections.check(bad.id)
    assert client.connections.get(bad.id).health.value == "unhealthy"


async def test_async_errors(aclient: Any, hubspot: FakeHubSpot) -> None:
    token = hubspot.private_app_token(["crm.objects.contacts.read"])
    conn = await aclient.connections.create(provider="hubspot", credentials={"api_key": token}, config=hubspot.config)
    with pytest.raises(PermissionDeniedError) as info:
        await aclient.crm.deals.list(connection_id=conn.id)
    assert info.value.details["unified_scopes"] == ["crm_deal_read", "crm_pipeline_read"]
    hubspot.inject_rate_limit("DAILY")
    with pytest.raises(RateLimitedError) as limited:
        await aclient.crm.contacts.list(connection_id=conn.id)
    assert limited.value.provider_code == "DAILY"
