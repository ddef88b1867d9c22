"""Helpers for the Salesforce tests: clients on real SQLite files and connections made through OAuth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client, Connection
from unified_sdk.testing import DEFAULT_REDIRECT_URI, authorize, configure_integration, sqlite_client

REDIRECT_URI = DEFAULT_REDIRECT_URI
ALL_SCOPES = [
    "crm_deal_read",
    "crm_deal_write",
    "crm_contact_read",
    "crm_contact_write",
    "crm_company_read",
    "crm_company_write",
    "crm_pipeline_read",
    "crm_user_read",
]


def new_client(tmp_path: Path, cls: type[Any] = Client) -> Any:
    return sqlite_client(tmp_path, cls, timeout=5.0)


def configure(client: Client, sf: FakeSalesforce) -> None:
    configure_integration(client, sf, "salesforce", redirect_uri=REDIRECT_URI)


def connect(client: Client, sf: FakeSalesforce, scopes: list[str] | None = None) -> Connection:
    """The whole web-server flow: authorization URL, the user's consent, the callback."""
    return authorize(client, sf, "salesforce", scopes or ALL_SCOPES, redirect_uri=REDIRECT_URI)
