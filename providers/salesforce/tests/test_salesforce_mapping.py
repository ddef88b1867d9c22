"""The translation tables, for every value: what a write sets reads back the same, through the Client over
HTTP against the local Salesforce; and the rules every provider shares (one value where Salesforce stores
one, names split at the last space, dates written in UTC), refused or applied before anything is sent."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sf_testkit import connect, new_client
from unified_sdk_salesforce.crm._values import domain
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client
from unified_sdk.errors import ValidationError

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
STAGES = ("Prospecting", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost")


class Env:
    """One local Salesforce and one client for every example (records accumulate; each test reads its own)."""

    def __init__(self, client: Client, sf: FakeSalesforce, connection_id: str) -> None:
        self.client, self.sf, self.connection_id = client, sf, connection_id
        self.accounts = sf.seed(companies=3)["Account"]
        self.users = [u["Id"] for u in sf.records("User")]

    def sent(self) -> int:
        return len(self.sf.received_requests)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with FakeSalesforce() as sf, new_client(Path(tmp_path_factory.mktemp("sf-mapping"))) as client:
        yield Env(client, sf, connect(client, sf).id)


# -- strategies: the unified values a caller writes -----------------------------------------------------
_WORDS = st.text(st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=12)
TEXT = st.lists(_WORDS, min_size=1, max_size=4).map(" ".join)
"""Realistic field text: words of letters and digits (any script) and single spaces."""
PHRASE = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "Zs"), exclude_characters="\n\r"), max_size=60
).map(str.strip)
"""Free text with punctuation (quotes, backslashes, percent signs…), on one line."""
OPTIONAL = st.none() | TEXT
AMOUNTS = st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False, allow_infinity=False)
"""Currency amounts with cents: exactly representable as Salesforce's JSON numbers (15 digits)."""
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
CLOSE_TIMES = st.one_of(
    st.dates(date(1990, 1, 1), date(2100, 12, 31)).map(lambda d: datetime.combine(d, time(), UTC)),
    st.datetimes(datetime(1990, 1, 1), datetime(2100, 12, 31), timezones=OFFSETS),
)
"""A close date (a Salesforce date): midnight UTC, or any aware datetime (its date in UTC is written)."""
PHONE = st.from_regex(r"\+[1-9][0-9]{0,2} [0-9]{3} [0-9]{4,7}", fullmatch=True)
WEBSITE = st.builds(
    lambda www, label, tld: f"https://{'www.' if www else ''}{label}.{tld}/",
    st.booleans(),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True),
    st.sampled_from(("example", "com", "co.uk", "io")),
)


def _address() -> st.SearchStrategy[dict[str, Any]]:
    line1 = st.none() | TEXT
    return st.builds(
        lambda a1, a2, city, region, postal, country: {
            "address1": a1,
            "address2": a2 if a1 is not None else None,  # a second street line needs a first
            "city": city,
            "region": region,
            "postal_code": postal,
            "country": country,
        },
        line1,
        st.none() | TEXT,
        OPTIONAL,
        OPTIONAL,
        st.none() | st.from_regex(r"[0-9A-Z]{3,5}( [0-9A-Z]{3})?", fullmatch=True),
        OPTIONAL,
    )


def _deal_fields(env: Env) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "name": TEXT,
        "amount": st.none() | AMOUNTS,
        "probability": st.none() | st.integers(0, 100).map(float),
        "stage_id": st.sampled_from(STAGES),
        "closing_at": CLOSE_TIMES,
        "source": OPTIONAL,
        "user_id": st.sampled_from(env.users),
        "company_ids": st.sampled_from([[], *([a] for a in env.accounts)]),
        "metadata": st.builds(
            lambda region, score: [
                {"slug": "Region__c", "value": region},
                {"slug": "Forecast_Score__c", "value": score},
            ],
            st.none() | st.sampled_from(("AMER", "EMEA", "APAC")),
            st.none() | st.decimals(0, 100, places=1),
        ),
    }


