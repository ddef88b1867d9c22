"""Shared fixtures: real servers on loopback, real SQLite files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.toy.server import ToyServer
from tests.toy.toy_plugin import ToyProvider
from unified_sdk import Client
from unified_sdk.testing import set_jitter


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sdk.db'}"


@pytest.fixture
def toy_server() -> Iterator[ToyServer]:
    with ToyServer() as server:
        yield server


@pytest.fixture
def toy_client(db_url: str) -> Iterator[Client]:
    client = Client(database_url=db_url, providers={"toy": ToyProvider}, timeout=2.0)
    set_jitter(client, lambda: 0.0)
    yield client
    client.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from tests.postgres import binaries_available, postgres_server

    if not binaries_available():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not on PATH")
    with postgres_server() as url:
        yield url
