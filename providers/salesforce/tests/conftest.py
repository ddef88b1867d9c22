"""Fixtures: a local Salesforce, a client on a real SQLite file, and a connection made through OAuth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sf_testkit import connect, new_client
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client, Connection


@pytest.fixture
def sf() -> Iterator[FakeSalesforce]:
    with FakeSalesforce() as fake:
        yield fake


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with new_client(tmp_path) as c:
        yield c


@pytest.fixture
def conn(client: Client, sf: FakeSalesforce) -> Connection:
    return connect(client, sf)
