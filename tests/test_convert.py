"""The plugin API's shared value converters and field maps (``unified_sdk.provider.convert``, ``FieldMap``),
for every value: what a plugin writes with them reads back as the same unified value."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unified_sdk import errors as e
from unified_sdk.models import Deal
from unified_sdk.provider import FieldMap, MappedField, ObjectAdapter, OperationContext, OperationFlow, convert

FAST = settings(max_examples=200, deadline=None)

amounts = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets)
words = st.text(alphabet=st.characters(categories=("L",)), min_size=1, max_size=12)


@FAST
@given(amounts)
def test_every_amount_written_as_text_reads_back_exactly(amount: Decimal) -> None:
    text = convert.decimal_text(amount)
    assert text is not None and "e" not in text.lower()
    assert convert.decimal(text) == amount


@FAST
@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_a_json_float_reads_as_the_decimal_it_prints_as(value: float) -> None:
    assert convert.decimal(value) == Decimal(str(value))


@pytest.mark.parametrize("junk", [None, "", "abc", "NaN", "Infinity", True, [], {}])
def test_an_unreadable_number_reads_as_none(junk: Any) -> None:
    assert convert.decimal(junk) is None
    assert convert.integer(junk) is None


def test_integers_refuse_fractions() -> None:
    assert convert.integer("12") == 12 and convert.integer(12.0) == 12 and convert.integer("12.5") is None


@FAST
@given(moments)
def test_every_moment_written_reads_back_to_the_millisecond(moment: datetime) -> None:
    truncated = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    for utc in ("Z", "+0000"):
        text = convert.timestamp_text(moment, utc=utc)
        assert text is not None and text.endswith(utc)
        assert convert.timestamp(text) == truncated
    assert convert.timestamp(str(convert.millis(moment))) == truncated
    assert convert.timestamp(convert.millis(moment)) == truncated


def test_epoch_milliseconds_are_exact() -> None:
    # ``timestamp() * 1000`` in floats gives ...297 for this one.
    assert convert.millis(datetime(2039, 6, 29, 19, 58, 19, 298000, tzinfo=UTC)) % 1000 == 298


def test_timestamps_read_every_spelling_providers_use() -> None:
    noon = datetime(2024, 1, 31, 12, tzinfo=UTC)
    assert convert.timestamp("2024-01-31T12:00:00.000Z") == noon
    assert convert.timestamp("2024-01-31T12:00:00.000+0000") == noon
    assert convert.timestamp("2024-01-31T13:00:00+01:00") == noon
    assert convert.timestamp("2024-01-31T12:00:00") == noon  # no offset: UTC
    assert convert.timestamp("2024-01-31") == datetime(2024, 1, 31, tzinfo=UTC)
    assert convert.timestamp("1706702400000") == noon
    assert convert.timestamp("") is None and convert.timestamp("yesterday") is None


@FAST
@given(moments)
def test_a_date_is_the_utc_date_of_a_moment(moment: datetime) -> None:
    assert convert.date_text(moment) == moment.astimezone(UTC).date().isoformat()
    assert convert.date_text(date(2024, 2, 29)) == "2024-02-29"


@FAST
@given(st.decimals(min_value=0, max_value=100, places=4))
def test_every_percentage_survives_a_fraction(percent: Decimal) -> None:
    fraction = convert.fraction_from_percent(percent)
    assert fraction is not None
    assert convert.percent_from_fraction(str(fraction)) == pytest.approx(float(percent), abs=1e-9)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("true", True), ("TRUE", True), ("1", True), (False, False), ("false", False), ("0", False)],
)
def test_booleans_read_the_strings_providers_send(value: Any, expected: bool) -> None:
    assert convert.boolean(value) is expected


def test_anything_else_is_not_a_boolean() -> None:
    assert convert.boolean("maybe") is None and convert.boolean(None) is None and convert.boolean(1) is None


@FAST
@given(st.lists(words, min_size=1, max_size=4))
def test_every_full_name_splits_at_its_last_space_and_joins_back(parts: list[str]) -> None:
    first, last = convert.split_name(" ".join(parts))
    assert last == parts[-1]
    assert first == (" ".join(parts[:-1]) or None)
    assert convert.join_name(first, last) == " ".join(parts)


def test_an_empty_name_splits_into_nothing() -> None:
    assert convert.split_name("  ") == (None, None)


def test_a_list_field_stored_as_one_value_refuses_two() -> None:
    assert convert.single([], "company_ids", provider="acme", what="company") is None
    assert convert.single(["1"], "company_ids", provider="acme", what="company") == "1"
    with pytest.raises(e.ValidationError) as caught:
        convert.single(["1", "2"], "company_ids", provider="acme", what="company")
    assert caught.value.details["fields"] == ["company_ids"] and caught.value.provider == "acme"


def test_metadata_values_take_slug_then_id_and_refuse_what_the_provider_does_not_accept() -> None:
    items = [{"slug": "region__c", "value": "EU"}, {"id": "tier__c", "value": Decimal("2.5")}, {"slug": "x__c"}]
    assert convert.metadata_values(items, provider="acme", value=str) == {
        "region__c": "EU",
        "tier__c": "2.5",
        "x__c": None,
    }
    with pytest.raises(e.ValidationError) as caught:
        convert.metadata_values(
            [{"slug": "Region", "value": 1}], provider="acme", accept=lambda n: n.endswith("__c"), rule="…__c"
        )
    assert caught.value.details["fields"] == ["metadata"]
    with pytest.raises(e.ValidationError):
        convert.metadata_values([{"value": 1}], provider="acme")


def test_an_address_of_empty_values_is_none() -> None:
    assert convert.address({"city": None, "country": ""}) is None
    found = convert.address({"city": "Lyon", "country": None})
    assert found is not None and found.city == "Lyon" and found.country is None


# -- field maps -----------------------------------------------------------------------------------------

DEALS = FieldMap(
    MappedField("name", "dealname"),
    MappedField("amount", "amount", read=convert.decimal, write=convert.decimal_text),
    MappedField("closing_at", "closedate", read=convert.timestamp, write=convert.timestamp_text),
    MappedField("probability", "probability", read=convert.number, writable=False),
    ("user_id", "owner"),
    default_read=convert.text,
)


@FAST
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.one_of(st.none(), words),
            "amount": st.one_of(st.none(), amounts),
            "closing_at": st.one_of(st.none(), moments.map(lambda m: m.replace(microsecond=0))),
            "user_id": st.one_of(st.none(), words),
        },
    )
)
def test_every_write_through_a_field_map_reads_back(data: dict[str, Any]) -> None:
    written = DEALS.write(data)
    assert set(written) == {DEALS.provider_name(k) for k in data}  # only what the caller set
    read = DEALS.read(written)
    for key, value in data.items():
        assert read[key] == value


def test_a_field_map_names_both_sides_and_leaves_computed_fields_unwritten() -> None:
    assert DEALS.provider_names == ("dealname", "amount", "closedate", "probability", "owner")
    assert DEALS.writable == {"name", "amount", "closing_at", "user_id"}
    assert DEALS.unified_name("closedate") == "closing_at" and DEALS.provider_name("probability") is None
    assert DEALS.write({"probability": 5, "stage": "x"}) == {}
    assert DEALS.read({"dealname": ""})["name"] is None  # default_read: an empty string is unset


# -- the adapter base ---------------------------------------------------------------------------------------


class _Deals(ObjectAdapter[Deal]):
    mapping = DEALS

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> Deal:
        return Deal(id=str(record["id"]), stage=lookups.get(record.get("stage")), **self.mapping.read(record))

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        if data.get("stage") == "bad":
            raise e.ValidationError("no such stage", details={"fields": ["stage"]})
        return self.mapping.write(data)

    def lookups(self, ctx: OperationContext, records: Any) -> OperationFlow[Any]:
        return {"s1": "Won"}
        yield  # pragma: no cover

    def resolve(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[Mapping[str, Any]]:
        if data.get("stage") == "lookup-fails":
            raise e.ValidationError("the provider refused the lookup", status=400)
        return data
        yield  # pragma: no cover


def _run(flow: OperationFlow[Any]) -> Any:
    try:
        next(flow)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("no request expected")


CTX = OperationContext(connection_id="c", provider="acme", config={}, operation="crm.deals.create_many")


def test_unify_reads_lookups_once_per_page() -> None:
    deals = _run(_Deals(None).unify(CTX, [{"id": 1, "stage": "s1", "amount": "2.50"}, {"id": 2}]))  # type: ignore[arg-type]
    assert [(d.id, d.stage, d.amount) for d in deals] == [("1", "Won", Decimal("2.50")), ("2", None, None)]


def test_a_batch_item_the_mapping_refuses_gets_its_error_and_the_others_go_on() -> None:
    out = _run(_Deals(None).provider_fields_each(CTX, [{"name": "a"}, {"stage": "bad"}, {"amount": 1}]))  # type: ignore[arg-type]
    assert out[0] == {"dealname": "a"} and out[2] == {"amount": "1"}
    assert isinstance(out[1], e.ValidationError) and out[1].details["fields"] == ["stage"]


def test_a_lookup_the_provider_refused_fails_the_whole_batch() -> None:
    with pytest.raises(e.ValidationError):
        _run(_Deals(None).provider_fields_each(CTX, [{"name": "a"}, {"stage": "lookup-fails"}]))  # type: ignore[arg-type]
