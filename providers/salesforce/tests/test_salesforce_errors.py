"""Every Salesforce error the issue names, over real HTTP, with its unified category and hint."""

from __future__ import annotations

import pytest
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client, Connection
from unified_sdk.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    ValidationError,
)

DEAL = {"name": "Big deal", "stage": "Prospecting", "closing_at": "2025-03-31T00:00:00Z", "amount": "1200.50"}


def _attempts(client: Client, conn: Connection, fragment: str) -> list[int]:
    return [
        log.status or 0 for log in reversed(client.logs.list(connection_id=conn.id, limit=500)) if fragment in log.url
    ]


def test_invalid_session_refreshes_once_then_retries_once(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    sf.inject(status=401, path="/services/data/v62.0/limits")
    client.connections.check(conn.id)
    assert sf.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert _attempts(client, conn, "/limits")[-2:] == [401, 200]


def test_invalid_session_after_refresh_is_authentication(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    sf.inject(status=401, times=2, path="/services/data/v62.0/limits")
    with pytest.raises(AuthenticationError) as info:
        client.connections.check(conn.id)
    assert info.value.provider_code == "INVALID_SESSION_ID"
    assert info.value.status == 401
    assert "session expired" in (info.value.hint or "")
    assert sf.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert client.connections.get(conn.id).health == "unhealthy_now"


def test_request_limit_exceeded_is_rate_limited_not_retried(
    client: Client, sf: FakeSalesforce, conn: Connection
) -> None:
    sf.seed(deals=3)
    sf.daily_limit = sf.api_usage  # the org's allocation is spent
    with pytest.raises(RateLimitedError) as info:
        client.crm.deals.list(connection_id=conn.id)
    error = info.value
    assert error.status == 403 and error.provider_code == "REQUEST_LIMIT_EXCEEDED"
    assert error.provider_message == "TotalRequests Limit exceeded."
    assert "24-hour" in (error.hint or "") and "allocation" in (error.hint or "")
    assert error.details["daily_limit"] == sf.daily_limit
    assert not isinstance(error, PermissionDeniedError)
    # Not retried: one request, answered 403.
    assert _attempts(client, conn, "/describe") == [403]
    # The connection stays healthy: the org is fine, only its budget is spent.
    assert client.connections.get(conn.id).health == "healthy"
    sf.daily_limit = 1_000_000
    assert len(client.crm.deals.list(connection_id=conn.id).data) == 3


def test_missing_object_permission_is_permission_at_call_time(
    client: Client, sf: FakeSalesforce, conn: Connection
) -> None:
    sf.seed(companies=1)
    sf.deny("Account", "create")
    with pytest.raises(PermissionDeniedError) as info:
        client.crm.companies.create(connection_id=conn.id, data={"name": "Acme"})
    assert info.value.provider_code == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert "permission sets" in (info.value.hint or "")
    # Reading still works: Salesforce decides per object and operation, not per OAuth scope.
    assert len(client.crm.companies.list(connection_id=conn.id).data) == 1


def test_unreadable_object_is_permission(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    sf.deny("Opportunity", "read")
    with pytest.raises(PermissionDeniedError) as info:
        client.crm.deals.list(connection_id=conn.id)
    assert "Opportunity" in info.value.message
    assert "object permission" in (info.value.hint or "")


def test_unreadable_object_in_soql_is_permission(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    client.connections.update(conn.id, config={"describe": False})
    sf.deny("Opportunity", "read")
    with pytest.raises(PermissionDeniedError) as info:
        client.crm.deals.list(connection_id=conn.id)
    assert info.value.provider_code == "INVALID_TYPE"
    assert info.value.status == 400


def test_not_found_and_deleted(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    made = sf.seed(deals=1)["Opportunity"][0]
    missing = made[:3] + "9" * 12
    with pytest.raises(NotFoundError) as info:
        client.crm.deals.get(connection_id=conn.id, id=missing)
    assert info.value.provider_code == "NOT_FOUND" and info.value.status == 404
    client.crm.deals.delete(connection_id=conn.id, id=made)
    with pytest.raises(NotFoundError) as gone:
        client.crm.deals.get(connection_id=conn.id, id=made)
    assert gone.value.provider_code == "ENTITY_IS_DELETED"


def test_malformed_query_is_validation(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    with pytest.raises(ValidationError) as info:
        client.passthrough.request(conn.id, "GET", "/services/data/v62.0/query", params={"q": "SELECT Id FROM"})
    assert info.value.provider_code == "MALFORMED_QUERY" and info.value.status == 400
    assert "not valid" in (info.value.hint or "")


def test_invalid_field_is_validation_naming_it(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    with pytest.raises(ValidationError) as info:
        client.crm.deals.list(connection_id=conn.id, fields=["Nope__c"])
    assert info.value.provider_code == "INVALID_FIELD"
    assert info.value.details["fields"] == ["Nope__c"]
    assert (info.value.hint or "").endswith(": Nope__c")


# REQUIRED_FIELD_MISSING on a write: test_salesforce_filters.test_required_fields_are_named_in_unified_terms


def test_duplicate_value_is_conflict_with_the_existing_id(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    existing = sf.seed(companies=1)["Account"][0]
    with pytest.raises(ConflictError) as info:
        client.crm.companies.create(
            connection_id=conn.id,
            data={"name": "Copy", "metadata": [{"slug": "External_Id__c", "value": "EXT-00001"}]},
        )
    assert info.value.provider_code == "DUPLICATE_VALUE"
    assert info.value.details["existing_id"] == existing
    assert existing in (info.value.hint or "")


def test_multiple_choices_is_conflict_with_candidate_ids(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    contacts = sf.seed(contacts=3)["Contact"]
    # Seeded contacts 2 and 3 share Legacy_Id__c LEGACY-00001 (an external id that is not unique).
    with pytest.raises(ConflictError) as info:
        client.passthrough.request(conn.id, "GET", "/services/data/v62.0/sobjects/Contact/Legacy_Id__c/LEGACY-00001")
    assert info.value.status == 300
    assert info.value.details["candidate_ids"] == contacts[1:]
    assert "candidate" in (info.value.hint or "")
    single = client.passthrough.request(
        conn.id, "GET", "/services/data/v62.0/sobjects/Contact/Legacy_Id__c/LEGACY-00000"
    )
    assert single is not None and single.json()["Id"] == contacts[0]


def test_server_unavailable_is_provider_error_after_retries(
    client: Client, sf: FakeSalesforce, conn: Connection
) -> None:
    sf.inject(status=503, times=3, path="/services/data/v62.0/limits")
    with pytest.raises(ProviderError) as info:
        client.connections.check(conn.id)
    assert info.value.provider_code == "SERVER_UNAVAILABLE"
    assert _attempts(client, conn, "/limits")[-3:] == [503, 503, 503]
    sf.inject(status=503, times=1, path="/services/data/v62.0/limits")
    client.connections.check(conn.id)  # one 503, then the retry succeeds


def test_expired_refresh_token_asks_to_reauthorize(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    sf.revoke_all_tokens()
    with pytest.raises(AuthenticationError) as info:
        client.connections.check(conn.id)
    assert info.value.provider_code == "invalid_grant"
    assert info.value.provider_message == "expired access/refresh token"
    assert "re-authorize" in (info.value.hint or "")
    assert client.connections.get(conn.id).health == "unhealthy_now"


def test_inactive_user_asks_to_reauthorize_with_an_active_user(
    client: Client, sf: FakeSalesforce, conn: Connection
) -> None:
    sf.deactivate_user()
    with pytest.raises(AuthenticationError) as info:
        client.connections.check(conn.id)
    assert info.value.provider_message == "inactive user"
    assert "active user" in (info.value.hint or "")