def _phone(kind: str) -> st.SearchStrategy[dict[str, str]]:
    return PHONE.map(lambda number: {"telephone": number, "type": kind})


def _contact_fields(env: Env) -> dict[str, st.SearchStrategy[Any]]:
    phones = st.lists(st.sampled_from(("work", "mobile", "home")), unique=True, max_size=3).flatmap(
        lambda kinds: st.tuples(*(_phone(kind) for kind in kinds)).map(list)
    )
    return {
        "first_name": OPTIONAL,
        "last_name": TEXT,
        "title": OPTIONAL,
        "department": OPTIONAL,
        "user_id": st.sampled_from(env.users),
        "emails": st.lists(st.emails().map(lambda e: {"email": e, "type": "work"}), max_size=1),
        "telephones": phones,
        "address": _address(),
        "company_ids": st.sampled_from([[], *([a] for a in env.accounts)]),
        "metadata": (st.none() | st.sampled_from(("Email", "Phone", "Chat"))).map(
            lambda v: [{"slug": "Preferred_Channel__c", "value": v}]
        ),
    }


def _company_fields(env: Env) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "name": PHRASE.filter(bool),
        "industry": OPTIONAL,
        "employees": st.none() | st.integers(0, 10**7),
        "description": st.none() | PHRASE.filter(bool),
        "user_id": st.sampled_from(env.users),
        "websites": st.lists(WEBSITE, max_size=1),
        "telephones": st.lists(PHONE.map(lambda t: {"telephone": t, "type": "work"}), max_size=1),
        "address": _address(),
        "metadata": (st.none() | st.sampled_from(("Gold", "Silver"))).map(lambda v: [{"slug": "Tier__c", "value": v}]),
    }


FIELDS: dict[str, Callable[[Env], dict[str, st.SearchStrategy[Any]]]] = {
    "deals": _deal_fields,
    "contacts": _contact_fields,
    "companies": _company_fields,
}


# -- what a write reads back as -------------------------------------------------------------------------
def _read_back(resource: str, key: str, value: Any) -> Any:
    """The unified value a get returns for ``value`` written to ``key`` (in comparable form)."""
    if key == "closing_at":
        return datetime.combine(value.astimezone(UTC).date(), time(), UTC)
    if key == "amount":
        return None if value is None else Decimal(value).normalize()
    if key == "metadata":
        return {m["slug"]: None if m["value"] is None else _metadata_value(m["value"]) for m in value}
    if key == "address":
        return {k: v for k, v in value.items() if v is not None} or None
    if key == "emails":
        return [(e["email"], "work") for e in value]
    if key == "telephones":
        return sorted((t["telephone"], t["type"]) for t in value)
    return value


