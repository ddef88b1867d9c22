"""The sandbox's OAuth endpoints follow its base_url: an integration needs no endpoint overrides."""

from __future__ import annotations

from pathlib import Path

from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import Client


def test_base_url_alone_points_oauth_at_the_server(tmp_path: Path) -> None:
    with (
        SandboxServer(deals=3, contacts=1, companies=1) as server,
        Client(database_url=f"sqlite:///{tmp_path / 'e.db'}") as client,
    ):
        client.integrations.configure(
            "sandbox",
            client_id=server.oauth_client_id,
            client_secret=server.oauth_client_secret,
            redirect_uri="https://app.example.com/cb",
            config={"base_url": server.url},
        )
        request = client.auth.authorization_url("sandbox", scopes=["crm_deal_read"])
        assert request.url.startswith(f"{server.url}/oauth/authorize?")
        conn = client.auth.complete(server.approve(request.url))
        assert len(client.crm.deals.list(connection_id=conn.id).data) == 3
        server.expire_access_tokens()
        assert len(client.crm.deals.list(connection_id=conn.id).data) == 3
        assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
