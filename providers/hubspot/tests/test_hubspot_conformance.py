"""The HubSpot plugin passes the conformance kit against its fake."""

from __future__ import annotations

from pathlib import Path

import pytest
from unified_sdk_hubspot import HubSpotProvider
from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk.testing.conformance import ConformanceSuite


def _fake() -> FakeHubSpot:
    # The status sweep and limit=1 walks send hundreds of requests: lift the ten-second limit.
    return FakeHubSpot(ten_second_limit=1_000_000)


@pytest.mark.parametrize("check", ConformanceSuite.CHECKS)
def test_conformance(tmp_path: Path, check: str) -> None:
    getattr(ConformanceSuite(HubSpotProvider, _fake, tmp_path), check)()
