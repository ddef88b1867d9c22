"""Helpers for the Salesforce tests: clients on real SQLite files and connections made through OAuth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import Client, Connection

REDIRECT_URI = "http://127.0.0.1:9/callback"
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
    client = cls(database_url=f"sqlite:///{tmp_path / 'sdk.db'}", timeout=5.0)
    client._core.jitter = lambda: 0.0  # backoff without random waits
    return client


def configure(client: Client, sf: FakeSalesforce) -> None:
    client.integrations.configure(
        "salesforce",
        client_id=sf.oauth_client_id,
        client_secret=sf.oauth_client_secret,
        redirect_uri=REDIRECT_URI,
        config=sf.config,
    )


def connect(client: Client, sf: FakeSalesforce, scopes: list[str] | None = None) -> Connection:
    """The whole web-server flow: authorization URL, the user's consent, the callback."""
    configure(client, sf)
    request = client.auth.authorization_url("salesforce", scopes=scopes or ALL_SCOPES)
    return client.auth.complete(sf.approve(request.url))
