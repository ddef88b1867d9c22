"""Listing through SOQL keyset pages (``Id > :last ORDER BY Id LIMIT n``), over real HTTP to the local Salesforce."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from sf_testkit import connect, new_client
from unified_sdk_salesforce.fake import SEED_EPOCH, FakeSalesforce

from unified_sdk import Client, Connection
from unified_sdk.errors import ValidationError


def _api_calls(client: Client, conn: Connection) -> list[str]:
    return [
        log.url for log in reversed(client.logs.list(connection_id=conn.id, limit=1000)) if "/services/data/" in log.url
    ]


def _sent(sf: FakeSalesforce, before: int) -> list[str]:
    return [path for method, path in sf.received_requests[before:] if path.startswith("/services/data/")]


def test_ten_thousand_opportunities_every_id_once(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    made = sf.seed(deals=10_000, companies=5)
    before = len(sf.received_requests)
    page = client.crm.deals.list(connection_id=conn.id)
    ids = [deal.id for deal in page]
    assert ids == sorted(made["Opportunity"])
    sent = _sent(sf, before)
    # One describe, then one query per 2,000 records (the fifth page is full, so a sixth, empty one
    # confirms the end); no query locator is ever read.
    assert sum("/describe" in u for u in sent) == 1
    assert sum("/query?" in u for u in sent) == 6
    assert not [u for u in sent if "/query/" in u]
    assert [q.endswith("ORDER BY Id LIMIT 2000") for q in sf.queries] == [True] * 6


def test_small_limits_walk_every_record_without_query_locators(
    client: Client, sf: FakeSalesforce, conn: Connection
) -> None:
    # The issue: 1,000 opportunities with limit=100 gave 900 and then INVALID_QUERY_LOCATOR, because the
    # adapter came back to a locator that Salesforce closes once its last batch is read.
    made = sf.seed(deals=1000)
    before = len(sf.received_requests)
    pages = list(client.crm.deals.list(connection_id=conn.id, limit=100).iter_pages())
    assert [len(p.data) for p in pages] == [100] * 10
    assert [d.id for p in pages for d in p.data] == sorted(made["Opportunity"])
    sent = _sent(sf, before)
    assert sum("/query?" in u for u in sent) == 10 and not [u for u in sent if "/query/" in u]
    assert sf.queries[1].endswith(f"WHERE Id > '{pages[0].data[-1].id}' ORDER BY Id LIMIT 101")


def test_listing_survives_other_listings_by_the_same_user(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    made = sf.seed(deals=450)
    page = client.crm.deals.list(connection_id=conn.id, limit=150)
    # Meanwhile the same user opens as many query locators as Salesforce keeps open for one user.
    token = sf.session_token()
    others = []
    for _ in range(sf.org.max_open_locators):
        response = httpx2.get(
            sf.url + "/services/data/v62.0/query",
            params={"q": "SELECT Id FROM Opportunity"},
            headers={"Authorization": f"Bearer {token}", "Sforce-Query-Options": "batchSize=200"},
        )
        others.append(response.json()["nextRecordsUrl"])
    ids = [d.id for d in page]
    assert ids == sorted(made["Opportunity"])
    # The listing opened no locator of its own, so every other listing's locator is still open.
    for locator in others:
        response = httpx2.get(sf.url + locator, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text


def test_limit_up_to_the_largest_batch_is_one_page(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    sf.seed(deals=700)
    first = client.crm.deals.list(connection_id=conn.id, limit=300)
    assert len(first.data) == 300
    assert first.next_cursor is not None and "/query" not in first.next_cursor
    assert [d.id for d in first] == [d.id for d in client.crm.deals.list(connection_id=conn.id)]
    assert len(client.crm.deals.list(connection_id=conn.id, limit=2000).data) == 700
    before = len(sf.received_requests)
    for limit in (0, -5, 2001):
        with pytest.raises(ValidationError) as caught:
            client.crm.deals.list(connection_id=conn.id, limit=limit)
        assert caught.value.details["fields"] == ["limit"] and caught.value.details["maximum"] == 2000
    assert sf.received_requests[before:] == []


def test_cursors_are_checked_before_sending(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    sf.seed(deals=5, contacts=5, companies=1)
    deals = client.crm.deals.list(connection_id=conn.id, limit=2)
    assert deals.next_cursor is not None
    before = len(sf.received_requests)
    forged = base64.urlsafe_b64encode(b'{"o":"Opportunity","after":"x\' OR Name != \'"}').decode()
    for cursor in (
        "/services/data/v62.0/query/01g8c0000000001-200",
        "k1." + forged,
        "k1.not-base64!",
        deals.next_cursor + "x",
    ):
        with pytest.raises(ValidationError) as caught:
            client.crm.deals.list(connection_id=conn.id, cursor=cursor)
        assert caught.value.details["fields"] == ["cursor"]
    with pytest.raises(ValidationError):  # a deals cursor is not a contacts cursor
        client.crm.contacts.list(connection_id=conn.id, cursor=deals.next_cursor)
    assert sf.received_requests[before:] == []


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


def test_updated_after_and_filters_combine_with_the_keyset(
    client: Client, sf: FakeSalesforce, conn: Connection
) -> None:
    made = sf.seed(deals=40)["Opportunity"]
    cutoff = SEED_EPOCH + timedelta(minutes=9, seconds=30)  # deals 11..40
    stage = sf.record("Opportunity", made[12])["StageName"]  # type: ignore[index]
    expected = [i for i in made[10:] if sf.record("Opportunity", i)["StageName"] == stage]  # type: ignore[index]
    pages = list(
        client.crm.deals.list(connection_id=conn.id, updated_after=cutoff, limit=2, stage_id=stage).iter_pages()
    )
    assert [d.id for p in pages for d in p.data] == expected and len(pages) > 1
    keyset = f"Id > '{pages[-2].data[-1].id}'"
    assert f"WHERE LastModifiedDate > 2024-01-01T00:09:30Z AND StageName = '{stage}' AND {keyset}" in sf.queries[-1]


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
    hostile = client.crm.deals.list(connection_id=conn.id, stage_id="Closed Won' OR Name != '")
    assert hostile.data == []
    assert "StageName = 'Closed Won\\' OR Name != \\''" in sf.queries[-1]
    stage = client.crm.deals.list(connection_id=conn.id, stage_id="Closed Won")
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
