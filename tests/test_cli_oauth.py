"""The OAuth commands of the CLI against the sandbox's real authorization server on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from unified_sdk import Client
from unified_sdk.cli import app

pytest.importorskip("unified_sdk_sandbox.fake")
from unified_sdk_sandbox.fake import SandboxServer

REDIRECT = "https://app.example.com/oauth/callback"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(deals=20, contacts=5, companies=3) as s:
        yield s


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "UNIFIED_SDK_DATABASE_URL": None})


def _url(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("http"))


def test_configure_auth_url_complete_and_reauthorize(runner: CliRunner, db_url: str, server: SandboxServer) -> None:
    config = [arg for key, value in server.config.items() for arg in ("--config", f"{key}={value}")]
    configured = runner.invoke(
        app,
        [
            "--database-url",
            db_url,
            "--create",
            "integrations",
            "configure",
            "sandbox",
            "--client-id",
            server.oauth_client_id,
            "--redirect-uri",
            REDIRECT,
            *config,
        ],
        input=f"{server.oauth_client_secret}\n",
    )
    assert configured.exit_code == 0, configured.output
    assert server.oauth_client_secret not in configured.output

    made = runner.invoke(
        app, ["--database-url", db_url, "auth-url", "sandbox", "--scopes", "crm_deal_read", "--external-id", "c-7"]
    )
    assert made.exit_code == 0, made.output
    assert re.search(r"crm_deal_read\s+deals:read\s+pipelines:read", made.output)
    url = _url(made.output)
    assert parse_qs(urlsplit(url).query)["scope"] == ["deals:read pipelines:read"]

    done = runner.invoke(app, ["--database-url", db_url, "auth-complete", server.approve(url)])
    assert done.exit_code == 0, done.output
    with Client(database_url=db_url) as client:
        (conn,) = client.connections.list(external_id="c-7")
        assert conn.scopes == ["crm_deal_read"] and conn.health.value == "healthy"

    again = runner.invoke(
        app, ["--database-url", db_url, "connections", "reauthorize", conn.id, "--scopes", "crm_contact_read"]
    )
    assert again.exit_code == 0, again.output
    assert parse_qs(urlsplit(_url(again.output)).query)["scope"] == ["deals:read contacts:read pipelines:read"]
    assert server.token_requests == {"authorization_code": 1}


def test_auth_url_errors_are_red_with_a_hint(runner: CliRunner, db_url: str) -> None:
    unconfigured = runner.invoke(
        app, ["--database-url", db_url, "--create", "auth-url", "sandbox", "--scopes", "crm_deal_read"]
    )
    assert unconfigured.exit_code == 1
    assert "no OAuth integration is configured for sandbox" in unconfigured.output
    assert "unified-sdk integrations configure sandbox" in unconfigured.output
    bad = runner.invoke(app, ["--database-url", db_url, "auth-url", "sandbox", "--scopes", "crm_deal_read,nope"])
    assert bad.exit_code == 1 and "unknown unified scopes ['nope']" in bad.output
    assert "Traceback" not in bad.output
