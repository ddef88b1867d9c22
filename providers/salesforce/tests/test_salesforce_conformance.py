"""The Salesforce plugin passes the conformance kit against its fake."""

from __future__ import annotations

from pathlib import Path

import pytest
from unified_sdk_salesforce import SalesforceProvider
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk.testing.conformance import ConformanceSuite


@pytest.mark.parametrize("check", ConformanceSuite.CHECKS)
def test_conformance(tmp_path: Path, check: str) -> None:
    getattr(ConformanceSuite(SalesforceProvider, FakeSalesforce, tmp_path), check)()
