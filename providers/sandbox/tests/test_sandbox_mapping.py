"""The sandbox's translation tables, proved for every value: what a caller writes is what a read gives back.

Each property runs through ``Client`` over real HTTP against the sandbox fake: ``create`` then ``get``
reads back the same unified values, and ``update`` of a subset changes that subset and nothing else.
Values are realistic for the sandbox: exact decimals, timestamps at its millisecond precision, dates for
``closing_at``, one domain/website/phone/email per company. The deliberate rules every provider shares
follow: ``name`` split at its last space, one value where the sandbox stores one, metadata names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_testkit import PROVIDER, connect_api_key, new_client
from unified_sdk_sandbox.crm.deals import DealsAdapter
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import Client
from unified_sdk.errors import ValidationError
from unified_sdk.models import Address

PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@dataclass(frozen=True)
class Env:
    client: Client
    server: SandboxServer
    connection_id: str
    users: list[str]
    companies: list[str]
    contacts: list[str]
    stages: dict[str, tuple[str, str]]
    """stage id -> (its kind: open/won/lost, its pipeline id)."""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with (
        SandboxServer(deals=0, contacts=6, companies=6, rate_limit=1_000_000) as server,
        new_client(Path(tmp_path_factory.mktemp("sandbox-mapping"))) as client,
    ):
        data = server.data
        yield Env(
            client,
            server,
            connect_api_key(client, server).id,
            users=list(data.users),
            companies=list(data.companies.records),
            contacts=list(data.contacts.records),
            stages={sid: (stage["kind"], pipeline["id"]) for sid, (stage, pipeline) in data.stages.items()},
        )


# -- strategies --------------------------------------------------------------------------------------

TEXT = st.text(st.characters(categories=("L", "N", "P", "Zs")), min_size=1, max_size=30).filter(str.strip)
OPTIONAL_TEXT = st.none() | TEXT
WORD = st.from_regex(r"[a-z][a-z0-9]{0,11}", fullmatch=True)
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
MOMENT = st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=ZONES).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)  # the sandbox keeps milliseconds
)
DAY = st.dates(date(1990, 1, 1), date(2100, 1, 1)).map(lambda d: datetime(d.year, d.month, d.day, tzinfo=UTC))
AMOUNT = st.integers(0, 4).flatmap(
    lambda places: st.decimals(Decimal(-(10**9)), Decimal(10**9), places=places, allow_nan=False)
)
PERCENT = st.integers(0, 10_000).map(lambda n: n / 100)
METADATA = st.lists(
    st.fixed_dictionaries({"slug": WORD, "value": TEXT | st.integers(-(10**6), 10**6) | st.booleans()}),
    max_size=3,
    unique_by=lambda m: m["slug"],
)
PHONE = st.from_regex(r"\+[1-9][0-9]{6,11}", fullmatch=True)
ADDRESS = st.dictionaries(st.sampled_from(list(Address.model_fields)), TEXT, min_size=1)


def email(domain: str) -> st.SearchStrategy[str]:
    return WORD.map(lambda local: f"{local}@{domain}")


def deal_writes(env: Env) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "name": TEXT,
            "amount": AMOUNT,
            "currency": st.sampled_from(["USD", "EUR", "GBP", "JPY"]),
            "probability": PERCENT,
            "stage_id": st.sampled_from(sorted(env.stages)),
            "closing_at": DAY,
            "closed_at": MOMENT,
            "source": OPTIONAL_TEXT,
            "tags": st.lists(TEXT, max_size=4, unique=True),
            "user_id": st.sampled_from(env.users),
            "company_ids": st.lists(st.sampled_from(env.companies), max_size=1),
            "contact_ids": st.lists(st.sampled_from(env.contacts), max_size=3, unique=True),
            "metadata": METADATA,
        }
    )


def contact_writes(env: Env) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "first_name": TEXT,
            "last_name": TEXT,
            "title": OPTIONAL_TEXT,
            "department": OPTIONAL_TEXT,
            "image_url": st.none() | WORD.map(lambda w: f"https://img.example/{w}.png"),
            "user_id": st.sampled_from(env.users),
            "company_ids": st.lists(st.sampled_from(env.companies), max_size=1),
            "emails": st.lists(
                st.fixed_dictionaries({"email": email("prop.example"), "type": st.none() | WORD}),
                max_size=3,
                unique_by=lambda e: e["email"],
            ),
            "telephones": st.lists(st.fixed_dictionaries({"telephone": PHONE, "type": st.none() | WORD}), max_size=2),
            "address": ADDRESS,
            "metadata": METADATA,
        }
    )


def company_writes(env: Env) -> st.SearchStrategy[dict[str, Any]]:
    domain = WORD.map(lambda w: f"{w}.prop.example")
    return st.fixed_dictionaries(
        {
            "name": TEXT,
            "domains": st.lists(domain, max_size=1),
            "websites": st.lists(domain.map(lambda d: f"https://www.{d}"), max_size=1),
            "industry": OPTIONAL_TEXT,
            "employees": st.none() | st.integers(0, 10**6),
            "address": ADDRESS,
            # The sandbox keeps one phone and one email per company, typed "main" and "work".
            "telephones": st.lists(st.fixed_dictionaries({"telephone": PHONE, "type": st.just("main")}), max_size=1),
            "emails": st.lists(
                st.fixed_dictionaries({"email": email("co.example"), "type": st.just("work")}), max_size=1
            ),
            "description": OPTIONAL_TEXT,
            "user_id": st.sampled_from(env.users),
            "metadata": METADATA,
        }
    )


# -- what a read shows of a write --------------------------------------------------------------------


def shown(data: Mapping[str, Any], before: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The unified values a read gives back for ``data`` written over ``before`` (the earlier write)."""
    out = {**(before or {}), **data}
    if out.get("address") is not None:
        out["address"] = {**dict.fromkeys(Address.model_fields), **out["address"]}
    if "metadata" in out:
        merged: dict[str, Any] = {}  # the sandbox merges custom fields into the record's
        for entries in ((before or {}).get("metadata") or [], data.get("metadata") or []):
            merged.update((m["slug"], m["value"]) for m in entries)
        out["metadata"] = [{"id": k, "slug": k, "value": v} for k, v in merged.items()]
    return out


