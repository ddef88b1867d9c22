"""Create, read, update and delete deals, contacts and companies over real HTTP, sync and async."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hubspot_testkit import new_client
from unified_sdk_hubspot import HubSpotProvider
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import AsyncClient, Client, Connection
from unified_sdk.errors import NotFoundError, NotSupportedError, ValidationError
from unified_sdk.provider import OperationContext, ProviderResponse


def test_deal_crud(client: Client, conn: Connection, hubspot: FakeHubSpot) -> None:
    hubspot.seed(contacts=2, companies=1)
    contact_ids = [r["id"] for r in hubspot.records("contacts")]
    company_id = hubspot.records("companies")[0]["id"]
    closing = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)

    created = client.crm.deals.create(
        connection_id=conn.id,
        data={
            "name": "Big renewal",
            "amount": Decimal("12345.67"),
            "currency": "EUR",
            "stage": "Qualified To Buy",
            "pipeline_id": "default",
            "closing_at": closing,
            "user_id": "90000002",
            "contact_ids": contact_ids,
            "company_ids": [company_id],
            "metadata": [{"slug": "customer_tier", "value": "gold"}],
        },
    )
    assert created is not None and created.id is not None
    assert created.amount == Decimal("12345.67")
    assert created.stage_id == "qualifiedtobuy" and created.stage == "Qualified To Buy"
    assert created.pipeline == "Sales Pipeline"
    assert created.probability == 40.0
    assert created.closing_at == closing
    assert created.contact_ids == contact_ids and created.company_ids == [company_id]
    stored = {r["id"]: r for r in hubspot.records("deals")}[created.id]
    assert stored["properties"]["amount"] == "12345.67"
    assert stored["properties"]["customer_tier"] == "gold"
    assert stored["properties"]["closedate"] == "2026-06-30T12:00:00.000Z"
    assert stored["associations"] == {"contacts": contact_ids, "companies": [company_id]}

    fetched = client.crm.deals.get(connection_id=conn.id, id=created.id)
    assert fetched is not None
    assert (fetched.name, fetched.amount, fetched.stage, fetched.user_id) == (
        "Big renewal",
        Decimal("12345.67"),
        "Qualified To Buy",
        "90000002",
    )
    assert fetched.contact_ids == contact_ids

    updated = client.crm.deals.update(
        connection_id=conn.id, id=created.id, data={"amount": Decimal("0.10"), "stage_id": "closedwon"}
    )
    assert updated is not None
    assert updated.amount == Decimal("0.10") and updated.stage == "Closed Won"
    assert updated.closed_at == closing  # a closed stage: the close date is when it closed
    assert updated.name == "Big renewal"

    client.crm.deals.delete(connection_id=conn.id, id=created.id)
    assert created.id not in {r["id"] for r in hubspot.records("deals")}
    with pytest.raises(NotFoundError) as info:
        client.crm.deals.get(connection_id=conn.id, id=created.id)
    assert info.value.status == 404


def test_contact_and_company_crud(client: Client, conn: Connection, hubspot: FakeHubSpot) -> None:
    company = client.crm.companies.create(
        connection_id=conn.id,
        data={
            "name": "Acme",
            "domains": ["acme.example"],
            "employees": 42,
            "address": {"city": "Dublin", "country": "Ireland"},
            "telephones": [{"telephone": "+353 1 555"}],
        },
    )
    assert company is not None and company.id is not None
    assert (company.name, company.domains, company.employees) == ("Acme", ["acme.example"], 42)
    assert company.address is not None and company.address.city == "Dublin"

    contact = client.crm.contacts.create(
        connection_id=conn.id,
        data={
            "first_name": "Grace",
            "last_name": "Hopper",
            "title": "Rear Admiral",
            "emails": [{"email": "grace@acme.example"}],
            "telephones": [
                {"telephone": "+1 555 0100", "type": "work"},
                {"telephone": "+1 555 0199", "type": "mobile"},
            ],
            "company_ids": [company.id],
        },
    )
    assert contact is not None and contact.id is not None
    assert contact.name == "Grace Hopper" and contact.title == "Rear Admiral"
    assert [(t.telephone, t.type) for t in contact.telephones or []] == [
        ("+1 555 0100", "work"),
        ("+1 555 0199", "mobile"),
    ]
    assert contact.company_ids == [company.id]

    updated = client.crm.contacts.update(connection_id=conn.id, id=contact.id, data={"title": "Admiral"})
    assert updated is not None and updated.title == "Admiral" and updated.first_name == "Grace"

    got = client.crm.companies.get(connection_id=conn.id, id=company.id)
    assert got is not None and got.contact_ids == [contact.id]

    client.crm.contacts.delete(connection_id=conn.id, id=contact.id)
    client.crm.companies.delete(connection_id=conn.id, id=company.id)
    assert hubspot.records("contacts") == [] and hubspot.records("companies") == []


def test_writes_hubspot_derives_are_refused_before_sending(
    client: Client, conn: Connection, hubspot: FakeHubSpot
) -> None:
    sent = len(hubspot.requests)
    for derived in ("probability", "closed_at", "source", "tags"):
        value: object = {"probability": 50, "closed_at": "2026-01-01T00:00:00Z", "source": "web", "tags": ["a"]}[
            derived
        ]
        with pytest.raises(NotSupportedError) as refused:
            client.crm.deals.create(connection_id=conn.id, data={"name": "x", derived: value})
        assert refused.value.details["fields"] == [derived]
    assert len(hubspot.requests) == sent
    with pytest.raises(ValidationError) as info:
        client.crm.deals.create(connection_id=conn.id, data={"name": "x", "stage": "No Such Stage"})
    assert info.value.details["fields"] == ["stage"]
    # Only the pipelines were fetched (to look the stage label up); no write reached HubSpot.
    assert [p for _, p in hubspot.requests[sent:]] == ["/crm/v3/pipelines/deals"]


def test_update_replaces_associations(client: Client, conn: Connection, hubspot: FakeHubSpot) -> None:
    hubspot.seed(contacts=3, companies=1)
    c1, c2, c3 = (r["id"] for r in hubspot.records("contacts"))
    company_id = hubspot.records("companies")[0]["id"]
    deal = client.crm.deals.create(
        connection_id=conn.id, data={"name": "Linked", "contact_ids": [c1, c2], "company_ids": [company_id]}
    )
    assert deal is not None and deal.id is not None
    sent = len(hubspot.requests)

    updated = client.crm.deals.update(
        connection_id=conn.id, id=deal.id, data={"name": "Relinked", "contact_ids": [c2, c3], "company_ids": []}
    )
    assert updated is not None
    assert updated.name == "Relinked"
    assert sorted(updated.contact_ids or []) == sorted([c2, c3]) and updated.company_ids == []
    stored = {r["id"]: r for r in hubspot.records("deals")}[deal.id]
    assert sorted(stored["associations"].get("contacts", [])) == sorted([c2, c3])
    assert stored["associations"].get("companies", []) == []
    # Both directions changed: the removed contact no longer lists the deal, the added one does.
    contacts = {r["id"]: r for r in hubspot.records("contacts")}
    assert deal.id not in contacts[c1]["associations"].get("deals", [])
    assert deal.id in contacts[c3]["associations"].get("deals", [])
    v4 = "/crm/v4/associations/deals"
    assert [(m, p) for m, p in hubspot.requests[sent:] if p.startswith(v4)] == [
        ("POST", f"{v4}/contacts/batch/associate/default"),
        ("POST", f"{v4}/contacts/batch/archive"),
        ("POST", f"{v4}/companies/batch/archive"),
    ]

    # Only associations given: no PATCH; the same set again changes nothing.
    sent = len(hubspot.requests)
    again = client.crm.deals.update(connection_id=conn.id, id=deal.id, data={"contact_ids": [c3, c2]})
    assert again is not None and sorted(again.contact_ids or []) == sorted([c2, c3]) and again.name == "Relinked"
    assert [m for m, _ in hubspot.requests[sent:]] == ["GET", "GET"]


def test_update_with_an_unknown_associated_id_is_a_validation_error(
    client: Client, conn: Connection, hubspot: FakeHubSpot
) -> None:
    hubspot.seed(contacts=1)
    contact_id = hubspot.records("contacts")[0]["id"]
    deal = client.crm.deals.create(connection_id=conn.id, data={"name": "Lonely"})
    assert deal is not None and deal.id is not None
    with pytest.raises(ValidationError) as info:
        client.crm.deals.update(connection_id=conn.id, id=deal.id, data={"contact_ids": [contact_id, "999999"]})
    assert info.value.details["fields"] == ["contact_ids"]
    assert info.value.details["ids"] == ["999999"]
    assert "999999" in str(info.value) and info.value.hint
    # The known contact was linked; the batch's 207 is in the call log.
    stored = {r["id"]: r for r in hubspot.records("deals")}[deal.id]
    assert stored["associations"].get("contacts") == [contact_id]
    assert [log.status for log in client.logs.list(connection_id=conn.id, limit=1)] == [207]


async def test_async_crud(tmp_path: Path, hubspot: FakeHubSpot) -> None:
    aclient: Any = new_client(tmp_path, AsyncClient)
    try:
        conn = await aclient.connections.create(
            provider="hubspot", credentials={"api_key": hubspot.api_key}, config=hubspot.config
        )
        deal = await aclient.crm.deals.create(connection_id=conn.id, data={"name": "Async", "amount": "99.95"})
        assert deal.amount == Decimal("99.95") and deal.stage is None
        deal = await aclient.crm.deals.update(connection_id=conn.id, id=deal.id, data={"stage_id": "contractsent"})
        assert deal.stage == "Contract Sent"
        await aclient.crm.deals.delete(connection_id=conn.id, id=deal.id)
        assert hubspot.records("deals") == []
    finally:
        await aclient.aclose()


def test_replacing_associations_hubspot_pages_is_refused_before_any_change() -> None:
    # The local HubSpot never pages a record's associations, so this drives the adapter directly.
    adapter: Any = HubSpotProvider().adapter("crm.deals")
    flow = adapter.update(OperationContext("conn_test", "hubspot", {}, "update"), "7", {"contact_ids": ["1"]})
    read = next(flow)
    assert (read.method, read.path) == ("GET", "/crm/v3/objects/deals/7")
    associations = {"contacts": {"results": [{"id": "1"}], "paging": {"next": {"after": "1", "link": "x"}}}}
    body = json.dumps({"id": "7", "properties": {}, "associations": associations}).encode()
    with pytest.raises(NotSupportedError) as info:
        flow.send(ProviderResponse(200, {"content-type": "application/json"}, body))
    assert "contact_ids" in str(info.value) and info.value.hint
