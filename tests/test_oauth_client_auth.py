"""Client authentication as the provider declares it (or the integration overrides it), for code
exchange, refresh, introspection and revocation, against a strict authorization server that
accepts a client only the way it was registered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.toy.oauth_server import OAuthToyServer
from tests.toy.toy_plugin import OAuthToyProvider
from unified_sdk import Client
from unified_sdk.errors import AuthenticationError, ConfigurationError
from unified_sdk.testing import authorize, configure_integration

assert OAuthToyProvider.oauth is not None


class PostToy(OAuthToyProvider):
    oauth = replace(OAuthToyProvider.oauth, introspect_url="https://toy.invalid/oauth/introspect")


class BasicToy(OAuthToyProvider):
    oauth = replace(PostToy.oauth, token_endpoint_auth_method="client_secret_basic")


def _no_scope(body: dict[str, Any], _info: Any) -> dict[str, Any]:
    """A token response without ``scope``, so the SDK introspects to learn the grant."""
    return {k: v for k, v in body.items() if k != "scope"}


CASES = {
    "post declared": ("client_secret_post", PostToy, None),
    "basic declared": ("client_secret_basic", BasicToy, None),
    "basic by the integration": ("client_secret_basic", PostToy, "client_secret_basic"),
    "post by the integration": ("client_secret_post", BasicToy, "client_secret_post"),
}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[OAuthToyServer, Client]]:
    registered, plugin, override = CASES[request.param]
    with OAuthToyServer(client_auth_method=registered, token_response=_no_scope) as server:
        client = Client(
            database_url=f"sqlite:///{tmp_path / 'a.db'}",
            secret_key=Fernet.generate_key().decode(),
            providers={"oauthtoy": plugin},
        )
        client.integrations.configure(
            "oauthtoy",
            client_id=server.oauth_client_id,
            client_secret=server.oauth_client_secret,
            redirect_uri=server.redirect_uri,
            config=server.config,
            **({"token_endpoint_auth_method": override} if override else {}),
        )
        yield server, client
        client.close()


def test_exchange_introspection_refresh_and_revocation_use_the_declared_method(
    case: tuple[OAuthToyServer, Client],
) -> None:
    server, client = case
    conn = authorize(client, server, "oauthtoy", ["crm_deal_read"], configure=False)
    assert conn.provider_scopes == ["items:read", "profile"]  # learned by introspection
    server.expire_access_tokens()
    assert len(client.crm.deals.list(connection_id=conn.id, limit=2).data) == 2
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
    access, refresh = list(server.auth._access), list(server.auth._refresh)
    assert len(access) == 2 and len(refresh) == 2
    client.connections.delete(conn.id)
    # The tokens are dead at the provider, not merely forgotten here.
    assert [server.auth.check_access_token(t).reason for t in access] == ["revoked", "revoked"]
    assert all(server.auth._refresh[t].revoked for t in refresh)
    statuses = {log.operation: log.status for log in client.logs.list(limit=100)}
    assert statuses["oauth.introspect"] == 200 and statuses["oauth.revoke"] == 200


def test_an_override_is_checked_when_configured(tmp_path: Path) -> None:
    with Client(database_url=f"sqlite:///{tmp_path / 'c.db'}", providers={"oauthtoy": PostToy}) as client:
        with pytest.raises(ConfigurationError) as info:
            client.integrations.configure(
                "oauthtoy", client_id="x", client_secret="y", token_endpoint_auth_method="jwt"
            )
        assert "client_secret_basic" in (info.value.hint or "")
        with pytest.raises(ConfigurationError):
            client.integrations.configure("oauthtoy", client_id="x", token_endpoint_auth_method="client_secret_basic")
        integration = client.integrations.configure(
            "oauthtoy", client_id="x", client_secret="y", token_endpoint_auth_method="client_secret_basic"
        )
        assert integration.token_endpoint_auth_method == "client_secret_basic"
        assert "token_endpoint_auth_method" not in integration.config


def test_a_mismatched_method_is_refused_by_the_strict_server(tmp_path: Path) -> None:
    with (
        OAuthToyServer(client_auth_method="client_secret_basic") as server,
        Client(database_url=f"sqlite:///{tmp_path / 'm.db'}", providers={"oauthtoy": PostToy}) as client,
    ):
        configure_integration(client, server, "oauthtoy", redirect_uri=server.redirect_uri)
        with pytest.raises(AuthenticationError) as info:
            authorize(client, server, "oauthtoy", ["crm_deal_read"], configure=False)
        assert (info.value.status, info.value.provider_code) == (401, "invalid_client")
        assert "token_endpoint_auth_method" in (info.value.hint or "")
        assert client.connections.list() == []
