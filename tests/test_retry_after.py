"""Retry-After parsing never raises and never yields an unusable wait: anything unparsable falls back
to the normal backoff."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.toy.server import ToyServer
from unified_sdk import Client
from unified_sdk._retry import MAX_RETRY_AFTER, MAX_RETRY_DELAY, parse_retry_after, retry_delay

NOW = 1_700_000_000.0
UNUSABLE = ["nan", "NaN", "inf", "-inf", "Infinity", "-1", "-0.5", "1e400", "1e9", "garbage", "", "  ", "5 seconds"]


def _usable(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and 0.0 <= value <= MAX_RETRY_AFTER)


@pytest.mark.parametrize("value", UNUSABLE)
@pytest.mark.parametrize("header", ["retry-after", "retry-after-ms"])
def test_unusable_values_mean_no_retry_after(header: str, value: str) -> None:
    assert parse_retry_after({header: value}, now=NOW) is None


def test_usable_values_are_kept() -> None:
    assert parse_retry_after({"retry-after": "7"}, now=NOW) == 7.0
    assert parse_retry_after({"retry-after": "0.5"}, now=NOW) == 0.5
    assert parse_retry_after({"retry-after-ms": "250"}, now=NOW) == 0.25
    assert parse_retry_after({"retry-after": "Tue, 14 Nov 2023 22:13:30 GMT"}, now=NOW) == 10.0
    assert parse_retry_after({"retry-after": "Mon, 01 Jan 2001 00:00:00 GMT"}, now=NOW) == 0.0  # in the past


@given(st.text())
def test_any_text_parses_to_a_usable_wait_or_none(text: str) -> None:
    for header in ("retry-after", "retry-after-ms"):
        assert _usable(parse_retry_after({header: text}, now=NOW))


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_number_parses_to_a_usable_wait_or_none(number: float) -> None:
    for text in (repr(number), str(number), f"{number:f}" if math.isfinite(number) else str(number)):
        assert _usable(parse_retry_after({"retry-after": text}, now=NOW))


@given(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), st.integers(1, 50))
def test_retry_delay_is_always_a_finite_sleep(retry_after: float | None, attempt: int) -> None:
    delay = retry_delay(attempt, retry_after, rand=0.5)
    assert math.isfinite(delay) and 0.0 <= delay <= MAX_RETRY_DELAY


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "1e400", "soon"])
def test_a_429_with_an_unparsable_retry_after_is_retried_after_the_backoff(
    toy_client: Client, toy_server: ToyServer, value: str
) -> None:
    conn = toy_client.connections.create(
        provider="toy", credentials={"api_key": "k"}, config={"base_url": toy_server.url}
    )
    toy_server.inject(status=429, times=1, retry_after=value)
    assert len(toy_client.crm.deals.list(connection_id=conn.id, limit=3).data) == 3
    assert toy_server.hits["GET /items"] == 2
    logs = toy_client.logs.list(connection_id=conn.id)
    assert [(log.status, log.action) for log in reversed(logs)] == [(429, "wait_and_retry"), (200, "none")]
