"""Fixtures: a local Salesforce, a client on a real SQLite file, and a connection made through OAuth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sf_testkit import connect, new_client
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import AsyncClient, Client, Connection


@pytest.fixture
def sf() -> Iterator[FakeSalesforce]:
    with FakeSalesforce() as fake:
        yield fake


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = new_client(tmp_path)
    yield c
    c.close()


@pytest.fixture
async def aclient(tmp_path: Path) -> Any:
    c = new_client(tmp_path, AsyncClient)
    yield c
    await c.aclose()


@pytest.fixture
def conn(client: Client, sf: FakeSalesforce) -> Connection:
    return connect(client, sf)
