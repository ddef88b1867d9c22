"""A create whose answer is lost on the way back, through a proxy in front of the fake Salesforce.

Salesforce's sObject create takes no idempotency key, so a create that reached the org and got no
answer is of unknown outcome: the SDK does not re-send it and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client, Connection
from unified_sdk.errors import NetworkError, NotSupportedError, OutcomeUnknownError
from unified_sdk.testing import LossyProxy


@pytest.fixture
def proxy(sf: FakeSalesforce) -> Iterator[LossyProxy]:
    with LossyProxy(sf.url) as p:
        yield p


def _through(client: Client, conn: Connection, proxy: LossyProxy) -> None:
    """Send the connection's API calls (its instance_url) through the proxy."""
    client.connections.update(conn.id, config={**conn.config, "base_url": proxy.url})


def _deal(name: str) -> dict[str, Any]:
    return {"name": name, "stage_id": "Prospecting", "closing_at": datetime(2025, 6, 30, tzinfo=UTC)}


def _named(sf: FakeSalesforce, name: str) -> list[str]:
    return [str(r["Id"]) for r in sf.records("Opportunity") if r.get("Name") == name]


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_lost_create_is_outcome_unknown(
    client: Client, sf: FakeSalesforce, conn: Connection, proxy: LossyProxy, reset: bool
) -> None:
    _through(client, conn, proxy)
    proxy.lose_response(method="POST", reset=reset)
    with pytest.raises(OutcomeUnknownError) as info:
        client.crm.deals.create(connection_id=conn.id, data=_deal("Lost once"))
    err = info.value
    assert isinstance(err, NetworkError) and err.provider == "salesforce"
    assert err.retryable is False and err.details["may_have_succeeded"] is True
    assert err.hint is not None and "look the record up" in err.hint
    assert proxy.count("POST") == 1 and len(_named(sf, "Lost once")) == 1


def test_a_refused_connection_creates_nothing(client: Client, sf: FakeSalesforce, conn: Connection) -> None:
    proxy = LossyProxy(sf.url).start()
    _through(client, conn, proxy)
    proxy.stop()
    before = len(sf.records("Opportunity"))
    with pytest.raises(NetworkError) as info:
        client.crm.deals.create(connection_id=conn.id, data=_deal("Never"))
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.retryable is True and info.value.details["sent"] is False
    assert len(sf.records("Opportunity")) == before


def test_an_idempotency_key_is_not_supported(
    client: Client, sf: FakeSalesforce, conn: Connection, proxy: LossyProxy
) -> None:
    _through(client, conn, proxy)
    with pytest.raises(NotSupportedError):
        client.crm.deals.create(connection_id=conn.id, data=_deal("Keyed"), idempotency_key="order-1")
    assert proxy.requests == [] and _named(sf, "Keyed") == []
