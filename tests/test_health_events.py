"""Health transitions, events once per transition, and signed webhooks, over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.toy.server import ToyServer
from tests.toy.toy_plugin import ToyProvider
from unified_sdk import Category, Client, Event, Health, verify_webhook
from unified_sdk._health import health_of, transition_event
from unified_sdk._outcome import HealthSignal, Outcome
from unified_sdk.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from unified_sdk.testing import LocalServer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class WebhookReceiver(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()

    def build_app(self) -> Any:
        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            self.arrived.set()
            return Response(status_code=204)

        return Starlette(routes=[Route("/hooks", hook, methods=["POST"])])


def test_health_state_machine() -> None:
    assert health_of(None, None) == Health.NEW
    assert health_of(10, None) == Health.HEALTHY
    assert health_of(None, 10) == Health.UNHEALTHY
    assert health_of(5, 10) == Health.UNHEALTHY_NOW
    assert health_of(11, 10) == Health.HEALTHY
    assert transition_event(Health.NEW, Health.HEALTHY) == "connection.healthy"
    assert transition_event(Health.HEALTHY, Health.UNHEALTHY_NOW) == "connection.unhealthy"
    assert transition_event(Health.NEW, Health.UNHEALTHY) == "connection.unhealthy"
    assert transition_event(Health.HEALTHY, Health.HEALTHY) is None
    assert transition_event(Health.UNHEALTHY, Health.UNHEALTHY) is None


def _conn(client: Client, server: ToyServer) -> str:
    return client.connections.create(
        provider="toy", credentials={"api_key": "key-abcdef"}, config={"base_url": server.url}
    ).id


def test_calls_drive_health_and_events_fire_once_per_transition(toy_client: Client, toy_server: ToyServer) -> None:
    events: list[Event] = []
    toy_client.events.on("*", events.append)
    cid = _conn(toy_client, toy_server)
    assert toy_client.connections.get(cid).health == Health.NEW
    for _ in range(3):
        toy_client.crm.deals.list(connection_id=cid, limit=1)
    assert toy_client.connections.get(cid).health == Health.HEALTHY
    toy_server.inject(status=401, times=3)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            toy_client.crm.deals.list(connection_id=cid, limit=1)
    conn = toy_client.connections.get(cid)
    assert conn.health == Health.UNHEALTHY_NOW
    assert conn.last_error is not None and conn.last_error["category"] == "authentication"
    toy_server.inject(status=404, times=1)  # neutral: health stays
    with pytest.raises(NotFoundError):
        toy_client.crm.deals.list(connection_id=cid, limit=1)
    assert toy_client.connections.get(cid).health == Health.UNHEALTHY_NOW
    toy_client.crm.deals.list(connection_id=cid, limit=1)
    assert [e.type for e in events] == [
        "connection.created",
        "connection.healthy",
        "connection.unhealthy",
        "connection.healthy",
    ]
    assert events[2].data["previous_health"] == "healthy" and events[2].data["health"] == "unhealthy_now"


def test_a_connection_that_never_worked_is_unhealthy(toy_client: Client, toy_server: ToyServer) -> None:
    cid = _conn(toy_client, toy_server)
    toy_server.inject(status=403, times=1)
    with pytest.raises(PermissionDeniedError):
        toy_client.connections.check(cid)
    assert toy_client.connections.get(cid).health == Health.UNHEALTHY
    assert toy_client.connections.check(cid).health == Health.HEALTHY


def test_rate_limits_count_as_healthy_and_provider_errors_as_neutral() -> None:
    assert Outcome.failure(Category.RATE_LIMITED).health == HealthSignal.HEALTHY
    assert Outcome.failure(Category.PROVIDER_ERROR).health == HealthSignal.NEUTRAL


def test_a_broken_listener_does_not_break_calls(toy_client: Client, toy_server: ToyServer) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    seen: list[str] = []
    toy_client.events.on("connection.created", broken)
    off = toy_client.events.on("connection.created", lambda e: seen.append(e.type))
    _conn(toy_client, toy_server)
    off()
    _conn(toy_client, toy_server)
    assert seen == ["connection.created"]


def test_events_are_delivered_as_signed_webhooks(db_url: str, toy_server: ToyServer) -> None:
    with WebhookReceiver() as receiver:
        client = Client(
            database_url=db_url,
            providers={"toy": ToyProvider},
            webhook_url=f"{receiver.url}/hooks",
            webhook_secret=SECRET,
        )
        cid = _conn(client, toy_server)
        client.events.flush()
        assert receiver.arrived.wait(5)
        (headers, body), *_ = receiver.received
        assert verify_webhook(SECRET, headers, body)
        assert not verify_webhook("whsec_" + "A" * 32, headers, body)
        assert not verify_webhook(SECRET, headers, body + b" ")
        payload = json.loads(body)
        assert payload["type"] == "connection.created" and payload["data"]["connection_id"] == cid
        assert headers["webhook-id"].startswith("evt_")
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        client.close()


def test_rate_limit_budget_is_stored_and_warned_once(toy_client: Client, toy_server: ToyServer) -> None:
    warnings: list[Event] = []
    toy_client.events.on("connection.rate_limit_warning", warnings.append)
    toy_server.daily_budget = 20
    cid = _conn(toy_client, toy_server)
    for _ in range(5):
        toy_client.crm.deals.list(connection_id=cid, limit=1)
    budget = toy_client.connections.get(cid).rate_limit
    assert budget is not None and (budget["remaining"], budget["limit"]) == (15, 20)
    assert warnings == []
    for _ in range(12):  # 17 of 20 used: 85 %, below the line
        toy_client.crm.deals.list(connection_id=cid, limit=1)
    assert warnings == []
    toy_client.crm.deals.list(connection_id=cid, limit=1)  # 18 of 20: 90 %
    assert [(w.data["remaining"], w.data["usage"]) for w in warnings] == [(2, 0.9)]
    toy_client.crm.deals.list(connection_id=cid, limit=1)
    assert len(warnings) == 1  # once per crossing, not per call
    assert warnings[0].data["threshold"] == 0.9
