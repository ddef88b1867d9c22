"""The org's daily API budget (``Sforce-Limit-Info``) on the connection, and the warning before the 403s."""

from __future__ import annotations

from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client, Connection, Event


def test_remaining_budget_is_exposed_and_a_warning_fires_once(
    client: Client, sf: FakeSalesforce, conn: Connection
) -> None:
    warnings: list[Event] = []
    client.events.on("connection.rate_limit_warning", warnings.append)
    sf.seed(deals=3)
    client.crm.deals.list(connection_id=conn.id)
    budget = client.connections.get(conn.id).rate_limit
    assert budget is not None
    assert budget["limit"] == sf.daily_limit and budget["remaining"] == sf.daily_limit - sf.api_usage
    assert warnings == []
    sf.daily_limit = 1000
    sf.api_usage = 900  # the org is about to run out: the next calls pass 90 % usage
    for _ in range(3):
        client.crm.deals.list(connection_id=conn.id)
    assert len(warnings) == 1, client.connections.get(conn.id).rate_limit
    warning = warnings[0]
    assert warning.connection_id == conn.id and warning.data["usage"] >= 0.9 and warning.data["limit"] == 1000
    latest = client.connections.get(conn.id).rate_limit
    assert latest is not None and latest["remaining"] == 1000 - sf.api_usage
    assert client.connections.get(conn.id).health == "healthy"
