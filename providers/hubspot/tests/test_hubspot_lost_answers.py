"""A create whose answer is lost on the way back, through a proxy in front of the fake HubSpot.

HubSpot takes no idempotency key on CRM object writes, so a create that reached HubSpot and got
no answer is of unknown outcome: the SDK does not re-send it and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import Client, Connection
from unified_sdk.errors import NetworkError, NotSupportedError, OutcomeUnknownError, ProviderTimeoutError
from unified_sdk.testing import LossyProxy, sqlite_client

DEALS = "/crm/v3/objects/deals"


@pytest.fixture
def proxy(hubspot: FakeHubSpot) -> Iterator[LossyProxy]:
    with LossyProxy(hubspot.url) as p:
        yield p


def _proxied(client: Client, hubspot: FakeHubSpot, proxy: LossyProxy) -> Connection:
    return client.connections.create(
        provider="hubspot", credentials={"api_key": hubspot.api_key}, config={**hubspot.config, "base_url": proxy.url}
    )


def _named(hubspot: FakeHubSpot, name: str) -> list[str]:
    return [r["id"] for r in hubspot.records("deals") if r["properties"].get("dealname") == name]


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_lost_create_is_outcome_unknown(client: Client, hubspot: FakeHubSpot, proxy: LossyProxy, reset: bool) -> None:
    conn = _proxied(client, hubspot, proxy)
    proxy.lose_response(method="POST", path=DEALS, reset=reset)
    with pytest.raises(OutcomeUnknownError) as info:
        client.crm.deals.create(connection_id=conn.id, data={"name": "Lost once"})
    err = info.value
    assert isinstance(err, NetworkError) and err.provider == "hubspot"
    assert err.retryable is False and err.details["may_have_succeeded"] is True
    assert err.hint is not None and "look the record up" in err.hint
    assert proxy.count("POST", DEALS) == 1 and len(_named(hubspot, "Lost once")) == 1


def test_a_create_answered_too_late_is_outcome_unknown(tmp_path: Path, hubspot: FakeHubSpot, proxy: LossyProxy) -> None:
    with sqlite_client(tmp_path, filename="slow.db", timeout=0.5) as client:
        conn = _proxied(client, hubspot, proxy)
        proxy.delay_response(3.0, method="POST", path=DEALS)
        with pytest.raises(OutcomeUnknownError) as info:
            client.crm.deals.create(connection_id=conn.id, data={"name": "Too late"})
    assert isinstance(info.value, ProviderTimeoutError) and info.value.retryable is False
    assert proxy.count("POST", DEALS) == 1 and len(_named(hubspot, "Too late")) == 1


def test_a_refused_connection_creates_nothing(client: Client, hubspot: FakeHubSpot) -> None:
    proxy = LossyProxy(hubspot.url).start()
    conn = _proxied(client, hubspot, proxy)
    proxy.stop()
    before = len(hubspot.records("deals"))
    with pytest.raises(NetworkError) as info:
        client.crm.deals.create(connection_id=conn.id, data={"name": "Never"})
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.retryable is True and info.value.details["sent"] is False
    assert len(hubspot.records("deals")) == before


def test_an_idempotency_key_is_not_supported(client: Client, hubspot: FakeHubSpot, proxy: LossyProxy) -> None:
    conn = _proxied(client, hubspot, proxy)
    with pytest.raises(NotSupportedError):
        client.crm.deals.create(connection_id=conn.id, data={"name": "Keyed"}, idempotency_key="order-1")
    assert proxy.requests == [] and _named(hubspot, "Keyed") == []
