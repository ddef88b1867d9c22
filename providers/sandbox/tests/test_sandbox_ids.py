"""Hostile record ids never reach the sandbox: refused with ValidationError, nothing sent."""

from __future__ import annotations

import pytest
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import Client, Connection
from unified_sdk.errors import ValidationError
from unified_sdk.testing import HOSTILE_IDS, check_hostile_ids_refused


def test_every_operation_taking_an_id_refuses_hostile_ids(
    client: Client, conn: Connection, server: SandboxServer
) -> None:
    refused = check_hostile_ids_refused(client, conn.id, server)
    # get/update/delete of deals, contacts, companies and get of pipelines and users
    assert refused == len(HOSTILE_IDS) * 11


def test_a_dot_id_is_not_turned_into_a_listing(client: Client, conn: Connection, server: SandboxServer) -> None:
    before = len(server.received_requests)
    with pytest.raises(ValidationError):
        client.crm.deals.get(connection_id=conn.id, id=".")
    assert server.received_requests[before:] == []


def test_a_real_id_with_url_characters_is_encoded_as_one_segment(
    client: Client, conn: Connection, server: SandboxServer
) -> None:
    deal_id = client.crm.deals.list(connection_id=conn.id, limit=1).data[0].id
    assert deal_id is not None
    fetched = client.crm.deals.get(connection_id=conn.id, id=deal_id)
    assert fetched is not None and fetched.id == deal_id
    with pytest.raises(Exception) as caught:
        client.crm.deals.get(connection_id=conn.id, id="dl_a:b@c")
    assert type(caught.value).__name__ == "NotFoundError"
    assert server.received_requests[-1] == ("GET", "/v1/deals/dl_a:b@c")