def _metadata_value(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _observed(resource: str, key: str, model: Any) -> Any:
    value = getattr(model, key)
    if key == "amount":
        return None if value is None else value.normalize()
    if key == "metadata":
        return {m.slug: m.value for m in value or []}
    if key == "address":
        return None if value is None else value.model_dump(exclude_none=True) or None
    if key == "emails":
        return [(e.email, e.type) for e in value or []]
    if key == "telephones":
        return sorted((t.telephone, t.type) for t in value or [])
    return value


def _check(resource: str, model: Any, written: Mapping[str, Any]) -> None:
    for key, value in written.items():
        expected = _read_back(resource, key, value)
        observed = _observed(resource, key, model)
        if key == "metadata":
            observed = {k: observed.get(k) for k in expected}
        assert observed == expected, key
    if resource == "deals":
        assert model.stage == model.stage_id
    if resource == "companies":
        assert model.domains == [domain(w) for w in model.websites or []]
    if resource == "contacts":
        assert model.name == " ".join(p for p in (model.first_name, model.last_name) if p)


def _merged(resource: str, before: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """The write data the record holds after ``change`` updates a record created from ``before``."""
    after = {**before, **change}
    if resource == "contacts" and "telephones" in change:
        # Each telephone goes to the Salesforce field of its type; fields of types not written keep theirs.
        by_type = {t["type"]: t for t in before["telephones"]} | {t["type"]: t for t in change["telephones"]}
        after["telephones"] = list(by_type.values())
    if resource == "deals" and "stage_id" in change and "probability" not in change:
        after.pop("probability")  # a new stage sets its default probability, as Salesforce does
    return after


@st.composite
def _writes(draw: st.DrawFn, env: Env, resource: str) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = FIELDS[resource](env)
    created = {key: draw(strategy) for key, strategy in fields.items()}
    keys = draw(st.sets(st.sampled_from(sorted(fields)), min_size=1))
    changed = {key: draw(fields[key]) for key in sorted(keys)}
    return created, changed


@pytest.mark.parametrize("resource", ["deals", "contacts", "companies"])
@SETTINGS
@given(data=st.data())
def test_what_a_write_sets_reads_back_the_same(env: Env, resource: str, data: st.DataObject) -> None:
    created, changed = data.draw(_writes(env, resource))
    objects = getattr(env.client.crm, resource)
    record = objects.create(connection_id=env.connection_id, data=created)
    assert record is not None and record.id is not None
    _check(resource, objects.get(connection_id=env.connection_id, id=record.id), created)

    objects.update(connection_id=env.connection_id, id=record.id, data=changed)
    _check(resource, objects.get(connection_id=env.connection_id, id=record.id), _merged(resource, created, changed))


# -- the rules every provider shares ---------------------------------------------------------------------
DEAL = {"name": "Renewal", "stage_id": "Prospecting", "closing_at": datetime(2025, 6, 30, tzinfo=UTC)}


@pytest.mark.parametrize(
    ("resource", "data", "field"),
    [
        ("deals", {**DEAL, "company_ids": ["ACCOUNT", "ACCOUNT2"]}, "company_ids"),
        ("contacts", {"last_name": "Hopper", "company_ids": ["ACCOUNT", "ACCOUNT2"]}, "company_ids"),
        ("contacts", {"last_name": "Hopper", "emails": [{"email": "a@x.example"}, {"email": "b@x.example"}]}, "emails"),
        (
            "contacts",
            {"last_name": "Hopper", "telephones": [{"telephone": "+1 555 0100"}, {"telephone": "+1 555 0101"}]},
            "telephones",
        ),
        (
            "contacts",
            {
                "last_name": "Hopper",
                "telephones": [{"telephone": "+1 555 0100", "type": "mobile"}, {"telephone": "+1 5", "type": "mobile"}],
            },
            "telephones",
        ),
        ("companies", {"name": "Acme", "websites": ["https://a.example", "https://b.example"]}, "websites"),
        ("companies", {"name": "Acme", "domains": ["a.example", "b.example"]}, "domains"),
        (
            "companies",
            {"name": "Acme", "telephones": [{"telephone": "+1 555 0100"}, {"telephone": "+1 555 0101"}]},
            "telephones",
        ),
    ],
)
@pytest.mark.parametrize("operation", ["create", "update"])
def test_more_values_than_salesforce_stores_are_refused_before_sending(
    env: Env, resource: str, data: dict[str, Any], field: str, operation: str
) -> None:
    data = {k: [env.accounts[0], env.accounts[1]] if k == "company_ids" else v for k, v in data.items()}
    objects = getattr(env.client.crm, resource)
    existing = env.accounts[2] if resource == "companies" else None
    if operation == "update" and existing is None:
        existing = objects.create(
            connection_id=env.connection_id, data={k: v for k, v in data.items() if k != field}
        ).id
    before, stored = env.sent(), env.sf.records(objects_sobject(resource))
    with pytest.raises(ValidationError) as info:
        if operation == "create":
            objects.create(connection_id=env.connection_id, data=data)
        else:
            objects.update(connection_id=env.connection_id, id=existing, data={field: data[field]})
    assert info.value.details["fields"] == [field] and info.value.provider == "salesforce"
    assert field in info.value.message and "nothing was sent" in (info.value.hint or "")
    assert env.sent() == before  # not one request reached the fake
    assert env.sf.records(objects_sobject(resource)) == stored


def objects_sobject(resource: str) -> str:
    return {"deals": "Opportunity", "contacts": "Contact", "companies": "Account"}[resource]


def test_a_batch_item_with_two_accounts_fails_alone(env: Env) -> None:
    rows = [{**DEAL, "name": "One"}, {**DEAL, "name": "Two", "company_ids": env.accounts[:2]}, {**DEAL, "name": "3"}]
    result = env.client.crm.deals.create_many(connection_id=env.connection_id, data=rows)
    assert [item.ok for item in result.items] == [True, False, True]
    error = result.items[1].error
    assert isinstance(error, ValidationError) and error.details["fields"] == ["company_ids"]
    assert error.status is None  # refused here: the item was never sent
    assert {r.name for r in result.records} == {"One", "3"}


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Mary Ann Smith", "Mary Ann", "Smith"),
        ("  Mary   Ann  Smith ", "Mary Ann", "Smith"),  # spaces between words do not survive into a name
        ("Cher", None, "Cher"),
    ],
)
def test_a_name_written_alone_is_split_at_its_last_space(env: Env, name: str, first: str | None, last: str) -> None:
    contact = env.client.crm.contacts.create(connection_id=env.connection_id, data={"name": name})
    assert contact is not None and contact.id is not None
    assert (contact.first_name, contact.last_name) == (first, last)
    stored = env.sf.record("Contact", contact.id)
    assert stored is not None and (stored["FirstName"], stored["LastName"]) == (first, last)


