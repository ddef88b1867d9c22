"""Declared filters and sorts against the sandbox fake: exactly the matching records, in order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import AsyncClient, Client, Connection
from unified_sdk.errors import NotSupportedError


def _records(server: SandboxServer, name: str) -> list[dict[str, Any]]:
    return list(server.data.iter_records(name))


def _ids(page: Any) -> list[str]:
    return [r.id for r in page]


def test_each_deal_filter_returns_exactly_the_matching_deals(
    client: Client, conn: Connection, server: SandboxServer
) -> None:
    deals = _records(server, "deals")
    sample = next(d for d in deals if d["company_id"] and d["contact_ids"] and d["owner_id"])
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"stage_id": sample["stage_id"]}, {d["id"] for d in deals if d["stage_id"] == sample["stage_id"]}),
        ({"pipeline_id": "pip_renewals"}, {d["id"] for d in deals if d["pipeline_id"] == "pip_renewals"}),
        ({"user_id": sample["owner_id"]}, {d["id"] for d in deals if d["owner_id"] == sample["owner_id"]}),
        ({"company_id": sample["company_id"]}, {d["id"] for d in deals if d["company_id"] == sample["company_id"]}),
        (
            {"contact_id": sample["contact_ids"][0]},
            {d["id"] for d in deals if sample["contact_ids"][0] in d["contact_ids"]},
        ),
        ({"query": "SEATS"}, {d["id"] for d in deals}),
        ({"query": sample["title"][:6].lower()}, {d["id"] for d in deals if sample["title"][:6] in d["title"]}),
        (
            {"created_after": datetime.fromisoformat(sample["created_at"])},
            {d["id"] for d in deals if d["created_at"] >= sample["created_at"]},
        ),
        (
            {"stage_id": sample["stage_id"], "user_id": sample["owner_id"]},
            {d["id"] for d in deals if d["stage_id"] == sample["stage_id"] and d["owner_id"] == sample["owner_id"]},
        ),
    ]
    for filters, expected in cases:
        assert expected, filters
        found = _ids(client.crm.deals.list(connection_id=conn.id, limit=7, **filters))
        assert len(found) == len(set(found)) and set(found) == expected, filters
    assert len({frozenset(e) for _, e in cases}) > 3  # the filters really narrow the listing


def test_contact_and_company_filters(client: Client, conn: Connection, server: SandboxServer) -> None:
    contacts = _records(server, "contacts")
    sample = next(c for c in contacts if c["company_id"] and c["owner_id"])
    email = sample["emails"][0]["address"]
    assert _ids(client.crm.contacts.list(connection_id=conn.id, email=email.upper())) == [sample["id"]]
    by_company = {c["id"] for c in contacts if c["company_id"] == sample["company_id"]}
    assert set(_ids(client.crm.contacts.list(connection_id=conn.id, company_id=sample["company_id"]))) == by_company
    by_owner = {c["id"] for c in contacts if c["owner_id"] == sample["owner_id"]}
    assert set(_ids(client.crm.contacts.list(connection_id=conn.id, user_id=sample["owner_id"], limit=3))) == by_owner
    companies = _records(server, "companies")
    owner = companies[0]["owner_id"]
    expected = {c["id"] for c in companies if c["owner_id"] == owner}
    assert set(_ids(client.crm.companies.list(connection_id=conn.id, user_id=owner))) == expected
    word = companies[0]["name"].split()[0]
    expected = {c["id"] for c in companies if word.casefold() in f"{c['name']} {c['domain']}".casefold()}
    assert set(_ids(client.crm.companies.list(connection_id=conn.id, query=word))) == expected


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", ["created_at", "updated_at", "name"])
def test_sorts_walk_every_page_in_order(
    client: Client, conn: Connection, server: SandboxServer, sort: str, order: str
) -> None:
    deals = _records(server, "deals")
    key = "title" if sort == "name" else sort
    expected = [d["id"] for d in sorted(deals, key=lambda d: d[key], reverse=order == "desc")]
    page = client.crm.deals.list(connection_id=conn.id, limit=9, sort=sort, order=order)  # type: ignore[arg-type]
    assert _ids(page) == expected


async def test_async_filter_and_sort(aclient: AsyncClient, server: SandboxServer) -> None:
    conn = await aclient.connections.create(
        provider="sandbox", credentials={"api_key": server.api_key}, config=server.config
    )
    deals = _records(server, "deals")
    expected = [
        d["id"] for d in sorted(deals, key=lambda d: d["created_at"], reverse=True) if d["pipeline_id"] == "pip_sales"
    ]
    page = await aclient.crm.deals.list(
        connection_id=conn.id, pipeline_id="pip_sales", sort="created_at", order="desc", limit=10
    )
    assert [d.id async for d in page] == expected


def test_unsupported_filter_is_refused_before_any_request(
    client: Client, conn: Connection, server: SandboxServer
) -> None:
    client.crm.deals.list(connection_id=conn.id, limit=1)  # the adapter is loaded, the connection cached
    before = server.count()
    with pytest.raises(NotSupportedError) as info:
        client.crm.pipelines.list(connection_id=conn.id, updated_after=datetime.fromisoformat("2024-01-01T00:00:00Z"))
    assert info.value.provider == "sandbox" and "updated_after" in info.value.message
    assert info.value.details["filters"] == ["updated_after"]
    assert server.count() == before


def test_unknown_keyword_is_a_type_error(client: Client, conn: Connection, server: SandboxServer) -> None:
    before = server.count()
    with pytest.raises(TypeError):
        client.crm.deals.list(connection_id=conn.id, limt=5)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        client.crm.deals.list(connection_id=conn.id, stage="Demo")  # type: ignore[call-arg]
    assert server.count() == before


def test_writing_a_field_the_sandbox_cannot_write_is_refused(
    client: Client, conn: Connection, server: SandboxServer
) -> None:
    before = server.count()
    with pytest.raises(NotSupportedError) as info:
        client.crm.contacts.create(connection_id=conn.id, data={"first_name": "Ada", "deal_ids": ["dl_1"]})
    assert info.value.details["fields"] == ["deal_ids"] and "deal_ids" in info.value.message
    assert server.count() == before
