"""Listing over real HTTP against the local HubSpot: paging, mapping, search windows, rate limits."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hubspot_testkit import connect_api_key, new_client
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import AsyncClient, Client


def _labels(fake: FakeHubSpot) -> tuple[dict[str, str], dict[str, str]]:
    stages = {s["id"]: s["label"] for p in fake.store.pipelines for s in p["stages"]}
    pipelines = {p["id"]: p["label"] for p in fake.store.pipelines}
    return stages, pipelines


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def test_lists_10000_deals_each_once_with_unified_fields(tmp_path: Path) -> None:
    with FakeHubSpot(ten_second_limit=1000) as fake, new_client(tmp_path) as client:
        fake.seed(deals=10_000, contacts=40, companies=10)
        conn = connect_api_key(client, fake)
        expected = {r["id"]: r for r in fake.records("deals")}
        before = len(fake.requests)

        deals = list(client.crm.deals.list(connection_id=conn.id, limit=100))

        ids = [d.id for d in deals]
        assert len(ids) == 10_000
        assert set(ids) == set(expected)
        stages, pipelines = _labels(fake)
        for deal in deals:
            record = expected[deal.id]
            props = record["properties"]
            assert deal.name == props["dealname"]
            assert deal.amount == Decimal(props["amount"])
            assert str(deal.amount) == props["amount"]
            assert deal.currency == props["deal_currency_code"]
            assert deal.stage_id == props["dealstage"]
            assert deal.stage == stages[props["dealstage"]]
            assert deal.pipeline_id == props["pipeline"]
            assert deal.pipeline == pipelines[props["pipeline"]]
            assert deal.probability == float(Decimal(props["hs_deal_stage_probability"]) * 100)
            assert deal.user_id == props["hubspot_owner_id"]
            assert deal.closing_at == datetime.fromisoformat(props["closedate"])
            assert deal.created_at == datetime.fromisoformat(props["createdate"])
            assert deal.updated_at == datetime.fromisoformat(props["hs_lastmodifieddate"])
            assert deal.contact_ids == record["associations"]["contacts"]
            assert deal.company_ids == record["associations"]["companies"]
            assert deal.raw is not None and deal.raw["id"] == deal.id
        # 100 pages of 100 and the pipelines once for the whole listing.
        calls = Counter(path for _, path in fake.requests[before:])
        assert calls == {"/crm/v3/objects/deals": 100, "/crm/v3/pipelines/deals": 1}
        assert fake.status_counts[429] == 0


def test_amounts_convert_exactly(client: Client, hubspot: FakeHubSpot) -> None:
    conn = connect_api_key(client, hubspot)
    for amount in ("0.1", "0.2", "1234567890123.45", "19.999", "1e3", ""):
        client.crm.deals.create(connection_id=conn.id, data={"name": f"amount {amount}"})
        record_id = hubspot.records("deals")[-1]["id"]
        hubspot.store.get("deals", record_id).properties["amount"] = amount  # type: ignore[union-attr]
    deals = {d.name: d for d in client.crm.deals.list(connection_id=conn.id)}
    assert deals["amount 0.1"].amount == Decimal("0.1")
    assert deals["amount 0.1"].amount + deals["amount 0.2"].amount == Decimal("0.3")  # type: ignore[operator]
    assert deals["amount 1234567890123.45"].amount == Decimal("1234567890123.45")
    assert deals["amount 19.999"].amount == Decimal("19.999")
    assert deals["amount 1e3"].amount == Decimal("1000")
    assert deals["amount "].amount is None


def test_custom_properties_go_to_metadata_and_the_record_to_raw(client: Client, hubspot: FakeHubSpot) -> None:
    hubspot.seed(deals=30)
    conn = connect_api_key(client, hubspot)
    deals = list(client.crm.deals.list(connection_id=conn.id, fields=["customer_tier", "renewal_notes"]))
    expected = {r["id"]: r["properties"] for r in hubspot.records("deals")}
    assert len(deals) == 30
    for deal in deals:
        meta = {m.slug: m.value for m in deal.metadata or []}
        assert meta == {"customer_tier": expected[deal.id]["customer_tier"], "renewal_notes": None}
        assert all(m.id == m.slug for m in deal.metadata or [])
        assert deal.raw is not None
        assert deal.raw["properties"]["customer_tier"] == expected[deal.id]["customer_tier"]
    # Without asking, only the properties the unified model needs are fetched.
    plain = client.crm.deals.list(connection_id=conn.id, limit=5).data
    assert all(d.metadata == [] for d in plain)
    assert all("customer_tier" not in (d.raw or {})["properties"] for d in plain)


def test_updated_after_walks_past_the_search_ceiling_without_loss_or_repeats(tmp_path: Path) -> None:
    with (
        FakeHubSpot(search_limit_per_second=None, ten_second_limit=100_000) as fake,
        new_client(tmp_path) as client,
    ):
        fake.seed(deals=10_700, contacts=20, companies=5)
        conn = connect_api_key(client, fake)
        records = sorted(
            fake.records("deals"), key=lambda r: (_ms(r["properties"]["hs_lastmodifieddate"]), int(r["id"]))
        )
        times = [_ms(r["properties"]["hs_lastmodifieddate"]) for r in records]
        # Start right before a group of three records sharing one modification time, so the
        # 10,000th result (3 * 3333 + 1) is the first of a group: the next window must return
        # that time again and skip exactly the record already seen.
        k = next(i for i in range(299, 400) if times[i + 1] > times[i])
        assert times[k + 1] == times[k + 3] < times[k + 4]
        since_ms = times[k]
        expected = {r["id"]: r for r in records[k + 1 :]}
        assert len(expected) > 10_000
        before = len(fake.requests)

        since = datetime.fromtimestamp(since_ms / 1000, UTC)
        deals = list(client.crm.deals.list(connection_id=conn.id, updated_after=since))

        ids = [d.id for d in deals]
        assert len(ids) == len(set(ids)) == len(expected)
        assert set(ids) == set(expected)
        updated = [d.updated_at for d in deals if d.updated_at is not None]
        assert len(updated) == len(deals) and updated == sorted(updated)
        assert all(d.updated_at is not None and d.updated_at > since for d in deals)
        stages, _ = _labels(fake)
        for deal in deals:
            assert deal.stage == stages[deal.stage_id or ""]
            assert deal.contact_ids == expected[deal.id or ""]["associations"]["contacts"]
            assert deal.company_ids == expected[deal.id or ""]["associations"]["companies"]
        calls = Counter(p for _, p in fake.requests[before:])
        # Window one: 50 pages of 200 up to the ceiling. Window two starts at the 10,000th
        # record's time: the rest plus that record (seen already, skipped). Each page reads its
        # deals' contacts and companies (search returns no associations); pipelines once.
        pages = 50 + -(-(len(expected) - 10_000 + 1) // 200)
        assert calls == {
            "/crm/v3/objects/deals/search": pages,
            "/crm/v4/associations/deals/contacts/batch/read": pages,
            "/crm/v4/associations/deals/companies/batch/read": pages,
            "/crm/v3/pipelines/deals": 1,
        }
        assert fake.status_counts[400] == 0


def test_updated_after_keeps_to_the_search_rate_limit(tmp_path: Path) -> None:
    with FakeHubSpot(search_limit_per_second=4) as fake, new_client(tmp_path) as client:
        fake.seed(deals=1000)
        conn = connect_api_key(client, fake)
        since = datetime(2000, 1, 1, tzinfo=UTC)
        deals = list(client.crm.deals.list(connection_id=conn.id, updated_after=since, limit=100))
        assert len({d.id for d in deals}) == 1000
        assert all(d.contact_ids == [] and d.company_ids == [] for d in deals)
        # The client paces searches from the Secondly headers; a search that still meets the
        # per-second limit (the association reads in between report the ten-second budget
        # instead) is waited out and retried, never failed.
        logs = client.logs.list(connection_id=conn.id)
        refused = [log for log in logs if log.status == 429]
        assert all(log.url.endswith("/search") and log.action == "wait_and_retry" for log in refused)
        searches = sum(1 for _, p in fake.requests if p.endswith("/search"))
        assert searches == 10 + len(refused)


def test_long_listing_under_the_enforced_rate_limit_sees_no_429(tmp_path: Path) -> None:
    with FakeHubSpot(ten_second_limit=10, interval_ms=1000) as fake, new_client(tmp_path) as client:
        fake.seed(deals=2500)
        conn = connect_api_key(client, fake)
        ids = [d.id for d in client.crm.deals.list(connection_id=conn.id, limit=100)]
        assert sorted(ids) == sorted(r["id"] for r in fake.records("deals"))
        assert fake.status_counts == {200: 26}  # 25 pages and the pipelines, none refused
        logs = client.logs.list(connection_id=conn.id)
        assert [log.status for log in logs].count(429) == 0


def test_contacts_and_companies_carry_their_associations(client: Client, hubspot: FakeHubSpot) -> None:
    hubspot.seed(companies=4, contacts=25, deals=40)
    conn = connect_api_key(client, hubspot)
    contacts = {c.id: c for c in client.crm.contacts.list(connection_id=conn.id)}
    companies = {c.id: c for c in client.crm.companies.list(connection_id=conn.id)}
    expected_contacts = {r["id"]: r for r in hubspot.records("contacts")}
    expected_companies = {r["id"]: r for r in hubspot.records("companies")}
    assert set(contacts) == set(expected_contacts)
    assert set(companies) == set(expected_companies)
    for cid, contact in contacts.items():
        record = expected_contacts[cid]
        p = record["properties"]
        assert contact.first_name == p["firstname"] and contact.last_name == p["lastname"]
        assert contact.name == f"{p['firstname']} {p['lastname']}"
        assert [e.email for e in contact.emails or []] == [p["email"]]
        assert [t.telephone for t in contact.telephones or []] == [p["phone"]]
        assert contact.company_ids == record["associations"].get("companies", [])
        assert contact.deal_ids == record["associations"].get("deals", [])
        assert contact.address is not None and contact.address.city == p["city"]
    for cid, company in companies.items():
        record = expected_companies[cid]
        p = record["properties"]
        assert company.name == p["name"]
        assert company.domains == [p["domain"]]
        assert company.employees == int(p["numberofemployees"])
        assert company.contact_ids == record["associations"].get("contacts", [])
        assert company.deal_ids == record["associations"].get("deals", [])


def test_users_and_pipelines(client: Client, hubspot: FakeHubSpot) -> None:
    conn = connect_api_key(client, hubspot)
    users = list(client.crm.users.list(connection_id=conn.id))
    assert [u.id for u in users] == [o.id for o in hubspot.store.owners if not o.archived]
    assert users[0].name == "Ada Lovelace" and users[0].emails is not None
    assert users[0].emails[0].email == "ada@example.com"
    assert all(u.is_active for u in users)
    pipelines = list(client.crm.pipelines.list(connection_id=conn.id))
    assert [p.id for p in pipelines] == ["default", "75219553"]
    default = pipelines[0]
    assert default.name == "Sales Pipeline"
    assert [s.name for s in default.stages or []][:2] == ["Appointment Scheduled", "Qualified To Buy"]
    assert [s.deal_probability for s in default.stages or []][:2] == [20.0, 40.0]


async def test_async_listing_matches_sync(tmp_path: Path, hubspot: FakeHubSpot) -> None:
    hubspot.seed(deals=250, contacts=10, companies=3)
    aclient: Any = new_client(tmp_path, AsyncClient)
    try:
        conn = await aclient.connections.create(
            provider="hubspot", credentials={"api_key": hubspot.api_key}, config=hubspot.config
        )
        page = await aclient.crm.deals.list(connection_id=conn.id, limit=100)
        ids = [d.id async for d in page]
        assert sorted(ids) == sorted(r["id"] for r in hubspot.records("deals"))
        deal = await aclient.crm.deals.get(connection_id=conn.id, id=ids[0])
        assert deal.id == ids[0] and deal.stage is not None
    finally:
        await aclient.aclose()
