"""Exact paging, proved by properties: every HubSpot listing walks every record once, for every limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hubspot_testkit import connect_api_key, new_client
from hypothesis import example, given, settings
from hypothesis import strategies as st
from unified_sdk_hubspot.crm._base import HubSpotObjectAdapter
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import Client
from unified_sdk.errors import ValidationError
from unified_sdk.testing import check_exact_paging, paging_cases

MAX = HubSpotObjectAdapter.max_page_size


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, FakeHubSpot, str]]:
    # One server and client for every example (each clears and reseeds the fake); the rate limit is
    # lifted so a walk with limit=1 is not throttled.
    with (
        FakeHubSpot(ten_second_limit=1_000_000) as hubspot,
        new_client(Path(tmp_path_factory.mktemp("hs-paging"))) as client,
    ):
        yield client, hubspot, connect_api_key(client, hubspot).id


def test_limit_above_the_list_maximum_is_refused(env: tuple[Client, FakeHubSpot, str]) -> None:
    client, hubspot, connection_id = env
    before = len(hubspot.received_requests)
    for limit in (0, -5, MAX + 1):
        with pytest.raises(ValidationError) as caught:
            client.crm.deals.list(connection_id=connection_id, limit=limit)
        assert caught.value.details == {"fields": ["limit"], "maximum": 100}
    assert hubspot.received_requests[before:] == []


@settings(max_examples=40, deadline=None)
@given(case=paging_cases(MAX))
@example(case=(1000, 100, 0))
@example(case=(200, 100, 5))  # a page boundary on the last record
@example(case=(0, 1, 0))
@example(case=(3, 1, 2))
def test_every_record_exactly_once(env: tuple[Client, FakeHubSpot, str], case: tuple[int, int, int]) -> None:
    client, hubspot, connection_id = env
    total, limit, added = case
    check_exact_paging(client, connection_id, hubspot, total=total, limit=limit, add_during_walk=added)


@settings(max_examples=10, deadline=None)
@given(total=st.integers(0, 300), limit=st.integers(1, MAX))
def test_contacts_and_companies_too(env: tuple[Client, FakeHubSpot, str], total: int, limit: int) -> None:
    client, hubspot, connection_id = env
    for resource in ("contacts", "companies"):
        check_exact_paging(
            client, connection_id, hubspot, resource=resource, total=total, limit=limit, add_during_walk=2
        )
