"""Plugin discovery through real entry points: a throwaway distribution and a broken one."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.toy.dist import plugin_site
from tests.toy.server import ToyServer
from unified_sdk import Client
from unified_sdk.errors import ConfigurationError, UnknownProviderError


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from plugin_site(tmp_path, monkeypatch, "core")


def test_installed_plugin_is_discovered_and_used(site: Path, db_url: str) -> None:
    with Client(database_url=db_url) as client, ToyServer() as server:
        assert {"throwaway", "broken"} <= set(client.providers.names())
        info = client.providers.get("throwaway")
        assert info.display_name == "Throwaway CRM"
        assert info.unified_scopes == ["crm_deal_read"]
        conn = client.connections.create(
            provider="throwaway", credentials={"api_key": "k-1234"}, config={"base_url": server.url}
        )
        assert [d.name for d in client.crm.deals.list(connection_id=conn.id, limit=2).data] == ["item 0", "item 1"]


def test_broken_plugin_is_reported_by_name_and_others_keep_working(site: Path, db_url: str) -> None:
    with Client(database_url=db_url) as client:
        names = [p.name for p in client.providers.list()]
        assert "throwaway" in names and "broken" not in names
        assert "ModuleNotFoundError" in client.providers.errors["broken"]
        assert "a_module_that_does_not_exist" in client.providers.errors["broken"]
        with pytest.raises(ConfigurationError) as info:
            client.providers.get("broken")
        assert "broken" in str(info.value) and info.value.hint
        assert client.providers.get("throwaway").name == "throwaway"


def test_unknown_provider_lists_the_installed_ones(site: Path, db_url: str) -> None:
    with Client(database_url=db_url) as client:
        with pytest.raises(UnknownProviderError) as info:
            client.connections.create(provider="nope", credentials={"api_key": "k"})
        assert "throwaway" in str(info.value)
        assert client.connections.list() == []  # nothing half-written


def test_importing_the_sdk_loads_no_plugin() -> None:
    import subprocess

    code = (
        "import sys, unified_sdk\n"
        "from unified_sdk import Client\n"
        "c = Client(database_url='sqlite:///:memory:')\n"
        "print(sorted(m for m in sys.modules if m.startswith('unified_sdk_') or m in ('sqlalchemy', 'pydantic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
