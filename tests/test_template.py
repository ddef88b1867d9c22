"""``unified-sdk new-provider``: the generated plugin works and passes the conformance kit unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unified_sdk._template import new_provider
from unified_sdk.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_the_command_writes_a_package_with_its_entry_point(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["new-provider", "acme_crm", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "unified-sdk-acme-crm"
    assert "pip install -e '.[test]'" in result.output
    pyproject = (root / "pyproject.toml").read_text()
    assert 'acme_crm = "unified_sdk_acme_crm:AcmeCrmProvider"' in pyproject
    for part in ("_provider.py", "_errors.py", "crm/deals.py", "fake/__init__.py"):
        assert (root / "unified_sdk_acme_crm" / part).is_file(), part
    assert (root / "tests" / "test_acme_crm_conformance.py").is_file()
    again = CliRunner().invoke(app, ["new-provider", "acme_crm", "--dir", str(tmp_path)])
    assert again.exit_code == 1
    assert "already exists" in again.output


@pytest.mark.parametrize("name", ["Acme", "1acme", "ac-me", "", "class", "a" * 41])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="invalid provider name"):
        new_provider(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_generated_tests_pass_as_generated(tmp_path: Path) -> None:
    root = new_provider("acme", tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(root)])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "9 passed" in done.stdout
