"""Exact paging, proved by properties: every sandbox listing walks every record once, for every limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sandbox_testkit import connect_api_key, new_client
from unified_sdk_sandbox.crm._base import SandboxObjectAdapter
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import Client
from unified_sdk.errors import ValidationError
from unified_sdk.testing import check_exact_paging, paging_cases

MAX = SandboxObjectAdapter.max_page_size


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, SandboxServer, str]]:
    # One server and client for every example: each example clears and reseeds the fake.
    with (
        SandboxServer(deals=0, contacts=0, companies=0, rate_limit=1_000_000) as server,
        new_client(Path(tmp_path_factory.mktemp("sandbox-paging"))) as client,
    ):
        yield client, server, connect_api_key(client, server).id


def test_limits_outside_the_sandbox_page_are_refused(env: tuple[Client, SandboxServer, str]) -> None:
    client, server, connection_id = env
    before = len(server.received_requests)
    for limit in (0, -5, MAX + 1):  # 0 and -5 used to be clamped silently to 100 and 1
        with pytest.raises(ValidationError) as caught:
            client.crm.deals.list(connection_id=connection_id, limit=limit)
        assert caught.value.details == {"fields": ["limit"], "maximum": 100}
    assert server.received_requests[before:] == []


@settings(max_examples=40, deadline=None)
@given(case=paging_cases(MAX))
@example(case=(1000, 100, 0))
@example(case=(200, 100, 5))  # a page boundary on the last record
@example(case=(0, 1, 0))
@example(case=(3, 1, 2))
def test_every_record_exactly_once(env: tuple[Client, SandboxServer, str], case: tuple[int, int, int]) -> None:
    client, server, connection_id = env
    total, limit, added = case
    check_exact_paging(
        client,
        connection_id,
        server,
        total=total,
        limit=limit,
        add_during_walk=added,
        add=lambda n: server.add(deals=n),  # the sandbox's seed() replaces the data set
    )


@settings(max_examples=10, deadline=None)
@given(total=st.integers(0, 300), limit=st.integers(1, MAX))
def test_contacts_and_companies_too(env: tuple[Client, SandboxServer, str], total: int, limit: int) -> None:
    client, server, connection_id = env
    check_exact_paging(
        client,
        connection_id,
        server,
        resource="contacts",
        total=total,
        limit=limit,
        add_during_walk=2,
        add=lambda n: server.add(contacts=n),
    )
    check_exact_paging(
        client,
        connection_id,
        server,
        resource="companies",
        total=total,
        limit=limit,
        add_during_walk=2,
        add=lambda n: server.add(companies=n),
    )
