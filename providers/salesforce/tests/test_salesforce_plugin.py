"""The plugin's sans-I/O parts: packaging, the SOQL builder, classify on hand-made responses."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from importlib.metadata import entry_points

import pytest
import unified_sdk_salesforce
from unified_sdk_salesforce import SalesforceProvider, _soql

from unified_sdk._outcome import Category, HealthSignal
from unified_sdk.provider import ProviderResponse


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> ProviderResponse:
    return ProviderResponse(status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode())


def _error(status: int, code: str, message: str, fields: list[str] | None = None) -> ProviderResponse:
    return _response(status, [{"message": message, "errorCode": code, "fields": fields or []}])


def test_import_loads_neither_fake_nor_adapters() -> None:
    code = (
        "import sys, unified_sdk_salesforce; "
        "bad = [m for m in sys.modules if m.startswith(('unified_sdk_salesforce.fake', 'unified_sdk_salesforce.crm', "
        "'uvicorn', 'starlette'))]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_entry_point_and_public_names() -> None:
    (ep,) = [e for e in entry_points(group="unified_sdk.providers") if e.name == "salesforce"]
    assert ep.load() is SalesforceProvider
    assert unified_sdk_salesforce.__all__ == sorted(unified_sdk_salesforce.__all__)
    assert SalesforceProvider.name == "salesforce"
    provider = SalesforceProvider()
    for resource in SalesforceProvider.adapters:
        assert provider.adapter(resource) is not None


def test_quote_escapes_everything_documented() -> None:
    assert _soql.quote("O'Brien \\ x") == "'O\\'Brien \\\\ x'"
    assert _soql.quote('a"b\nc\td\re\bf\fg') == "'a\\\"b\\nc\\td\\re\\bf\\fg'"
    assert _soql.like_pattern("50%_off") == "'50\\%\\_off'"


def test_literals() -> None:
    assert _soql.literal(None) == "null"
    assert _soql.literal(True) == "true"
    assert _soql.literal(Decimal("1.50")) == "1.50"
    assert _soql.literal(datetime(2024, 5, 1, 14, 30, 15, 999999, tzinfo=timezone(timedelta(hours=2)))) == (
        "2024-05-01T12:30:15Z"
    )
    assert _soql.literal(datetime(2024, 5, 1)) == "2024-05-01T00:00:00Z"  # naive means UTC
    assert _soql.where("Id", "=", ["a'", "b"]) == "Id IN ('a\\'', 'b')"
    with pytest.raises(ValueError):
        _soql.where("Name) OR (Id", "=", "x")
    with pytest.raises(ValueError):
        _soql.where("Name", "; DROP", "x")
    with pytest.raises(TypeError):
        _soql.literal(object())
    assert _soql.select("Account", ["Id", "Name", "Id"], order_by=("Name DESC",), limit=3) == (
        "SELECT Id, Name FROM Account ORDER BY Name DESC LIMIT 3"
    )


@pytest.mark.parametrize(
    ("status", "code", "category"),
    [
        (401, "INVALID_SESSION_ID", Category.AUTHENTICATION),
        (403, "REQUEST_LIMIT_EXCEEDED", Category.RATE_LIMITED),
        (403, "INSUFFICIENT_ACCESS_OR_READONLY", Category.PERMISSION),
        (400, "INSUFFICIENT_ACCESS_OR_READONLY", Category.PERMISSION),
        (403, "SOMETHING_ELSE", Category.PERMISSION),
        (404, "NOT_FOUND", Category.NOT_FOUND),
        (400, "MALFORMED_QUERY", Category.VALIDATION),
        (400, "INVALID_FIELD", Category.VALIDATION),
        (400, "REQUIRED_FIELD_MISSING", Category.VALIDATION),
        (400, "DUPLICATE_VALUE", Category.CONFLICT),
        (503, "SERVER_UNAVAILABLE", Category.PROVIDER_ERROR),
        (500, "UNKNOWN_EXCEPTION", Category.PROVIDER_ERROR),
    ],
)
def test_classify_error_codes(status: int, code: str, category: Category) -> None:
    outcome = SalesforceProvider().classify(_error(status, code, "message"))
    assert outcome.category == category
    assert outcome.status == status and outcome.provider_code == code
    assert outcome.hint


def test_rate_limited_stays_healthy_and_is_never_retried() -> None:
    outcome = SalesforceProvider().classify(
        _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.").__class__(
            403,
            {"content-type": "application/json", "Sforce-Limit-Info": "api-usage=5001/5000"},
            b'[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]',
        )
    )
    assert outcome.health == HealthSignal.HEALTHY
    assert outcome.details == {"api_usage": 5000, "daily_limit": 5000, "limit": "daily_api_requests"}
    from unified_sdk._actions import ActionPolicy, ResponseAction

    decision = ActionPolicy().decide(
        outcome,
        provider="salesforce",
        connection_id=None,
        operation="crm.deals.list",
        provider_defaults=SalesforceProvider.response_actions,
    )
    assert decision.action == ResponseAction.FAIL


def test_classify_fields_and_ids() -> None:
    provider = SalesforceProvider()
    missing = provider.classify(_error(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]"))
    assert missing.details["fields"] == ["LastName"]
    explicit = provider.classify(_error(400, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable", ["IsWon"]))
    assert explicit.details["fields"] == ["IsWon"]
    duplicate = provider.classify(
        _error(
            400,
            "DUPLICATE_VALUE",
            "duplicate value found: Ext__c duplicates value on record with id: 001D000000IqhSLIAZ",
        )
    )
    assert duplicate.details["existing_id"] == "001D000000IqhSLIAZ"
    multiple = provider.classify(
        _response(300, ["/services/data/v62.0/sobjects/Account/001A", "/services/data/v62.0/sobjects/Account/001B"])
    )
    assert multiple.category == Category.CONFLICT and multiple.details["candidate_ids"] == ["001A", "001B"]
    html = provider.classify(ProviderResponse(502, {"content-type": "text/html"}, b"<html>bad gateway</html>"))
    assert html.category == Category.PROVIDER_ERROR
    assert provider.classify(_response(204, None)).ok


@pytest.mark.parametrize(
    ("description", "needle"),
    [
        ("expired access/refresh token", "re-authorize"),
        ("inactive user", "active user"),
        ("something new", "re-authorize"),
    ],
)
def test_token_errors_are_authentication(description: str, needle: str) -> None:
    body = {"error": "invalid_grant", "error_description": description}
    for outcome in (
        SalesforceProvider().classify_token_error(_response(400, body)),
        SalesforceProvider().classify(_response(400, body)),
    ):
        assert outcome.category == Category.AUTHENTICATION
        assert outcome.provider_code == "invalid_grant" and outcome.provider_message == description
        assert needle in (outcome.hint or "")


def test_parse_rate_limit() -> None:
    provider = SalesforceProvider()
    limit = provider.parse_rate_limit({"sforce-limit-info": "api-usage=18/5000; api-bursts=1/750"})
    assert limit is not None and (limit.remaining, limit.limit) == (4982, 5000)
    assert provider.parse_rate_limit({}) is None
    assert provider.parse_rate_limit({"sforce-limit-info": "garbage"}) is None


def test_base_url_from_token() -> None:
    token = {"access_token": "x", "instance_url": "https://acme.my.salesforce.com/"}
    assert SalesforceProvider().base_url_from_token(token) == "https://acme.my.salesforce.com"
    assert SalesforceProvider().base_url_from_token({}) is None
    assert SalesforceProvider.oauth is not None and SalesforceProvider.oauth.expires_in_default is None
    assert datetime.now(UTC)  # keep the import honest for readers of the datetime tests
