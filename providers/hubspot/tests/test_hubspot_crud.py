"""Create, read, update and delete deals, contacts and companies over real HTTP, sync and async."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hubspot_testkit import new_client
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import AsyncClient, Client, Connection
from unified_sdk.errors import NotFoundError, NotSupportedError, ValidationError


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
    with pytest.raises(ValidationError) as info:
        client.crm.deals.create(connection_id=conn.id, data={"name": "x", "probability": 50})
    assert "probability" in str(info.value)
    with pytest.raises(ValidationError) as info:
        client.crm.deals.create(connection_id=conn.id, data={"name": "x", "stage": "No Such Stage"})
    assert info.value.details["fields"] == ["stage"]
    with pytest.raises(NotSupportedError):
        client.crm.deals.update(connection_id=conn.id, id="1", data={"contact_ids": ["2"]})
    # Only the pipelines were fetched (to look the stage label up); no write reached HubSpot.
    assert [p for _, p in hubspot.requests[sent:]] == ["/crm/v3/pipelines/deals"]


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
