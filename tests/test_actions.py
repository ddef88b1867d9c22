"""The response-action table: defaults, overrides at each level, Retry-After, idempotency."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from tests.toy.server import ToyServer
from unified_sdk import Client, ResponseAction
from unified_sdk._actions import ActionPolicy
from unified_sdk._outcome import Category, Outcome
from unified_sdk._retry import backoff_delay, parse_retry_after, retry_delay
from unified_sdk.errors import AuthenticationError, ProviderError, RateLimitedError


def _outcome(status: int, category: Category) -> Outcome:
    return Outcome.failure(category, status=status)


class TestDecide:
    def test_defaults_follow_the_design_table(self) -> None:
        policy = ActionPolicy()
        expected = {
            (401, Category.AUTHENTICATION): ResponseAction.REFRESH_AND_RETRY,
            (403, Category.PERMISSION): ResponseAction.FAIL,
            (404, Category.NOT_FOUND): ResponseAction.FAIL,
            (422, Category.VALIDATION): ResponseAction.FAIL,
            (409, Category.CONFLICT): ResponseAction.FAIL,
            (402, Category.REQUEST_FAILED): ResponseAction.FAIL,
            (405, Category.METHOD_NOT_ALLOWED): ResponseAction.FAIL,
            (429, Category.RATE_LIMITED): ResponseAction.WAIT_AND_RETRY,
            (503, Category.PROVIDER_ERROR): ResponseAction.RETRY,
            (504, Category.TIMEOUT): ResponseAction.RETRY,
            (501, Category.NOT_IMPLEMENTED): ResponseAction.FAIL,
        }
        for (status, category), action in expected.items():
            decision = policy.decide(_outcome(status, category), provider="p", connection_id="c", operation="op")
            assert decision.action == action, (status, category)
            assert decision.reason == f"default(category={category})"

    def test_success_is_returned(self) -> None:
        decision = ActionPolicy().decide(Outcome.success(200), provider="p", connection_id="c", operation="op")
        assert decision.action == ResponseAction.SUCCEED

    def test_most_specific_override_wins(self) -> None:
        policy = ActionPolicy()
        out = _outcome(404, Category.NOT_FOUND)
        policy.set("retry", category="not_found", provider="p", max_retries=1)
        policy.set("succeed", category="not_found", connection_id="c1")
        policy.set("fail", category="not_found", operation="crm.deals.get", connection_id="c1")

        def action(conn: str, op: str, provider: str = "p") -> ResponseAction:
            return policy.decide(out, provider=provider, connection_id=conn, operation=op).action

        assert action("c9", "crm.deals.list") == ResponseAction.RETRY  # provider level
        assert action("c1", "crm.deals.list") == ResponseAction.SUCCEED  # connection beats provider
        assert action("c1", "crm.deals.get") == ResponseAction.FAIL  # operation beats connection
        assert action("c9", "crm.deals.list", provider="other") == ResponseAction.FAIL  # default

    def test_status_beats_category_at_the_same_level(self) -> None:
        policy = ActionPolicy()
        policy.set("retry", status=503, provider="p", max_retries=3)
        policy.set("fail", category="provider_error", provider="p")
        d = policy.decide(_outcome(503, Category.PROVIDER_ERROR), provider="p", connection_id=None, operation="x")
        assert (d.action, d.rule.max_retries) == (ResponseAction.RETRY, 3)
        assert d.reason == "override(provider=p, status=503)"
        d = policy.decide(_outcome(500, Category.PROVIDER_ERROR), provider="p", connection_id=None, operation="x")
        assert d.action == ResponseAction.FAIL

    def test_provider_defaults_sit_between_user_overrides_and_core_defaults(self) -> None:
        from unified_sdk._actions import ActionRule

        policy = ActionPolicy()
        provider_defaults = {"429": ActionRule(ResponseAction.FAIL)}
        out = _outcome(429, Category.RATE_LIMITED)
        d = policy.decide(out, provider="p", connection_id=None, operation="x", provider_defaults=provider_defaults)
        assert (d.action, d.reason) == (ResponseAction.FAIL, "provider(p, status=429)")
        policy.set("wait_and_retry", status=429, provider="p", max_retries=2)
        d = policy.decide(out, provider="p", connection_id=None, operation="x", provider_defaults=provider_defaults)
        assert d.action == ResponseAction.WAIT_AND_RETRY

    def test_provider_code_rules_beat_status_rules(self) -> None:
        from unified_sdk._actions import ActionRule

        policy = ActionPolicy()
        daily = Outcome.failure(Category.RATE_LIMITED, status=429, provider_code="DAILY")
        rolling = Outcome.failure(Category.RATE_LIMITED, status=429, provider_code="TEN_SECONDLY_ROLLING")
        defaults = {"code:DAILY": ActionRule(ResponseAction.FAIL), "429": ActionRule(ResponseAction.WAIT_AND_RETRY)}
        d = policy.decide(daily, provider="p", connection_id=None, operation="x", provider_defaults=defaults)
        assert (d.action, d.reason) == (ResponseAction.FAIL, "provider(p, code:DAILY)")
        d = policy.decide(rolling, provider="p", connection_id=None, operation="x", provider_defaults=defaults)
        assert d.action == ResponseAction.WAIT_AND_RETRY
        policy.set("retry", status=429, provider="p", max_retries=2)
        policy.set("fail", provider_code="TEN_SECONDLY_ROLLING", provider="p")
        d = policy.decide(rolling, provider="p", connection_id=None, operation="x")
        assert (d.action, d.reason) == (ResponseAction.FAIL, "override(provider=p, code=TEN_SECONDLY_ROLLING)")

    def test_set_needs_status_or_category(self) -> None:
        with pytest.raises(ValueError):
            ActionPolicy().set("retry")


class TestRetryAfter:
    def test_seconds(self) -> None:
        assert parse_retry_after({"retry-after": "7"}) == 7.0

    def test_http_date(self) -> None:
        now = time.time()
        value = formatdate(now + 30, usegmt=True)
        assert parse_retry_after({"retry-after": value}, now=now) == pytest.approx(30, abs=1)

    def test_past_date_and_garbage(self) -> None:
        assert parse_retry_after({"retry-after": formatdate(time.time() - 100, usegmt=True)}) == 0.0
        assert parse_retry_after({"retry-after": "soon"}) is None
        assert parse_retry_after({}) is None

    def test_milliseconds_header(self) -> None:
        assert parse_retry_after({"retry-after-ms": "250"}) == 0.25

    def test_delay_is_capped_and_backoff_is_jittered(self) -> None:
        assert retry_delay(1, 500.0, max_delay=60) == 60
        assert backoff_delay(3, base=0.5, cap=8, rand=1.0) == 2.0
        assert backoff_delay(10, base=0.5, cap=8, rand=1.0) == 8.0
        assert backoff_delay(3, rand=0.0) == 0.0


class TestPipelineActions:
    """The table applied over real HTTP to the toy server."""

    def _conn(self, client: Client, server: ToyServer) -> str:
        conn = client.connections.create(
            provider="toy", credentials={"api_key": "k-123456"}, config={"base_url": server.url}
        )
        return conn.id

    def test_503_on_get_is_retried(self, toy_client: Client, toy_server: ToyServer) -> None:
        cid = self._conn(toy_client, toy_server)
        toy_server.inject(status=503, times=2)
        page = toy_client.crm.deals.list(connection_id=cid, limit=5)
        assert len(page.data) == 5
        assert toy_server.hits["GET /items"] == 3
        actions = [(log.status, log.action, log.attempt) for log in reversed(toy_client.logs.list(connection_id=cid))]
        assert actions == [(503, "retry", 1), (503, "retry", 2), (200, "none", 3)]

    def test_post_is_not_resent_after_a_503(self, toy_client: Client, toy_server: ToyServer) -> None:
        cid = self._conn(toy_client, toy_server)
        toy_server.inject(status=503, times=1)
        with pytest.raises(ProviderError) as info:
            toy_client.crm.deals.create(connection_id=cid, data={"name": "x"})
        assert info.value.status == 503
        assert toy_server.hits["POST /items"] == 1
        (log,) = toy_client.logs.list(connection_id=cid)
        assert log.action == "fail"
        assert info.value.log_id == log.id

    def test_429_waits_for_retry_after_even_for_post(self, toy_client: Client, toy_server: ToyServer) -> None:
        cid = self._conn(toy_client, toy_server)
        toy_server.inject(status=429, times=1, retry_after=0)
        created = toy_client.crm.deals.create(connection_id=cid, data={"name": "after the wait"})
        assert created is not None and created.name == "after the wait"
        assert toy_server.hits["POST /items"] == 2
        logs = toy_client.logs.list(connection_id=cid)
        assert [log.action for log in reversed(logs)] == ["wait_and_retry", "none"]

    def test_429_with_a_long_retry_after_fails_at_once(self, toy_client: Client, toy_server: ToyServer) -> None:
        cid = self._conn(toy_client, toy_server)
        toy_server.inject(status=429, times=1, retry_after=3600)
        with pytest.raises(RateLimitedError) as info:
            toy_client.crm.deals.list(connection_id=cid)
        assert info.value.details["retry_after"] == 3600
        assert info.value.retryable is True
        assert toy_server.hits["GET /items"] == 1

    def test_user_can_make_401_retryable_for_one_provider(self, toy_client: Client, toy_server: ToyServer) -> None:
        cid = self._conn(toy_client, toy_server)
        toy_client.actions.set("retry", status=401, provider="toy", max_retries=1)
        toy_server.inject(status=401, times=1)
        assert len(toy_client.crm.deals.list(connection_id=cid, limit=3).data) == 3
        first = toy_client.logs.list(connection_id=cid)[-1]
        assert (first.status, first.action, first.action_reason) == (401, "retry", "override(provider=toy, status=401)")

    def test_401_on_an_api_key_fails_without_retry(self, toy_client: Client, toy_server: ToyServer) -> None:
        cid = self._conn(toy_client, toy_server)
        toy_server.inject(status=401, times=1)
        with pytest.raises(AuthenticationError):
            toy_client.crm.deals.list(connection_id=cid)
        assert toy_server.hits["GET /items"] == 1

    def test_operation_override_turns_404_into_success(self, toy_client: Client, toy_server: ToyServer) -> None:
        cid = self._conn(toy_client, toy_server)
        toy_client.actions.set("succeed", category="not_found", operation="crm.deals.list")
        toy_server.inject(status=404, times=1)
        page = toy_client.crm.deals.list(connection_id=cid)
        assert page.data == [] and page.next_cursor is None
