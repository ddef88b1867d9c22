"""The pipeline's decisions, driven directly: the flow is a generator, so a test plays the network.

No server: each test answers the flow's ``Send`` effects with responses or transport errors it
builds, runs its storage effects, and records its ``Sleep`` effects instead of sleeping. What is
asserted is what the flow decided: how many attempts, which waits, which error and its flags.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.toy.toy_plugin import ToyProvider
from unified_sdk import Client
from unified_sdk._calls import prepare
from unified_sdk._pipeline import Blocking, Call, CallOptions, Send, Sleep, send_flow
from unified_sdk.errors import (
    NetworkError,
    OutcomeUnknownError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    ValidationError,
)
from unified_sdk.provider import ProviderRequest, ProviderResponse
from unified_sdk.testing import set_jitter

Answer = httpx2.Response | Exception | Callable[[httpx2.Request], httpx2.Response | Exception]


@dataclass
class Played:
    """What a flow did while a test played the network for it."""

    requests: list[httpx2.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)


def play(call: Call, preq: ProviderRequest, answers: list[Answer]) -> tuple[ProviderResponse, Played]:
    """Drive ``send_flow`` to its end, answering each send with the next answer (the last repeats)."""
    played = Played()
    flow = send_flow(call, preq)
    result: Any = None
    try:
        effect = next(flow)
        while True:
            if isinstance(effect, Send):
                played.requests.append(effect.request)
                answer = answers[min(len(played.requests), len(answers)) - 1]
                result = answer(effect.request) if callable(answer) else answer
                if isinstance(result, httpx2.Response):
                    result.request = effect.request
                    result.read()
            elif isinstance(effect, Sleep):
                played.sleeps.append(effect.seconds)
                result = None
            elif isinstance(effect, Blocking):
                result = effect.fn()
            effect = flow.send(result)
    except StopIteration as stop:
        return stop.value, played


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(database_url=f"sqlite:///{tmp_path / 'p.db'}", providers={"toy": ToyProvider}, timeout=30) as c:
        set_jitter(c, lambda: 0.0)
        yield c


@pytest.fixture
def call(client: Client) -> Callable[[], Call]:
    conn = client.connections.create(provider="toy", credentials={"api_key": "k-1"})

    def make() -> Call:
        made, _ = prepare(client._runtime, conn.id, "crm.deals", "list")
        return made

    return make


def ok(body: bytes = b'{"items": []}', status: int = 200, **headers: str) -> httpx2.Response:
    return httpx2.Response(status, content=body, headers={"content-type": "application/json", **headers})


def test_a_get_answered_503_is_retried_with_backoff_then_reported(call: Callable[[], Call]) -> None:
    sent: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return ok(b'{"error": "down"}', 503)

    with pytest.raises(ProviderError) as caught:
        play(call(), ProviderRequest("GET", "/items"), [answer])
    assert len(sent) == 3  # the first attempt and two retries (the default rule)
    assert caught.value.retryable and caught.value.status == 503


def test_a_post_answered_503_is_not_re_sent(call: Callable[[], Call]) -> None:
    sent: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return ok(b"{}", 503)

    with pytest.raises(ProviderError) as caught:
        play(call(), ProviderRequest("POST", "/items", json={"label": "x"}), [answer])
    assert len(sent) == 1
    assert caught.value.retryable is False  # the provider may have processed it


def test_a_lost_answer_to_a_post_is_outcome_unknown(call: Callable[[], Call]) -> None:
    with pytest.raises(OutcomeUnknownError) as caught:
        play(call(), ProviderRequest("POST", "/items", json={"label": "x"}), [httpx2.ReadError("closed")])
    assert isinstance(caught.value, NetworkError)
    assert caught.value.retryable is False and caught.value.details["may_have_succeeded"] is True


def test_a_refused_connection_is_retried_even_for_a_post(call: Callable[[], Call]) -> None:
    response, played = play(
        call(), ProviderRequest("POST", "/items", json={"label": "x"}), [httpx2.ConnectError("refused"), ok()]
    )
    assert response.status == 200 and len(played.requests) == 2  # proven unsent: safe to send again


def test_retry_after_is_waited_then_the_call_succeeds(call: Callable[[], Call]) -> None:
    response, played = play(call(), ProviderRequest("GET", "/items"), [ok(b"{}", 429, **{"retry-after": "2"}), ok()])
    assert response.status == 200
    assert len(played.requests) == 2 and played.sleeps == [pytest.approx(2.0, abs=0.01)]


def test_an_unparsable_retry_after_falls_back_to_backoff(call: Callable[[], Call]) -> None:
    response, played = play(call(), ProviderRequest("GET", "/items"), [ok(b"{}", 429, **{"retry-after": "nan"}), ok()])
    assert response.status == 200 and len(played.sleeps) == 1 and 0 <= played.sleeps[0] < 30


def test_a_wait_longer_than_the_rule_allows_fails_at_once(call: Callable[[], Call]) -> None:
    with pytest.raises(RateLimitedError) as caught:
        play(call(), ProviderRequest("GET", "/items"), [ok(b"{}", 429, **{"retry-after": "3600"})])
    assert caught.value.retryable


def test_a_wait_that_would_cross_the_deadline_fails_now(client: Client, call: Callable[[], Call]) -> None:
    made, _ = prepare(client._runtime, call().conn.id, "crm.deals", "list", options=CallOptions(timeout=1.0))
    with pytest.raises(RateLimitedError) as caught:
        play(made, ProviderRequest("GET", "/items"), [ok(b"{}", 429, **{"retry-after": "5"})])
    assert caught.value.details.get("deadline_exceeded") is True


def test_a_client_timeout_uses_the_call_and_is_not_retried(call: Callable[[], Call]) -> None:
    sent: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> Exception:
        sent.append(request)
        return httpx2.ReadTimeout("slow")

    with pytest.raises(ProviderTimeoutError):
        play(call(), ProviderRequest("GET", "/items"), [answer])
    assert len(sent) >= 1


def test_an_html_page_with_status_200_is_a_failure(call: Callable[[], Call]) -> None:
    page = httpx2.Response(200, content=b"<!doctype html><p>maintenance</p>", headers={"content-type": "text/html"})
    with pytest.raises(ProviderError) as caught:
        play(call(), ProviderRequest("GET", "/items"), [page])
    assert caught.value.log_id is not None


def test_a_dot_segment_is_refused_before_any_effect(call: Callable[[], Call]) -> None:
    flow = send_flow(call(), ProviderRequest("DELETE", "/items/../contacts/1"))
    with pytest.raises(ValidationError):
        next(flow)


def test_an_absolute_url_off_the_api_host_is_refused_before_any_effect(call: Callable[[], Call]) -> None:
    flow = send_flow(call(), ProviderRequest("GET", "http://other.invalid/steal"))
    with pytest.raises(ValidationError):
        next(flow)


def test_every_attempt_is_logged_with_its_decision(client: Client, call: Callable[[], Call]) -> None:
    play(call(), ProviderRequest("GET", "/items"), [ok(b"{}", 503), ok()])
    rows = client.logs.list()
    assert [(r.status, r.attempt, r.action) for r in reversed(rows)] == [(503, 1, "retry"), (200, 2, "none")]


def test_the_clock_seam_ages_tokens_and_authorizations_without_waiting(tmp_path: Path) -> None:
    """``unified_sdk.testing.set_clock`` moves the SDK's notion of now: a token an hour old is refreshed
    before the next call, and a callback past the authorization's 10 minutes is refused unsent."""
    import time

    from unified_sdk_sandbox.fake import SandboxServer

    from unified_sdk.errors import AuthorizationError
    from unified_sdk.testing import authorize, set_clock, sqlite_client

    with SandboxServer(deals=3, contacts=1, companies=1) as fake, sqlite_client(tmp_path) as client:
        conn = authorize(client, fake, "sandbox", ["crm_deal_read"])
        assert fake.token_requests.get("refresh_token", 0) == 0
        set_clock(client, lambda: time.time() + 3600 * 24)
        assert len(client.crm.deals.list(connection_id=conn.id, limit=1).data) == 1
        assert fake.token_requests.get("refresh_token", 0) == 1  # refreshed ahead, as a day-old token must be

        set_clock(client, time.time)
        request = client.auth.authorization_url("sandbox", scopes=["crm_deal_read"])
        callback = fake.approve(request.url)
        set_clock(client, lambda: time.time() + 11 * 60)
        before = dict(fake.token_requests)
        with pytest.raises(AuthorizationError, match="expired"):
            client.auth.complete(callback)
        assert fake.token_requests == before
