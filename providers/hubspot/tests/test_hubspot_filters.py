"""Declared filters and sorts against the HubSpot fake (search API filterGroups, query, sorts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import AsyncClient, Client, Connection
from unified_sdk.errors import NotSupportedError


def _ids(page: Any) -> list[str]:
    return [r.id for r in page]


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def test_each_deal_filter_returns_exactly_the_matching_deals(
    client: Client, hubspot: FakeHubSpot, conn: Connection
) -> None:
    hubspot.seed(deals=40, contacts=10, companies=4)
    deals = hubspot.records("deals")
    sample = next(d for d in deals if d["associations"].get("contacts") and d["associations"].get("companies"))
    p = sample["properties"]
    contact = sample["associations"]["contacts"][0]
    company = sample["associations"]["companies"][0]
    created = sorted(_ms(d["properties"]["createdate"]) for d in deals)[20]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"stage_id": p["dealstage"]}, {d["id"] for d in deals if d["properties"]["dealstage"] == p["dealstage"]}),
        ({"pipeline_id": p["pipeline"]}, {d["id"] for d in deals if d["properties"]["pipeline"] == p["pipeline"]}),
        (
            {"user_id": p["hubspot_owner_id"]},
            {d["id"] for d in deals if d["properties"]["hubspot_owner_id"] == p["hubspot_owner_id"]},
        ),
        ({"contact_id": contact}, {d["id"] for d in deals if contact in d["associations"].get("contacts", [])}),
        ({"company_id": company}, {d["id"] for d in deals if company in d["associations"].get("companies", [])}),
        (
            {"query": p["dealname"]},
            {
                d["id"]
                for d in deals
                if any(p["dealname"].lower() in (v or "").lower() for v in d["properties"].values())
            },
        ),
        (
            {"created_after": datetime.fromtimestamp(created / 1000).astimezone()},
            {d["id"] for d in deals if _ms(d["properties"]["createdate"]) > created},
        ),
        (
            {"stage_id": p["dealstage"], "user_id": p["hubspot_owner_id"]},
            {
                d["id"]
                for d in deals
                if d["properties"]["dealstage"] == p["dealstage"]
                and d["properties"]["hubspot_owner_id"] == p["hubspot_owner_id"]
            },
        ),
    ]
    for filters, expected in cases:
        assert expected, filters
        found = _ids(client.crm.deals.list(connection_id=conn.id, limit=3, **filters))
        assert len(found) == len(set(found)) and set(found) == expected, filters


def test_contact_and_company_filters(client: Client, hubspot: FakeHubSpot, conn: Connection) -> None:
    hubspot.seed(contacts=15, companies=4)
    contacts = hubspot.records("contacts")
    sample = next(c for c in contacts if c["associations"].get("companies"))
    email = sample["properties"]["email"]
    assert _ids(client.crm.contacts.list(connection_id=conn.id, email=email)) == [sample["id"]]
    company = sample["associations"]["companies"][0]
    expected = {c["id"] for c in contacts if company in c["associations"].get("companies", [])}
    assert set(_ids(client.crm.contacts.list(connection_id=conn.id, company_id=company))) == expected
    companies = hubspot.records("companies")
    owner = companies[0]["properties"]["hubspot_owner_id"]
    expected = {c["id"] for c in companies if c["properties"]["hubspot_owner_id"] == owner}
    assert set(_ids(client.crm.companies.list(connection_id=conn.id, user_id=owner))) == expected


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize(("sort", "prop"), [("created_at", "createdate"), ("name", "dealname")])
def test_sorts_page_through_every_deal_in_order(
    client: Client, hubspot: FakeHubSpot, conn: Connection, sort: str, prop: str, order: str
) -> None:
    hubspot.seed(deals=13, contacts=2, companies=2)
    deals = hubspot.records("deals")
    key = (lambda d: _ms(d["properties"][prop])) if prop == "createdate" else (lambda d: d["properties"][prop].lower())
    expected = [d["id"] for d in sorted(deals, key=lambda d: (key(d), int(d["id"])), reverse=order == "desc")]
    page = client.crm.deals.list(connection_id=conn.id, limit=4, sort=sort, order=order)  # type: ignore[arg-type]
    assert _ids(page) == expected


async def test_async_filter(aclient: AsyncClient, hubspot: FakeHubSpot) -> None:
    conn = await aclient.connections.create(
        provider="hubspot", credentials={"api_key": hubspot.api_key}, config=hubspot.config
    )
    hubspot.seed(deals=12, contacts=2, companies=2)
    deals = hubspot.records("deals")
    stage = deals[0]["properties"]["dealstage"]
    page = await aclient.crm.deals.list(connection_id=conn.id, stage_id=stage, limit=2)
    assert {d.id async for d in page} == {d["id"] for d in deals if d["properties"]["dealstage"] == stage}


def test_undeclared_sort_is_refused_before_any_request(client: Client, hubspot: FakeHubSpot, conn: Connection) -> None:
    before = len(hubspot.requests)
    with pytest.raises(NotSupportedError) as info:
        client.crm.contacts.list(connection_id=conn.id, sort="name")
    assert info.value.provider == "hubspot" and "sort" in info.value.message
    assert info.value.details["sorts"] == ["name"]
    assert hubspot.requests[before:] == []
