"""Throwaway installed distributions: provider plugins found through real entry points.

:func:`plugin_site` writes a site directory holding two distributions, one whose
plugin works (provider ``throwaway``, the toy plugin renamed) and one whose module
fails to import (provider ``broken``), and puts it on ``sys.path`` for one test.

Each test file passes its own ``prefix``: the modules are named after it, so two
files never share a module name (importlib and stevedore cache what they found
by name, and same-named modules from two temporary sites collided).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

THROWAWAY_PLUGIN = textwrap.dedent(
    """
    from tests.toy.toy_plugin import ToyProvider

    class ThrowawayProvider(ToyProvider):
        name = "throwaway"
        display_name = "Throwaway CRM"
    """
)


def install_dist(site: Path, dist: str, entry_points: Mapping[str, str]) -> None:
    """Write a minimal installed distribution (``*.dist-info``) with ``unified_sdk.providers`` entry points."""
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[unified_sdk.providers]\n{lines}\n")


def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: str) -> Iterator[Path]:
    """``tmp_path/site`` with ``{prefix}_throwaway_plugin`` and ``{prefix}_broken_plugin`` installed.

    A fixture's body: ``yield from plugin_site(tmp_path, monkeypatch, "cli")``. The site
    stays on ``sys.path`` until ``monkeypatch`` undoes it; the modules are forgotten after.
    """
    site = tmp_path / "site"
    site.mkdir()
    throwaway, broken = f"{prefix}_throwaway_plugin", f"{prefix}_broken_plugin"
    (site / f"{throwaway}.py").write_text(THROWAWAY_PLUGIN)
    (site / f"{broken}.py").write_text("import a_module_that_does_not_exist\n")
    install_dist(site, throwaway, {"throwaway": f"{throwaway}:ThrowawayProvider"})
    install_dist(site, broken, {"broken": f"{broken}:BrokenProvider"})
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module in (throwaway, broken):
        sys.modules.pop(module, None)
