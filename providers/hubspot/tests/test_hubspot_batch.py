"""Batch writes (``create_many`` / ``update_many``) through HubSpot's ``batch/create`` and ``batch/update``.

The fake answers batch results in a shuffled order (HubSpot does not promise input order), so every
test that checks records against inputs also checks the correlation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
from hubspot_testkit import connect_api_key, new_client
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import BatchResult, Client, Connection
from unified_sdk.errors import NotFoundError, ValidationError

CONTACTS_CREATE = ("POST", "/crm/v3/objects/contacts/batch/create")
CONTACTS_UPDATE = ("POST", "/crm/v3/objects/contacts/batch/update")
DEALS_CREATE = ("POST", "/crm/v3/objects/deals/batch/create")


def test_a_thousand_creates_take_ten_batch_requests_under_the_rate_limit(tmp_path: Path) -> None:
    # 4 requests a second: 1,000 single creates would wait ~4 minutes; 10 batches fit in ~3 seconds.
    with FakeHubSpot(ten_second_limit=4, interval_ms=1000) as fake, new_client(tmp_path) as client:
        conn = connect_api_key(client, fake)
        rows = [{"first_name": f"P{i}", "last_name": "Batch"} for i in range(1000)]
        result = client.crm.contacts.create_many(connection_id=conn.id, data=rows)

        assert isinstance(result, BatchResult)
        assert result.failed == []
        assert [r.first_name for r in result.records] == [f"P{i}" for i in range(1000)]
        assert fake.requests.count(CONTACTS_CREATE) == 10
        assert len(fake.requests) == 10  # nothing else, nothing sent twice
        assert fake.status_counts[429] == 0
        assert client.logs.list(connection_id=conn.id, status_min=429, status_max=429) == []
        stored = sorted(r["properties"]["firstname"] for r in fake.records("contacts"))
        assert stored == sorted(f"P{i}" for i in range(1000))  # each created exactly once
        by_id = {r["id"]: r["properties"]["firstname"] for r in fake.records("contacts")}
        assert {r.id: r.first_name for r in result.records} == by_id


def test_one_refused_input_fails_alone(client: Client, conn: Connection, hubspot: FakeHubSpot) -> None:
    rows = [
        {"first_name": "A", "user_id": "90000001"},
        {"first_name": "B", "user_id": "12345"},  # no such owner: HubSpot refuses this input only
        {"first_name": "C"},
    ]
    result = client.crm.contacts.create_many(connection_id=conn.id, data=rows)

    assert [item.ok for item in result] == [True, False, True]
    assert [r.first_name for r in result.records] == ["A", "C"]
    error = result.items[1].error
    assert isinstance(error, ValidationError)
    assert error.provider_code == "VALIDATION_ERROR"
    assert error.details["fields"] == ["hubspot_owner_id"]
    assert error.details["index"] == 1
    assert error.connection_id == conn.id
    assert hubspot.requests.count(CONTACTS_CREATE) == 1
    assert sorted(r["properties"]["firstname"] for r in hubspot.records("contacts")) == ["A", "C"]


def test_update_many_updates_in_one_batch_request(client: Client, conn: Connection, hubspot: FakeHubSpot) -> None:
    hubspot.seed(contacts=3, companies=1)
    ids = [r["id"] for r in hubspot.records("contacts")]
    company_id = hubspot.records("companies")[0]["id"]
    changes: list[tuple[str, dict[str, Any]]] = [
        (ids[0], {"title": "CTO"}),
        ("999999", {"title": "Ghost"}),  # no such record: fails alone
        (ids[1], {"first_name": "Renamed"}),
        (ids[2], {"title": "Linked", "company_ids": [company_id]}),  # links: written like update()
    ]
    before = len(hubspot.requests)
    result = client.crm.contacts.update_many(connection_id=conn.id, data=changes)

    assert [item.ok for item in result] == [True, False, True, True]
    assert isinstance(result.items[1].error, NotFoundError)
    assert [r.id for r in result.records] == [ids[0], ids[1], ids[2]]
    assert result.records[0].title == "CTO" and result.records[1].first_name == "Renamed"
    assert result.records[2].company_ids == [company_id]
    stored = {r["id"]: r for r in hubspot.records("contacts")}
    assert stored[ids[0]]["properties"]["jobtitle"] == "CTO"
    assert stored[ids[1]]["properties"]["firstname"] == "Renamed"
    assert stored[ids[2]]["properties"]["jobtitle"] == "Linked"
    assert stored[ids[2]]["associations"]["companies"] == [company_id]
    sent = hubspot.requests[before:]
    assert sent.count(CONTACTS_UPDATE) == 1
    assert ("PATCH", f"/crm/v3/objects/contacts/{ids[2]}") in sent


def test_update_many_refuses_a_repeated_id_before_sending(
    client: Client, conn: Connection, hubspot: FakeHubSpot
) -> None:
    hubspot.seed(contacts=1)
    [cid] = [r["id"] for r in hubspot.records("contacts")]
    result = client.crm.contacts.update_many(
        connection_id=conn.id, data=[(cid, {"title": "First"}), (cid, {"title": "Second"})]
    )

    assert [item.ok for item in result] == [True, False]
    assert isinstance(result.items[1].error, ValidationError)
    assert hubspot.records("contacts")[0]["properties"]["jobtitle"] == "First"
    assert hubspot.status_counts[400] == 0


def test_more_than_a_hundred_are_chunked_with_their_associations(
    client: Client, conn: Connection, hubspot: FakeHubSpot
) -> None:
    hubspot.seed(contacts=2)
    contact_ids = [r["id"] for r in hubspot.records("contacts")]
    rows = [{"name": f"Deal {i}", "amount": i, "contact_ids": contact_ids[i % 2 :]} for i in range(250)]
    result = client.crm.deals.create_many(connection_id=conn.id, data=rows)

    assert result.failed == []
    assert [d.name for d in result.records] == [f"Deal {i}" for i in range(250)]
    assert [d.contact_ids for d in result.records] == [contact_ids[i % 2 :] for i in range(250)]
    assert hubspot.requests.count(DEALS_CREATE) == 3
    stored = {r["properties"]["dealname"]: r for r in hubspot.records("deals")}
    assert len(stored) == 250
    assert all(stored[f"Deal {i}"]["associations"]["contacts"] == contact_ids[i % 2 :] for i in range(250))


def test_more_than_a_hundred_inputs_are_refused_by_the_fake(hubspot: FakeHubSpot) -> None:
    body = {"inputs": [{"properties": {"firstname": str(i)}} for i in range(101)]}
    headers = {"authorization": f"Bearer {hubspot.api_key}"}
    answer = httpx2.post(hubspot.url + CONTACTS_CREATE[1], json=body, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"
    assert hubspot.records("contacts") == []
