"""The translation tables, proved for every value: what a caller writes through the Client is what it reads back.

Each example writes generated unified data over real HTTP to the local HubSpot (``create``, then ``update`` of a
subset) and reads the record back with ``get``. The deliberate mapping rules every provider shares (a name split at
its last space, one value where HubSpot stores one, metadata entries that must name a property, times in UTC) are
pinned below, each refused before anything is sent.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hubspot_testkit import connect_api_key, new_client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from unified_sdk_hubspot.fake import FakeHubSpot
from unified_sdk_hubspot.fake._store import default_pipelines

from unified_sdk import Client
from unified_sdk.errors import ValidationError

Env = tuple[Client, FakeHubSpot, str]

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

OWNERS = [str(90_000_001 + i) for i in range(5)]
STAGES = [(p["id"], s["id"]) for p in default_pipelines("2020-01-01T00:00:00.000Z") for s in p["stages"]]
_unique = itertools.count()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    # One server and client for every example; the rate limit is lifted so examples are not throttled.
    with (
        FakeHubSpot(ten_second_limit=1_000_000) as hubspot,
        new_client(Path(tmp_path_factory.mktemp("hs-mapping"))) as client,
    ):
        yield client, hubspot, connect_api_key(client, hubspot).id


# -- strategies: realistic unified write data ------------------------------------------------------------------
text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=24)
word = st.from_regex(r"[A-Za-z][a-z]{0,11}", fullmatch=True)
owner = st.sampled_from(OWNERS)
amounts = st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
offsets = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
# HubSpot keeps datetimes to the millisecond.
moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
)
phone = st.from_regex(r"\+[1-9][0-9]{1,3} [0-9]{3} [0-9]{4,7}", fullmatch=True)
domain = st.from_regex(r"[a-z][a-z0-9-]{0,14}\.example", fullmatch=True)


def _address(*parts: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({part: text for part in parts})


DEAL = {
    "name": text,
    "amount": amounts,
    "currency": st.sampled_from(["USD", "EUR", "GBP", "JPY"]),
    "closing_at": moments,
    "won_reason": text,
    "lost_reason": text,
    "user_id": owner,
    "metadata": st.tuples(st.sampled_from(["gold", "silver", "bronze"]), text).map(
        lambda m: [{"slug": "customer_tier", "value": m[0]}, {"slug": "renewal_notes", "value": m[1]}]
    ),
}
CONTACT = {
    "first_name": text,
    "last_name": text,
    "title": text,
    "company": text,
    "user_id": owner,
    "emails": st.from_regex(r"[a-z][a-z0-9._+-]{0,11}", fullmatch=True).map(
        lambda local: [{"email": f"{local}.{next(_unique)}@example.com", "type": "work"}]
    ),
    "telephones": st.tuples(st.none() | phone, st.none() | phone).map(
        lambda t: [{"telephone": n, "type": kind} for n, kind in zip(t, ("work", "mobile"), strict=True) if n]
    ),
    "address": _address("address1", "city", "region", "postal_code", "country"),
    "metadata": text.map(lambda v: [{"slug": "favourite_colour", "value": v}]),
}
COMPANY = {
    "name": text,
    "industry": st.sampled_from(["COMPUTER_SOFTWARE", "RETAIL", "BANKING"]),
    "employees": st.integers(min_value=0, max_value=10**7),
    "description": text,
    "user_id": owner,
    "domains": domain.map(lambda d: [d]),
    "websites": domain.map(lambda d: [f"https://www.{d}"]),
    "telephones": phone.map(lambda n: [{"telephone": n, "type": "work"}]),
    "address": _address("address1", "address2", "city", "region", "postal_code", "country"),
    "metadata": st.integers(min_value=0, max_value=100).map(lambda v: [{"slug": "account_health", "value": str(v)}]),
}
#: A deal's stage is valid only in its pipeline: written together.
STAGE = st.sampled_from(STAGES).map(lambda p: {"pipeline_id": p[0], "stage_id": p[1]})


def everything(fields: Mapping[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(dict(fields))


def some(fields: Mapping[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=dict(fields))


def read_back(record: Any, field: str) -> Any:
    """A field of a read record in the shape it was written (nested models as dicts)."""
    value = getattr(record, field)
    if field == "metadata":
        return {m.slug: m.value for m in value or ()}
    if field == "address":
        return {k: v for k, v in (value.model_dump() if value is not None else {}).items() if v is not None}
    if field in ("emails", "telephones"):
        return [item.model_dump() for item in value or ()]
    return value


def written(data: Mapping[str, Any], field: str) -> Any:
    value = data[field]
    return {m["slug"]: m["value"] for m in value} if field == "metadata" else value


def check_round_trip(env: Env, resource: str, create: dict[str, Any], change: dict[str, Any]) -> None:
    client, hubspot, connection_id = env
    objects = getattr(client.crm, resource)

    def check(record: Any, reread: Any, expected: Mapping[str, Any]) -> None:
        stored = {r["id"]: r for r in hubspot.records(resource)}[record.id]["properties"]
        for field in create:
            value = written(expected if field in expected else create, field)
            if field == "metadata":  # custom properties are read only when asked for (list(fields=...))
                assert {name: stored[name] for name in value} == value
                continue
            assert read_back(record, field) == value, field
            assert read_back(reread, field) == value, field

    created = objects.create(connection_id=connection_id, data=create)
    check(created, objects.get(connection_id=connection_id, id=created.id), create)
    updated = objects.update(connection_id=connection_id, id=created.id, data=change)
    check(updated, objects.get(connection_id=connection_id, id=created.id), change)


@SETTINGS
@given(create=everything(DEAL), stage=STAGE, change=some(DEAL), restage=st.none() | STAGE)
@example(  # a time whose float epoch seconds times 1000 fall just below its millisecond
    create={"name": "Float", "closing_at": datetime(2039, 6, 29, 19, 58, 19, 298000, tzinfo=UTC)},
    stage={},
    change={"closing_at": datetime(2001, 3, 4, 5, 6, 7, 9000, tzinfo=timezone(timedelta(hours=-8)))},
    restage=None,
)
def test_deal_fields_read_back_as_written(
    env: Env, create: dict[str, Any], stage: dict[str, Any], change: dict[str, Any], restage: dict[str, Any] | None
) -> None:
    check_round_trip(env, "deals", {**create, **stage}, {**change, **(restage or {})})


@SETTINGS
@given(create=everything(CONTACT), change=some(CONTACT))
def test_contact_fields_read_back_as_written(env: Env, create: dict[str, Any], change: dict[str, Any]) -> None:
    check_round_trip(env, "contacts", create, change)


@SETTINGS
@given(create=everything(COMPANY), change=some(COMPANY))
def test_company_fields_read_back_as_written(env: Env, create: dict[str, Any], change: dict[str, Any]) -> None:
    check_round_trip(env, "companies", create, change)


@SETTINGS
@given(first=st.lists(word, min_size=0, max_size=3), last=word)
def test_a_name_alone_is_split_at_its_last_space(env: Env, first: list[str], last: str) -> None:
    client, hubspot, connection_id = env
    contact = client.crm.contacts.create(connection_id=connection_id, data={"name": " ".join([*first, last])})
    stored = {r["id"]: r for r in hubspot.records("contacts")}[contact.id]["properties"]
    assert (stored["firstname"], stored["lastname"]) == (" ".join(first) or None, last)
    assert (contact.first_name, contact.last_name) == (" ".join(first) or None, last)


# -- one value where HubSpot stores one -------------------------------------------------------------------------
TWO = [
    ("contacts", {"emails": [{"email": "a@example.com"}, {"email": "b@example.com"}]}, "emails"),
    ("contacts", {"telephones": [{"telephone": "+1 1"}, {"telephone": "+1 2", "type": "home"}]}, "telephones"),
    ("contacts", {"telephones": [{"telephone": "+1 1", "type": "mobile"}] * 2}, "telephones"),
    ("companies", {"domains": ["a.example", "b.example"]}, "domains"),
    ("companies", {"websites": ["https://a.example", "https://b.example"]}, "websites"),
    ("companies", {"telephones": [{"telephone": "+1 1"}, {"telephone": "+1 2"}]}, "telephones"),
]


@pytest.mark.parametrize(("resource", "data", "field"), TWO)
def test_two_values_where_hubspot_keeps_one_are_refused_before_sending(
    env: Env, resource: str, data: dict[str, Any], field: str
) -> None:
    client, hubspot, connection_id = env
    objects = getattr(client.crm, resource)
    before = len(hubspot.requests)
    with pytest.raises(ValidationError) as create:
        objects.create(connection_id=connection_id, data={"name": "Two", **data})
    with pytest.raises(ValidationError) as update:
        objects.update(connection_id=connection_id, id="1001", data=data)
    for caught in (create, update):
        assert caught.value.details["fields"] == [field]
        assert field in str(caught.value) and caught.value.hint
    assert hubspot.requests[before:] == []


def test_a_list_of_telephones_replaces_both_the_work_and_the_mobile_phone(env: Env) -> None:
    client, hubspot, connection_id = env
    both = [{"telephone": "+1 555 0100", "type": "work"}, {"telephone": "+1 555 0199", "type": "mobile"}]
    contact = client.crm.contacts.create(connection_id=connection_id, data={"name": "Two Phones", "telephones": both})
    updated = client.crm.contacts.update(
        connection_id=connection_id, id=contact.id, data={"telephones": [{"telephone": "+1 555 0111"}]}
    )
    assert [(t.telephone, t.type) for t in updated.telephones or ()] == [("+1 555 0111", "work")]
    stored = {r["id"]: r for r in hubspot.records("contacts")}[contact.id]["properties"]
    assert (stored["phone"], stored["mobilephone"]) == ("+1 555 0111", None)


# -- metadata and times ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", [{"value": "gold"}, {"slug": "", "value": "gold"}, {"id": None, "value": 1}])
def test_a_metadata_entry_without_a_property_name_is_refused_before_sending(env: Env, entry: dict[str, Any]) -> None:
    client, hubspot, connection_id = env
    before = len(hubspot.requests)
    with pytest.raises(ValidationError) as caught:
        client.crm.deals.create(connection_id=connection_id, data={"name": "Tagged", "metadata": [entry]})
    assert caught.value.details["fields"] == ["metadata"] and caught.value.hint
    assert hubspot.requests[before:] == []


def test_times_are_written_in_utc_with_milliseconds_and_dates_as_dates(env: Env) -> None:
    client, hubspot, connection_id = env
    plus_two = timezone(timedelta(hours=2))
    deal = client.crm.deals.create(
        connection_id=connection_id,
        data={
            "name": "Dated",
            "closing_at": datetime(2026, 6, 30, 12, 0, 0, 250000, tzinfo=plus_two),
            "metadata": [
                {"slug": "renewal_notes", "value": date(2027, 1, 15)},
                {"slug": "customer_tier", "value": "gold"},
            ],
        },
    )
    stored = {r["id"]: r for r in hubspot.records("deals")}[deal.id]["properties"]
    assert stored["closedate"] == "2026-06-30T10:00:00.250Z"
    assert stored["renewal_notes"] == "2027-01-15"
    assert deal.closing_at == datetime(2026, 6, 30, 10, 0, 0, 250000, tzinfo=UTC)
    amount = client.crm.deals.update(connection_id=connection_id, id=deal.id, data={"amount": Decimal("1E+3")})
    assert {r["id"]: r for r in hubspot.records("deals")}[deal.id]["properties"]["amount"] == "1000"
    assert amount.amount == Decimal(1000)