def test_a_close_time_is_written_as_its_date_in_utc(env: Env) -> None:
    evening = datetime(2025, 6, 30, 22, 30, tzinfo=timezone(timedelta(hours=-5)))  # 2025-07-01 03:30 UTC
    deal = env.client.crm.deals.create(connection_id=env.connection_id, data={**DEAL, "closing_at": evening})
    assert deal is not None and deal.id is not None
    assert deal.closing_at == datetime(2025, 7, 1, tzinfo=UTC)
    stored = env.sf.record("Opportunity", deal.id)
    assert stored is not None and stored["CloseDate"] == date(2025, 7, 1)


def test_required_fields_are_named_from_the_adapters_field_maps() -> None:
    from unified_sdk_salesforce._errors import unified_fields

    deals, contacts, companies = (unified_fields(s) for s in ("Opportunity", "Contact", "Account"))
    assert deals is not None and contacts is not None and companies is not None
    assert [deals(f) for f in ("StageName", "CloseDate", "AccountId", "Amount")] == [
        "stage_id",
        "closing_at",
        "company_ids",
        "amount",
    ]
    assert [contacts(f) for f in ("LastName", "Email", "MobilePhone", "MailingCity")] == [
        "last_name",
        "emails",
        "telephones",
        "address",
    ]
    assert [companies(f) for f in ("Name", "Website", "Phone", "BillingStreet")] == [
        "name",
        "websites",
        "telephones",
        "address",
    ]
    assert unified_fields("User") is None


def test_a_pipeline_other_than_the_orgs_one_is_refused_not_ignored() -> None:
    from unified_sdk_salesforce import SalesforceProvider
    from unified_sdk_salesforce.crm.deals import DealsAdapter

    from unified_sdk.errors import ValidationError
    from unified_sdk.provider import OperationContext

    adapter = DealsAdapter(SalesforceProvider())
    ctx = OperationContext(connection_id="c", provider="salesforce", config={}, operation="crm.deals.create")
    for field, value in (("pipeline_id", "renewals"), ("pipeline", "Renewals")):
        with pytest.raises(ValidationError) as refused:
            next(adapter.resolve(ctx, {"name": "x", field: value}))
        assert refused.value.details["fields"] == [field]
    flow = adapter.resolve(ctx, {"name": "x", "pipeline_id": "opportunity", "pipeline": "Opportunity"})
    with pytest.raises(StopIteration) as done:
        next(flow)
    assert done.value.value == {"name": "x"}
