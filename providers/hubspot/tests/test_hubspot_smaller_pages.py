"""Smaller pages when big pages time out, against the HubSpot fake (issue #11, item 7).

A listing page that still times out after the pipeline's own attempts (1 + 2 retries) is asked once
more with half the page size; the walk goes on from there, every record exactly once. The fake's
``slow_pages(n)`` makes every page asking for more than ``n`` records time out as HubSpot does under
load (504), and ``page_sizes()`` counts the ``limit`` of every page that reached it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hubspot_testkit import connect_api_key, new_client
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import AsyncClient, Client
from unified_sdk import errors as e


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    # The rate limits are lifted so the only failures are the timed-out pages.
    with FakeHubSpot(ten_second_limit=1_000_000, search_limit_per_second=None) as hubspot:
        yield hubspot


def _stored(fake: FakeHubSpot) -> list[str]:
    return sorted((r["id"] for r in fake.records("deals")), key=int)


def test_list_pages_that_always_time_out_are_served_at_half_size(client: Client, fake: FakeHubSpot) -> None:
    fake.seed(deals=130)
    conn = connect_api_key(client, fake)
    fake.slow_pages(50)  # under load: every page of more than 50 deals answers 504

    ids = [d.id for d in client.crm.deals.list(connection_id=conn.id, limit=100)]

    assert ids == _stored(fake)  # every deal once, in HubSpot's id order
    # Each page: three attempts at 100 (all 504), then one at 50; the next page asks for 100 again.
    assert fake.page_sizes("deals") == [100, 100, 100, 50] * 3
    assert fake.status_counts[504] == 9
    assert [log.status for log in client.logs.list(connection_id=conn.id) if log.status == 504] == [504] * 9


def test_the_first_page_times_out_then_the_walk_continues_at_full_size(client: Client, fake: FakeHubSpot) -> None:
    fake.seed(deals=250)
    conn = connect_api_key(client, fake)
    # HubSpot's edge answers with an HTML page rather than HubSpot's JSON: still a timeout.
    fake.slow_pages(50, answer="gateway_timeout_html", times=3)

    ids = [d.id for d in client.crm.deals.list(connection_id=conn.id, limit=100)]

    assert ids == _stored(fake)
    assert fake.page_sizes("deals") == [100, 100, 100, 50, 100, 100]


def test_a_page_at_the_floor_is_not_shrunk(client: Client, fake: FakeHubSpot) -> None:
    fake.seed(deals=30)
    conn = connect_api_key(client, fake)
    fake.slow_pages(5)

    with pytest.raises(e.ProviderTimeoutError) as caught:
        client.crm.deals.list(connection_id=conn.id, limit=10)

    assert caught.value.status == 504 and caught.value.provider == "hubspot"
    assert fake.page_sizes("deals") == [10, 10, 10]


def test_a_stalled_page_that_used_the_callers_timeout_is_not_retried_smaller(client: Client, fake: FakeHubSpot) -> None:
    fake.seed(deals=120)
    conn = connect_api_key(client, fake)
    fake.faults.timeout_delay = 2.0
    fake.slow_pages(50, answer="stall")  # no answer before the client gives up

    with pytest.raises(e.ProviderTimeoutError):
        client.crm.deals.list(connection_id=conn.id, limit=100, timeout=0.5)

    assert fake.page_sizes("deals") == [100]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"sort": "name"}, id="sorted"),
        pytest.param({"sort": "created_at", "order": "desc"}, id="sorted-desc"),
        pytest.param({"updated_after": datetime(2000, 1, 1, tzinfo=UTC)}, id="filtered"),
    ],
)
def test_search_pages_that_always_time_out_keep_the_cursor_exact(
    client: Client, fake: FakeHubSpot, query: dict[str, Any]
) -> None:
    fake.seed(deals=130)
    conn = connect_api_key(client, fake)
    expected = [d.id for d in client.crm.deals.list(connection_id=conn.id, limit=100, **query)]
    assert sorted(expected, key=lambda i: int(i or 0)) == _stored(fake)
    before = len(fake.page_sizes("deals/search"))
    fake.slow_pages(50)

    ids = [d.id for d in client.crm.deals.list(connection_id=conn.id, limit=100, **query)]

    assert ids == expected  # the same records in the same order: nothing skipped or repeated
    assert fake.page_sizes("deals/search")[before:] == [100, 100, 100, 50] * 3
    assert fake.page_sizes("deals") == []


async def test_async_search_listing_continues_after_a_timed_out_page(tmp_path: Path, fake: FakeHubSpot) -> None:
    fake.seed(deals=250)
    aclient: Any = new_client(tmp_path, AsyncClient)
    try:
        conn = await aclient.connections.create(
            provider="hubspot", credentials={"api_key": fake.api_key}, config=fake.config
        )
        fake.slow_pages(50, times=3)
        page = await aclient.crm.deals.list(connection_id=conn.id, limit=100, sort="name")
        names = [(d.name, int(d.id)) async for d in page]
    finally:
        await aclient.aclose()

    assert sorted(i for _, i in names) == [int(i) for i in _stored(fake)]
    assert names == sorted(names, key=lambda n: ((n[0] or "").lower(), n[1]))
    assert fake.page_sizes("deals/search") == [100, 100, 100, 50, 100, 100]


def test_a_search_page_without_a_limit_is_retried_at_half_its_size(client: Client, fake: FakeHubSpot) -> None:
    # Without a limit a search page holds 200 records (HubSpot's search maximum), twice the list
    # endpoint's 100: the smaller page halves what was asked (100), not the list endpoint's size.
    fake.seed(deals=450)
    conn = connect_api_key(client, fake)
    expected = [d.id for d in client.crm.deals.list(connection_id=conn.id, sort="name")]
    before = len(fake.page_sizes("deals/search"))
    fake.slow_pages(150, times=3)

    ids = [d.id for d in client.crm.deals.list(connection_id=conn.id, sort="name")]

    assert ids == expected and sorted(ids, key=lambda i: int(i or 0)) == _stored(fake)
    assert fake.page_sizes("deals/search")[before:] == [200, 200, 200, 100, 200, 200]
