"""Listing through SOQL and query locators, over real HTTP to the local Salesforce."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sf_testkit import connect, new_client
from unified_sdk_salesforce.fake import SEED_EPOCH, FakeSalesforce

from unified_sdk import Client, Connection


def _api_calls(client: Client, conn: Connection) -> list[str]:
    return [
        log.url for log in reversed(client.logs.list(connection_id=conn.id, limit=1000)) if "/services/data/" in log.url
    ]


def test_ten_thousand_opportunities_every_id_once(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    made = sf.seed(deals=10_000, companies=5)
    before = len(_api_calls(client, conn))
    page = client.crm.deals.list(connection_id=conn.id)
    ids = [deal.id for deal in page]
    assert len(ids) == 10_000
    assert set(ids) == set(made["Opportunity"])
    calls = _api_calls(client, conn)[before:]
    # One describe, the query, then four query locators of 2,000 records each.
    assert sum("/describe" in u for u in calls) == 1
    assert sum("/query?" in u for u in calls) == 1
    locators = [u for u in calls if "/query/01g" in u]
    assert [u.rsplit("-", 1)[1] for u in locators] == ["2000", "4000", "6000", "8000"]


def test_small_pages_follow_the_same_locators(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    made = sf.seed(deals=450)
    pages = list(client.crm.deals.list(connection_id=conn.id, limit=100).iter_pages())
    sizes = [len(p.data) for p in pages]
    ids = [str(d.id) for p in pages for d in p.data]
    assert sizes == [100, 100, 100, 100, 50]
    assert sorted(ids) == sorted(made["Opportunity"])


def test_limit_between_batch_bounds_is_the_batch_size(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    sf.seed(deals=700)
    first = client.crm.deals.list(connection_id=conn.id, limit=300)
    assert len(first.data) == 300
    assert first.next_cursor is not None and "/query/01g" in first.next_cursor
    assert [d.id for d in first] == [d.id for d in client.crm.deals.list(connection_id=conn.id)]


def test_updated_after_filters_on_last_modified_date(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    made = sf.seed(deals=30)["Opportunity"]
    # Seeded deals are stamped one minute apart from SEED_EPOCH; take those after the 20th.
    cutoff = SEED_EPOCH + timedelta(minutes=19, seconds=30)
    later = client.crm.deals.list(connection_id=conn.id, updated_after=cutoff)
    assert [d.id for d in later] == made[20:]
    assert "WHERE LastModifiedDate > 2024-01-01T00:19:30Z" in sf.queries[-1]
    # An update moves a record into the window.
    client.crm.deals.update(connection_id=conn.id, id=made[0], data={"name": "Renamed"})
    newest = made[-1]
    after_last_seed = sf.record("Opportunity", newest)["LastModifiedDate"]  # type: ignore[index]
    changed = client.crm.deals.list(connection_id=conn.id, updated_after=after_last_seed)
    assert [d.id for d in changed] == [made[0]]


def test_session_expiring_mid_listing_refreshes_once(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    made = sf.seed(deals=5000)
    ids: list[Any] = []
    page = client.crm.deals.list(connection_id=conn.id)
    ids += [d.id for d in page.data]
    sf.expire_access_tokens()
    cursor = page.next_cursor
    while cursor is not None:
        current = client.crm.deals.list(connection_id=conn.id, cursor=cursor)
        ids += [d.id for d in current.data]
        cursor = current.next_cursor
    assert len(ids) == 5000 and set(ids) == set(made["Opportunity"])
    assert sf.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert client.connections.get(conn.id).health == "healthy"


def test_filters_are_escaped_values(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    sf.seed(deals=20, companies=3)
    region = client.crm.deals.list(connection_id=conn.id, Region__c="EMEA")
    assert {m.value for d in region.data for m in d.metadata or [] if m.slug == "Region__c"} == {"EMEA"}
    assert len(region.data) == 5
    stage = client.crm.deals.list(connection_id=conn.id, stage="Closed Won")
    assert stage.data and all(d.stage == "Closed Won" for d in stage.data)


def test_fields_adds_relationship_columns(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    sf.seed(deals=3, companies=2)
    page = client.crm.deals.list(connection_id=conn.id, fields=["Account.Name"])
    assert {d.raw["Account"]["Name"] for d in page.data if d.raw} == {"Account 00001", "Account 00002"}


async def test_async_listing(tmp_path: Any, sf: FakeSalesforce) -> None:
    made = sf.seed(deals=2500)
    sync = new_client(tmp_path)
    conn = connect(sync, sf)
    sync.close()
    from unified_sdk import AsyncClient

    aclient = new_client(tmp_path, AsyncClient)
    try:
        page = await aclient.crm.deals.list(connection_id=conn.id)
        ids = [d.id async for d in page]
        assert sorted(ids) == sorted(made["Opportunity"])
    finally:
        await aclient.aclose()