def read_back(model: Any, expected: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = model.model_dump(include=set(expected))
    return found


def round_trip(
    env: Env,
    resource: str,
    created: dict[str, Any],
    changes: dict[str, Any],
    check: Callable[[Any, dict[str, Any]], None] = lambda model, expected: None,
) -> None:
    """Create ``created`` and read it back, update ``changes`` and read back; then delete the record."""
    api = getattr(env.client.crm, resource)
    cid = env.connection_id
    record = api.create(connection_id=cid, data=created)
    try:
        expected = shown(created)
        got = api.get(connection_id=cid, id=record.id)
        assert read_back(got, expected) == expected
        assert read_back(record, expected) == expected  # what create returned, too
        check(got, expected)
        expected = shown(changes, before=created)
        got = api.update(connection_id=cid, id=record.id, data=changes)
        assert read_back(got, expected) == expected
        got = api.get(connection_id=cid, id=record.id)
        assert read_back(got, expected) == expected
        check(got, expected)
    finally:
        api.delete(connection_id=cid, id=record.id)


def subset(case: st.DataObject, data: Mapping[str, Any], *, groups: tuple[tuple[str, ...], ...] = ()) -> dict[str, Any]:
    """Some of ``data``'s fields (at least one); the fields of a group go together."""
    grouped = {name for group in groups for name in group}
    units = [group for group in groups if group[0] in data] + [(k,) for k in data if k not in grouped]
    chosen = case.draw(st.lists(st.sampled_from(units), min_size=1, unique=True))
    return {name: data[name] for unit in chosen for name in unit}


# -- the properties ----------------------------------------------------------------------------------


@PROPERTY
@given(case=st.data())
def test_every_deal_write_reads_back(env: Env, case: st.DataObject) -> None:
    created = case.draw(deal_writes(env))
    kind, _ = env.stages[created["stage_id"]]
    if kind in ("won", "lost"):  # the sandbox keeps one close reason; its deal status says which
        created[f"{kind}_reason"] = case.draw(TEXT)
    changes = subset(case, case.draw(deal_writes(env)), groups=(("amount", "currency"),))

    def check(deal: Any, expected: dict[str, Any]) -> None:
        assert deal.pipeline_id == env.stages[expected["stage_id"]][1]
        assert (deal.won_reason, deal.lost_reason) == (created.get("won_reason"), created.get("lost_reason"))

    round_trip(env, "deals", created, changes, check)


@PROPERTY
@given(case=st.data())
def test_every_contact_write_reads_back(env: Env, case: st.DataObject) -> None:
    created = case.draw(contact_writes(env))
    changes = subset(case, case.draw(contact_writes(env)))
    names = {c: env.server.data.companies.records[c]["name"] for c in env.companies}

    def check(contact: Any, expected: dict[str, Any]) -> None:
        assert contact.name == f"{expected['first_name']} {expected['last_name']}"
        assert contact.company == (names[expected["company_ids"][0]] if expected["company_ids"] else None)

    round_trip(env, "contacts", created, changes, check)


@PROPERTY
@given(case=st.data())
def test_every_company_write_reads_back(env: Env, case: st.DataObject) -> None:
    created = case.draw(company_writes(env))
    changes = subset(case, case.draw(company_writes(env)))
    round_trip(env, "companies", created, changes)


# -- the rules every provider shares ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [("Mary Ann Smith", "Mary Ann", "Smith"), ("Cher", None, "Cher"), ("  Ada   Lovelace ", "Ada", "Lovelace")],
)
def test_a_name_alone_is_split_at_its_last_space(env: Env, full: str, first: str | None, last: str) -> None:
    contact = env.client.crm.contacts.create(connection_id=env.connection_id, data={"name": full})
    try:
        assert (contact.first_name, contact.last_name) == (first, last)
    finally:
        env.client.crm.contacts.delete(connection_id=env.connection_id, id=contact.id)


