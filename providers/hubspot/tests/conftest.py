"""Fixtures: a local HubSpot, a client on a real SQLite file, and a private-app connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hubspot_testkit import connect_api_key, new_client
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import AsyncClient, Client, Connection


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with new_client(tmp_path) as c:
        yield c


@pytest.fixture
async def aclient(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    async with new_client(tmp_path, AsyncClient) as c:
        yield c


@pytest.fixture
def conn(client: Client, hubspot: FakeHubSpot) -> Connection:
    return connect_api_key(client, hubspot)
