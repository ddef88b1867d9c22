"""The sandbox plugin passes the conformance kit against its fake."""

from __future__ import annotations

from pathlib import Path

import pytest
from unified_sdk_sandbox import SandboxProvider
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk.testing.conformance import ConformanceSuite


def _fake() -> SandboxServer:
    return SandboxServer(deals=20, contacts=10, companies=5, rate_limit=1_000_000)


@pytest.mark.parametrize("check", ConformanceSuite.CHECKS)
def test_conformance(tmp_path: Path, check: str) -> None:
    getattr(ConformanceSuite(SandboxProvider, _fake, tmp_path), check)()