@pytest.mark.parametrize(
    ("resource", "field", "values"),
    [
        ("deals", "company_ids", ["co_a", "co_b"]),
        ("contacts", "company_ids", ["co_a", "co_b"]),
        ("companies", "domains", ["a.example", "b.example"]),
        ("companies", "websites", ["https://a.example", "https://b.example"]),
        ("companies", "emails", [{"email": "a@a.example"}, {"email": "b@a.example"}]),
        ("companies", "telephones", [{"telephone": "+15550100"}, {"telephone": "+15550101"}]),
    ],
)
def test_more_than_one_value_where_the_sandbox_keeps_one_is_refused(
    env: Env, resource: str, field: str, values: list[Any]
) -> None:
    api = getattr(env.client.crm, resource)
    before = len(env.server.requests)
    writes: list[Callable[[], Any]] = [
        lambda: api.create(connection_id=env.connection_id, data={"name": "x", field: values}),
        lambda: api.update(connection_id=env.connection_id, id="rec_1", data={field: values}),
    ]
    for write in writes:
        with pytest.raises(ValidationError) as caught:
            write()
        assert type(caught.value) is ValidationError
        assert caught.value.details is not None and caught.value.details["fields"] == [field]
    assert env.server.requests[before:] == []  # never silently the first


def test_a_metadata_entry_without_a_name_is_refused(env: Env) -> None:
    before = len(env.server.requests)
    with pytest.raises(ValidationError) as caught:
        env.client.crm.deals.create(
            connection_id=env.connection_id, data={"name": "x", "metadata": [{"value": "no name"}]}
        )
    assert type(caught.value) is ValidationError
    assert caught.value.details is not None and caught.value.details["fields"] == ["metadata"]
    assert env.server.requests[before:] == []


def test_timestamps_are_written_in_the_sandbox_spelling() -> None:
    body = DealsAdapter(PROVIDER).to_provider(
        {
            "closed_at": datetime(2030, 1, 5, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
            "closing_at": datetime(2030, 1, 2, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
        }
    )
    assert body == {"closed_at": "2030-01-05T08:00:00.123Z", "expected_close_date": "2030-01-03"}
