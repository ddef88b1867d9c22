"""Plugin discovery through real entry points: a throwaway distribution and a broken one."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.toy.server import ToyServer
from unified_sdk import Client
from unified_sdk.errors import ConfigurationError, UnknownProviderError


def _install_dist(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """Write a minimal installed distribution (``*.dist-info``) into ``site``."""
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[unified_sdk.providers]\n{lines}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "core_throwaway_plugin.py").write_text(
        textwrap.dedent(
            """
            from tests.toy.toy_plugin import ToyProvider

            class ThrowawayProvider(ToyProvider):
                name = "throwaway"
                display_name = "Throwaway CRM"
            """
        )
    )
    (site / "core_broken_plugin.py").write_text("import a_module_that_does_not_exist\n")
    _install_dist(site, "core_throwaway_plugin", {"throwaway": "core_throwaway_plugin:ThrowawayProvider"})
    _install_dist(site, "core_broken_plugin", {"broken": "core_broken_plugin:BrokenProvider"})
    monkeypatch.syspath_prepend(str(site))
    yield site
    for mod in ("core_throwaway_plugin", "core_broken_plugin"):
        sys.modules.pop(mod, None)


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
