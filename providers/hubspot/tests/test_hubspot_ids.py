"""Hostile record ids never reach HubSpot: refused with ValidationError, nothing sent."""

from __future__ import annotations

import pytest
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import Client, Connection
from unified_sdk.errors import ValidationError
from unified_sdk.testing import HOSTILE_IDS, check_hostile_ids_refused


def test_every_operation_taking_an_id_refuses_hostile_ids(
    client: Client, conn: Connection, hubspot: FakeHubSpot
) -> None:
    refused = check_hostile_ids_refused(client, conn.id, hubspot)
    # get/update/delete of deals, contacts, companies and get of pipelines and users
    assert refused == len(HOSTILE_IDS) * 11


def test_deleting_a_deal_by_a_traversal_id_leaves_the_contact(
    client: Client, conn: Connection, hubspot: FakeHubSpot
) -> None:
    hubspot.seed(contacts=1)
    contact_id = hubspot.records("contacts")[0]["id"]
    before = len(hubspot.received_requests)
    with pytest.raises(ValidationError) as caught:
        client.crm.deals.delete(connection_id=conn.id, id=f"../contacts/{contact_id}")
    assert caught.value.details["fields"] == ["id"]
    assert hubspot.received_requests[before:] == []
    contact = client.crm.contacts.get(connection_id=conn.id, id=contact_id)
    assert contact is not None and contact.id == contact_id


def test_ids_must_be_hubspot_ids(client: Client, conn: Connection, hubspot: FakeHubSpot) -> None:
    before = len(hubspot.received_requests)
    with pytest.raises(ValidationError) as caught:
        client.crm.deals.get(connection_id=conn.id, id="dl_123")
    assert "[0-9]+" in str(caught.value)
    assert hubspot.received_requests[before:] == []
