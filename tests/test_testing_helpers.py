"""``unified_sdk.testing``'s client helpers against the sandbox fake, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import AsyncClient, Client, Health
from unified_sdk.errors import AuthorizationError, ConfigurationError
from unified_sdk.testing import (
    DEFAULT_REDIRECT_URI,
    authorize,
    authorize_async,
    configure_integration,
    sqlite_client,
)


@pytest.fixture
def fake() -> Iterator[SandboxServer]:
    with SandboxServer(deals=7, contacts=2, companies=1) as server:
        yield server


def test_sqlite_client_is_on_a_file_in_the_directory(tmp_path: Path, fake: SandboxServer) -> None:
    with sqlite_client(tmp_path, filename="here.db", timeout=3.0) as client:
        assert isinstance(client, Client)
        assert client.database_url == f"sqlite:///{tmp_path / 'here.db'}"
        client.connections.create(provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config)
    assert (tmp_path / "here.db").is_file()


def test_configure_integration_points_authorization_at_the_fake(tmp_path: Path, fake: SandboxServer) -> None:
    with sqlite_client(tmp_path) as client:
        integration = configure_integration(client, fake, "sandbox")
        assert integration.redirect_uri == DEFAULT_REDIRECT_URI
        request = client.auth.authorization_url("sandbox", scopes=["crm_deal_read"])
    query = parse_qs(urlsplit(request.url).query)
    assert request.url.startswith(f"{fake.url}/oauth/authorize?")
    assert query["client_id"] == [fake.oauth_client_id]
    assert query["redirect_uri"] == [DEFAULT_REDIRECT_URI]


def test_authorize_makes_a_healthy_oauth_connection(tmp_path: Path, fake: SandboxServer) -> None:
    with sqlite_client(tmp_path) as client:
        conn = authorize(client, fake, "sandbox", ["crm_deal_read"], external_id="customer-1")
        assert conn.provider == "sandbox" and conn.external_id == "customer-1"
        assert conn.auth_type == "oauth2" and conn.health == Health.HEALTHY
        assert conn.scopes == ["crm_deal_read"]
        assert fake.token_requests == {"authorization_code": 1}
        assert len(client.crm.deals.list(connection_id=conn.id).data) == 7


def test_consent_options_go_to_the_fake(tmp_path: Path, fake: SandboxServer) -> None:
    with sqlite_client(tmp_path) as client:
        conn = authorize(client, fake, "sandbox", ["crm_deal_read", "crm_deal_write"], grant_scopes=["deals:read"])
        assert conn.scopes == ["crm_deal_read"]
        # Re-authorizing in place adds the scope the user left out the first time.
        again = authorize(client, fake, "sandbox", ["crm_deal_write"], connection_id=conn.id, configure=False)
        assert again.id == conn.id and again.scopes == ["crm_deal_read", "crm_deal_write"]
        with pytest.raises(AuthorizationError) as info:
            authorize(client, fake, "sandbox", ["crm_deal_read"], deny=True)
        assert info.value.provider_code == "access_denied"
        assert fake.token_requests == {"authorization_code": 2}
        assert [c.id for c in client.connections.list()] == [conn.id]


def test_configure_false_uses_the_integration_already_there(tmp_path: Path, fake: SandboxServer) -> None:
    with sqlite_client(tmp_path) as client:
        with pytest.raises(ConfigurationError):
            authorize(client, fake, "sandbox", ["crm_deal_read"], configure=False)
        assert fake.token_requests == {}


async def test_authorize_async(tmp_path: Path, fake: SandboxServer) -> None:
    async with sqlite_client(tmp_path, AsyncClient) as client:
        assert isinstance(client, AsyncClient)
        conn = await authorize_async(client, fake, "sandbox", ["crm_deal_read"])
        assert conn.health == Health.HEALTHY
        page = await client.crm.deals.list(connection_id=conn.id)
        assert len(page.data) == 7
    assert fake.token_requests == {"authorization_code": 1}
