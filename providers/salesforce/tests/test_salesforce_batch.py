"""Batch writes through sObject Collections (``/composite/sobjects``): 200 records a request, read back by one query."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sf_testkit import ALL_SCOPES, REDIRECT_URI, new_client
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import AsyncClient, Client, Connection
from unified_sdk.errors import NotFoundError, RateLimitedError, ValidationError
from unified_sdk.testing import authorize_async

CLOSE = datetime(2025, 6, 30, tzinfo=UTC)
COLLECTION = "/composite/sobjects"


def _deal(i: int) -> dict[str, Any]:
    return {"name": f"Batch {i}", "stage_id": "Prospecting", "closing_at": CLOSE}


def _sent(sf: FakeSalesforce, method: str, suffix: str) -> int:
    return sum(1 for m, path in sf.requests if m == method and path.endswith(suffix))


def test_a_thousand_deals_take_five_collection_requests(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    # One request per record would need 1,000 calls; the org has 30 left, so only batches fit.
    sf.daily_limit = sf.api_usage + 30
    before = len(sf.requests)
    result = client.crm.deals.create_many(connection_id=conn.id, data=[_deal(i) for i in range(1000)])

    assert result.failed == [] and len(result.succeeded) == 1000
    assert [d.name for d in result.records] == [f"Batch {i}" for i in range(1000)]  # input order
    assert all(d.id is not None and d.stage_id == "Prospecting" and d.closing_at == CLOSE for d in result.records)
    new = sf.requests[before:]
    assert sum(1 for m, p in new if m == "POST" and p.endswith(COLLECTION)) == 5
    assert sum(1 for m, p in new if m == "GET" and p.endswith("/query")) == 5  # one read-back per batch
    assert not any(p.endswith("/sobjects/Opportunity") for _, p in new)  # no single-record creates
    stored = sf.records("Opportunity")
    assert sorted(r["Name"] for r in stored) == sorted(f"Batch {i}" for i in range(1000))  # each exactly once
    assert {d.id for d in result.records} == {r["Id"] for r in stored}
    assert not any(isinstance(item.error, RateLimitedError) for item in result.items)


def test_one_bad_record_fails_alone_naming_the_unified_field(
    client: Client, sf: FakeSalesforce, conn: Connection
) -> None:
    rows = [_deal(0), {"name": "No stage", "closing_at": CLOSE}, _deal(2)]
    result = client.crm.deals.create_many(connection_id=conn.id, data=rows)

    assert [item.ok for item in result.items] == [True, False, True]
    error = result.items[1].error
    assert isinstance(error, ValidationError)
    assert error.provider_code == "REQUIRED_FIELD_MISSING" and error.provider == "salesforce"
    assert error.connection_id == conn.id
    assert error.details["fields"] == ["stage_id"] and error.details["provider_fields"] == ["StageName"]
    assert error.details["index"] == 1 and "stage_id" in (error.hint or "")
    assert sorted(r["Name"] for r in sf.records("Opportunity")) == ["Batch 0", "Batch 2"]
    assert _sent(sf, "POST", COLLECTION) == 1


def test_update_many_patches_a_collection_and_reads_it_back(
    client: Client, sf: FakeSalesforce, conn: Connection
) -> None:
    ids = sf.seed(deals=3)["Opportunity"]
    before = len(sf.requests)
    missing = ids[0][:12] + "zzz"  # a well-formed 15-character id of no record
    result = client.crm.deals.update_many(
        connection_id=conn.id,
        data=[(ids[0], {"amount": 10}), (ids[1], {"stage": "Closed Won"}), (ids[2][:15], {"name": "Short id"})],
    )
    assert result.failed == []
    first, second, third = result.records
    assert first.id == ids[0] and first.amount == 10
    assert second.id == ids[1] and second.stage == "Closed Won" and second.closed_at is not None
    assert third.id == ids[2] and third.name == "Short id"
    stored = sf.record("Opportunity", ids[1])
    assert stored is not None and stored["IsWon"] is True
    new = sf.requests[before:]
    assert sum(1 for m, p in new if m == "PATCH" and p.endswith(COLLECTION)) == 1
    assert not any(m == "PATCH" and "/sobjects/Opportunity/" in p for m, p in new)

    gone = client.crm.deals.update_many(connection_id=conn.id, data=[(missing, {"amount": 1}), (ids[0], {"amount": 2})])
    assert isinstance(gone.items[0].error, NotFoundError) and gone.items[1].ok


def test_more_than_200_go_in_chunks_of_200(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    result = client.crm.companies.create_many(connection_id=conn.id, data=[{"name": f"Co {i}"} for i in range(401)])
    assert len(result.succeeded) == 401
    assert _sent(sf, "POST", COLLECTION) == 3  # 200 + 200 + 1
    assert len(sf.records("Account")) == 401


def test_the_fake_refuses_more_than_200_records_in_one_request(sf: FakeSalesforce) -> None:
    import httpx2

    records = [{"attributes": {"type": "Account"}, "Name": f"Co {i}"} for i in range(201)]
    response = httpx2.post(
        f"{sf.url}/services/data/v62.0/composite/sobjects",
        json={"allOrNone": False, "records": records},
        headers={"Authorization": f"Bearer {sf.session_token()}"},
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert sf.records("Account") == []


@pytest.fixture
async def aclient(tmp_path: Path) -> Any:
    client = new_client(tmp_path, AsyncClient)
    yield client
    await client.aclose()


async def test_async_create_and_update_many(aclient: Any, sf: FakeSalesforce) -> None:
    conn = await authorize_async(aclient, sf, "salesforce", ALL_SCOPES, redirect_uri=REDIRECT_URI)
    created = await aclient.crm.contacts.create_many(
        connection_id=conn.id, data=[{"last_name": "Hopper"}, {"first_name": "No last name"}]
    )
    assert created.items[0].ok and isinstance(created.items[1].error, ValidationError)
    assert created.items[1].error.details["fields"] == ["last_name"]
    contact = created.items[0].record
    updated = await aclient.crm.contacts.update_many(connection_id=conn.id, data=[(contact.id, {"title": "RADM"})])
    assert updated.records[0].title == "RADM" and updated.records[0].last_name == "Hopper"
    assert _sent(sf, "POST", COLLECTION) == 1 and _sent(sf, "PATCH", COLLECTION) == 1
