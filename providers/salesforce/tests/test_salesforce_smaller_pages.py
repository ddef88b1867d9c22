"""Smaller pages when big pages time out, against the Salesforce fake (issue #11, item 7).

A listing page that still times out after the pipeline's own attempts (1 + 2 retries) is asked once
more with half the page size; the keyset walk goes on from its last record, every record exactly once.
The fake's ``slow_pages(n)`` makes every query page of more than ``n`` records time out: a 504 from
the gateway, or Salesforce's own ``QUERY_TIMEOUT`` (400, "Your query request was running for too
long"), which counts as a timeout too. ``page_sizes()`` counts the page (``LIMIT``) of every query.

The adapter asks for one record more than the page (``LIMIT limit + 1``) to learn whether another
page follows, so a page of 100 is a query of 101 records.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sf_testkit import ALL_SCOPES, REDIRECT_URI, connect, new_client
from unified_sdk_salesforce.fake import SEED_EPOCH, FakeSalesforce

from unified_sdk import AsyncClient, Client
from unified_sdk import errors as e
from unified_sdk.testing import authorize_async


def _walk(client: Client, connection_id: str, **query: Any) -> list[str]:
    return [str(d.id) for d in client.crm.deals.list(connection_id=connection_id, limit=100, **query)]


def _stored(sf: FakeSalesforce, since: datetime | None = None) -> list[str]:
    return sorted(str(r["Id"]) for r in sf.records("Opportunity") if since is None or r["LastModifiedDate"] > since)


@pytest.mark.parametrize("answer", ["gateway_timeout", "query_timeout"])
def test_pages_that_always_time_out_are_served_at_half_size(client: Client, sf: FakeSalesforce, answer: str) -> None:
    sf.seed(deals=130)
    conn = connect(client, sf)
    sf.slow_pages(60, answer=answer)  # under load: every query of more than 60 records times out

    ids = _walk(client, conn.id)

    assert ids == _stored(sf)  # every deal once, in Id order
    # Each page: three attempts at 100 (+1), then one at 50 (+1); the next page asks for 100 again.
    assert sf.page_sizes("Opportunity") == [101, 101, 101, 51] * 3


def test_query_timeout_is_a_timeout(client: Client, sf: FakeSalesforce) -> None:
    """Salesforce's own "the query ran too long" answer (400 QUERY_TIMEOUT) is a timed-out page, not a bad
    request: retried like a 504, then served smaller; at the floor it fails as ProviderTimeoutError."""
    sf.seed(deals=30)
    conn = connect(client, sf)
    sf.slow_pages(5, answer="query_timeout")

    with pytest.raises(e.ProviderTimeoutError) as caught:
        client.crm.deals.list(connection_id=conn.id, limit=10)

    error = caught.value
    assert (error.category, error.status, error.provider_code) == ("timeout", 400, "QUERY_TIMEOUT")
    assert error.provider_message == "Your query request was running for too long."
    assert error.retryable
    assert sf.page_sizes("Opportunity") == [11, 11, 11]  # three attempts, none smaller: 10 is the floor
    logs = [log for log in client.logs.list(connection_id=conn.id) if log.status == 400]
    assert sorted((log.attempt, log.category, log.action) for log in logs) == [
        (1, "timeout", "retry"),
        (2, "timeout", "retry"),
        (3, "timeout", "fail"),
    ]


def test_a_page_at_the_floor_is_not_shrunk(client: Client, sf: FakeSalesforce) -> None:
    sf.seed(deals=30)
    conn = connect(client, sf)
    sf.slow_pages(5)

    with pytest.raises(e.ProviderTimeoutError) as caught:
        client.crm.deals.list(connection_id=conn.id, limit=10)

    assert caught.value.status == 504 and caught.value.provider == "salesforce"
    assert sf.page_sizes("Opportunity") == [11, 11, 11]


def test_a_page_without_a_limit_is_retried_at_half_the_largest_batch(client: Client, sf: FakeSalesforce) -> None:
    sf.seed(deals=30)
    conn = connect(client, sf)
    sf.slow_pages(1000, times=3)

    ids = [str(d.id) for d in client.crm.deals.list(connection_id=conn.id)]

    assert ids == _stored(sf)
    assert sf.page_sizes("Opportunity") == [2000, 2000, 2000, 1001]


def test_a_stalled_page_that_used_the_callers_timeout_is_not_retried_smaller(
    client: Client, sf: FakeSalesforce
) -> None:
    sf.seed(deals=120)
    conn = connect(client, sf)
    sf.faults.timeout_delay = 2.0
    sf.slow_pages(60, answer="stall")  # no answer before the client gives up

    with pytest.raises(e.ProviderTimeoutError):
        client.crm.deals.list(connection_id=conn.id, limit=100, timeout=0.5)

    assert sf.page_sizes("Opportunity") == [101]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"sort": "name"}, id="name"),
        pytest.param({"sort": "created_at", "order": "desc"}, id="created-desc"),
        pytest.param(
            {"sort": "updated_at", "updated_after": SEED_EPOCH + timedelta(minutes=19, seconds=30)}, id="filtered"
        ),
    ],
)
def test_sorted_keyset_pages_that_always_time_out_keep_the_cursor_exact(
    client: Client, sf: FakeSalesforce, query: dict[str, Any]
) -> None:
    sf.seed(deals=130)
    conn = connect(client, sf)
    expected = _walk(client, conn.id, **query)
    since = query.get("updated_after")
    assert sorted(expected) == _stored(sf, since) and len(expected) == (110 if since else 130)
    before = len(sf.page_sizes("Opportunity"))
    sf.slow_pages(60)

    ids = _walk(client, conn.id, **query)

    assert ids == expected  # the same records in the same order: nothing skipped or repeated
    assert sf.page_sizes("Opportunity")[before:] == [101, 101, 101, 51] * 3


async def test_async_listing_continues_after_a_timed_out_page(tmp_path: Path, sf: FakeSalesforce) -> None:
    sf.seed(deals=250)
    aclient: Any = new_client(tmp_path, AsyncClient)
    try:
        conn = await authorize_async(aclient, sf, "salesforce", ALL_SCOPES, redirect_uri=REDIRECT_URI)
        sf.slow_pages(60, answer="query_timeout", times=3)
        page = await aclient.crm.deals.list(connection_id=conn.id, limit=100, sort="name")
        ids = [str(d.id) async for d in page]
    finally:
        await aclient.aclose()

    assert sorted(ids) == _stored(sf) and len(ids) == len(set(ids))
    # 50 records, then two full pages of 100 (the second one's 101st record is not there: the end).
    assert sf.page_sizes("Opportunity") == [101, 101, 101, 51, 101, 101]
