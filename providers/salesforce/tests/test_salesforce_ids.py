"""Hostile record ids never reach Salesforce: refused with ValidationError, nothing sent."""

from __future__ import annotations

import pytest
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client, Connection
from unified_sdk.errors import ValidationError
from unified_sdk.testing import HOSTILE_IDS, check_hostile_ids_refused


def test_every_operation_taking_an_id_refuses_hostile_ids(client: Client, conn: Connection, sf: FakeSalesforce) -> None:
    refused = check_hostile_ids_refused(client, conn.id, sf)
    # get/update/delete of deals, contacts, companies and get of pipelines and users
    assert refused == len(HOSTILE_IDS) * 11


@pytest.mark.parametrize("bad", ["001", "0015g00000ABCDEFG!", "0015g00000ABCDEF" + "GH" * 2])
def test_ids_must_be_15_or_18_letters_and_digits(
    client: Client, conn: Connection, sf: FakeSalesforce, bad: str
) -> None:
    before = len(sf.received_requests)
    with pytest.raises(ValidationError) as caught:
        client.crm.contacts.get(connection_id=conn.id, id=bad)
    assert caught.value.details["fields"] == ["id"]
    assert sf.received_requests[before:] == []
