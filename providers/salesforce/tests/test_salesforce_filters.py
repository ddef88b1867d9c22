"""Declared filters and sorts against the Salesforce fake (SOQL WHERE, ORDER BY); required fields in unified names."""

from __future__ import annotations

from typing import Any

import pytest
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client, Connection
from unified_sdk.errors import NotSupportedError, ValidationError


def _records(sf: FakeSalesforce, sobject: str) -> list[dict[str, Any]]:
    with sf.org.lock:
        return [dict(r) for r in sf.org.records[sobject].values() if not r.get("IsDeleted")]


def _ids(page: Any) -> list[str]:
    return [r.id for r in page]


def test_each_deal_filter_returns_exactly_the_matching_opportunities(
    client: Client, sf: FakeSalesforce, conn: Connection
) -> None:
    sf.seed(companies=3, deals=25)
    opps = _records(sf, "Opportunity")
    sample = opps[4]
    middle = sorted(o["CreatedDate"] for o in opps)[10]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"stage_id": sample["StageName"]}, {o["Id"] for o in opps if o["StageName"] == sample["StageName"]}),
        ({"user_id": sample["OwnerId"]}, {o["Id"] for o in opps if o["OwnerId"] == sample["OwnerId"]}),
        ({"company_id": sample["AccountId"]}, {o["Id"] for o in opps if o["AccountId"] == sample["AccountId"]}),
        ({"query": "opportunity 0001"}, {o["Id"] for o in opps if "Opportunity 0001" in o["Name"]}),
        ({"created_after": middle}, {o["Id"] for o in opps if o["CreatedDate"] > middle}),
    ]
    for filters, expected in cases:
        assert expected and len(expected) < len(opps), filters
        found = _ids(client.crm.deals.list(connection_id=conn.id, limit=4, **filters))
        assert len(found) == len(set(found)) and set(found) == expected, filters


def test_contact_and_company_filters(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    sf.seed(companies=3, contacts=12)
    contacts = _records(sf, "Contact")
    sample = contacts[2]
    assert _ids(client.crm.contacts.list(connection_id=conn.id, email=sample["Email"])) == [sample["Id"]]
    expected = {c["Id"] for c in contacts if c["AccountId"] == sample["AccountId"]}
    assert set(_ids(client.crm.contacts.list(connection_id=conn.id, company_id=sample["AccountId"]))) == expected
    accounts = _records(sf, "Account")
    owner = accounts[0]["OwnerId"]
    expected = {a["Id"] for a in accounts if a["OwnerId"] == owner}
    assert set(_ids(client.crm.companies.list(connection_id=conn.id, user_id=owner))) == expected
    assert _ids(client.crm.companies.list(connection_id=conn.id, query=accounts[1]["Name"])) == [accounts[1]["Id"]]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize(("sort", "field"), [("created_at", "CreatedDate"), ("name", "Name")])
def test_sorts_page_through_every_record_in_order(
    client: Client, sf: FakeSalesforce, conn: Connection, sort: str, field: str, order: str
) -> None:
    sf.seed(companies=2, deals=11)
    opps = _records(sf, "Opportunity")
    expected = [o["Id"] for o in sorted(opps, key=lambda o: (o[field], o["Id"]), reverse=order == "desc")]
    page = client.crm.deals.list(connection_id=conn.id, limit=3, sort=sort, order=order)  # type: ignore[arg-type]
    assert _ids(page) == expected


@pytest.mark.parametrize("filters", [{"pipeline_id": "default"}, {"contact_id": "003000000000001AAA"}])
def test_undeclared_filters_are_refused_before_any_request(
    client: Client, sf: FakeSalesforce, conn: Connection, filters: dict[str, str]
) -> None:
    before = len(sf.received_requests)
    with pytest.raises(NotSupportedError) as info:
        client.crm.deals.list(connection_id=conn.id, **filters)  # type: ignore[arg-type]
    assert info.value.provider == "salesforce" and next(iter(filters)) in info.value.message
    assert sf.received_requests[before:] == []


def test_required_fields_are_named_in_unified_terms(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    with pytest.raises(ValidationError) as info:
        client.crm.deals.create(connection_id=conn.id, data={"name": "No stage"})
    assert info.value.provider_code == "REQUIRED_FIELD_MISSING"
    assert info.value.details["fields"] == ["stage_id", "closing_at"]
    assert info.value.details["provider_fields"] == ["StageName", "CloseDate"]
    assert (info.value.hint or "").endswith("set the required fields: stage_id (StageName), closing_at (CloseDate)")
