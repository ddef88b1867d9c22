"""Helpers shared by the HubSpot tests: clients on a real SQLite file and connections to the fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unified_sdk_hubspot.fake import FakeHubSpot

from unified_sdk import Client, Connection

REDIRECT_URI = "https://app.example.com/oauth/callback"


def new_client(tmp_path: Path, cls: type[Any] = Client, **options: Any) -> Any:
    client = cls(database_url=f"sqlite:///{tmp_path / 'sdk.db'}", timeout=10.0, **options)
    client._core.jitter = lambda: 0.0  # backoff without random waits
    return client


def connect_api_key(client: Client, hubspot: FakeHubSpot, api_key: str | None = None) -> Connection:
    """A connection with a private-app access token."""
    return client.connections.create(
        provider="hubspot", credentials={"api_key": api_key or hubspot.api_key}, config=hubspot.config
    )


def configure(client: Any, hubspot: FakeHubSpot) -> None:
    client.integrations.configure(
        "hubspot",
        client_id=hubspot.oauth_client_id,
        client_secret=hubspot.oauth_client_secret,
        redirect_uri=REDIRECT_URI,
        config=hubspot.config,
    )


def connect_oauth(client: Client, hubspot: FakeHubSpot, scopes: list[str] | None = None) -> Connection:
    """A connection made through the whole OAuth flow against the fake."""
    configure(client, hubspot)
    request = client.auth.authorization_url(
        "hubspot", scopes=scopes or ["crm_deal_read", "crm_deal_write", "crm_contact_read", "crm_user_read"]
    )
    return client.auth.complete(hubspot.approve(request.url))
