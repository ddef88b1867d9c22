"""Exact paging, proved by properties: every Salesforce listing walks every record once, for every limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sf_testkit import connect, new_client
from unified_sdk_salesforce.crm._base import SalesforceObjectAdapter
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client
from unified_sdk.testing import check_exact_paging, paging_cases

MAX = SalesforceObjectAdapter.max_page_size


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, FakeSalesforce, str]]:
    # One server and client for every example: each example clears and reseeds the fake.
    with FakeSalesforce() as sf, new_client(Path(tmp_path_factory.mktemp("sf-paging"))) as client:
        yield client, sf, connect(client, sf).id


def test_limit_bounds_are_the_batch_bounds() -> None:
    assert MAX == 2000


@settings(max_examples=40, deadline=None)
@given(case=paging_cases(MAX))
@example(case=(1000, 100, 0))  # the issue: 900 records, then INVALID_QUERY_LOCATOR
@example(case=(1000, 100, 150))
@example(case=(400, 200, 0))  # a page boundary on the last record
@example(case=(1500, MAX, 10))
@example(case=(0, 1, 0))
@example(case=(3, 1, 2))
def test_every_record_exactly_once(env: tuple[Client, FakeSalesforce, str], case: tuple[int, int, int]) -> None:
    client, sf, connection_id = env
    total, limit, added = case
    check_exact_paging(client, connection_id, sf, total=total, limit=limit, add_during_walk=added)
    assert not sf.org.locators  # no listing left a query locator open


@settings(max_examples=10, deadline=None)
@given(total=st.integers(0, 300), limit=st.integers(1, 120))
def test_contacts_and_companies_too(env: tuple[Client, FakeSalesforce, str], total: int, limit: int) -> None:
    client, sf, connection_id = env
    for resource in ("contacts", "companies"):
        check_exact_paging(client, connection_id, sf, resource=resource, total=total, limit=limit, add_during_walk=2)
