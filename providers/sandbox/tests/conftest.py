"""Fixtures: a fresh small sandbox per test, a shared default-size one, and clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
from sandbox_testkit import api_client, connect_api_key, new_client
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import AsyncClient, Client, Connection


@pytest.fixture(scope="module")
def big() -> Iterator[SandboxServer]:
    """The default data set (2,500 deals, 1,000 contacts, 300 companies); tests must not change it."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(deals=60, contacts=40, companies=15) as s:
        yield s


@pytest.fixture
def api(server: SandboxServer) -> Iterator[httpx2.Client]:
    with api_client(server) as http:
        yield http


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with new_client(tmp_path) as c:
        yield c


@pytest.fixture
async def aclient(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    async with new_client(tmp_path, AsyncClient) as c:
        yield c


@pytest.fixture
def conn(client: Client, server: SandboxServer) -> Connection:
    return connect_api_key(client, server)
