"""Helpers shared by the HubSpot tests: clients on a real SQLite file and connections to the fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import Client, Connection
from unified_sdk.testing import DEFAULT_REDIRECT_URI, authorize, configure_integration, sqlite_client

REDIRECT_URI = DEFAULT_REDIRECT_URI


def new_client(tmp_path: Path, cls: type[Any] = Client, **options: Any) -> Any:
    return sqlite_client(tmp_path, cls, timeout=10.0, **options)


def connect_api_key(client: Client, hubspot: FakeHubSpot, api_key: str | None = None) -> Connection:
    """A connection with a private-app access token."""
    return client.connections.create(
        provider="hubspot", credentials={"api_key": api_key or hubspot.api_key}, config=hubspot.config
    )


def configure(client: Any, hubspot: FakeHubSpot) -> None:
    configure_integration(client, hubspot, "hubspot", redirect_uri=REDIRECT_URI)


def connect_oauth(client: Client, hubspot: FakeHubSpot, scopes: list[str] | None = None) -> Connection:
    """A connection made through the whole OAuth flow against the fake."""
    scopes = scopes or ["crm_deal_read", "crm_deal_write", "crm_contact_read", "crm_user_read"]
    return authorize(client, hubspot, "hubspot", scopes, redirect_uri=REDIRECT_URI)
