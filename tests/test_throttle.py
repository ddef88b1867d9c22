"""The client-side throttle: pure bookkeeping over rate-limit budgets."""

from __future__ import annotations

from unified_sdk._throttle import Throttle
from unified_sdk.provider import RateLimit


def test_waits_only_when_a_budget_is_spent_and_keeps_policies_apart() -> None:
    throttle = Throttle(reserve=1)
    throttle.update("c", RateLimit(remaining=3, limit=100, reset_after=10, policy="TEN_SECONDLY_ROLLING"))
    throttle.update("c", RateLimit(remaining=1, limit=5, reset_after=0.5, policy="SEARCH_SECONDLY"))
    wait = throttle.before_send("c")
    assert 0.4 < wait <= 0.5  # the per-second search budget is spent
    throttle.update("c", RateLimit(remaining=50, limit=100, reset_after=10, policy="TEN_SECONDLY_ROLLING"))
    assert throttle.before_send("c") > 0  # the rolling budget's update did not erase the search one
    assert throttle.reset_after("c") is not None


def test_counts_down_between_responses() -> None:
    throttle = Throttle(reserve=1)
    throttle.update("c", RateLimit(remaining=3, limit=10, reset_after=5))
    assert throttle.before_send("c") == 0.0  # 3 -> 2
    assert throttle.before_send("c") == 0.0  # 2 -> 1
    assert throttle.before_send("c") > 4.0  # spent: wait for the reset
    assert throttle.before_send("other") == 0.0


def test_a_budget_refills_at_its_reset() -> None:
    throttle = Throttle(reserve=1)
    throttle.update("c", RateLimit(remaining=0, limit=10, reset_after=0))
    assert throttle.before_send("c") == 0.0
