"""``unified-sdk demo`` end to end, in-process: the sandbox server on loopback, a real SQLite file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unified_sdk import Client
from unified_sdk.cli import app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "UNIFIED_SDK_DATABASE_URL": None})


def _section(output: str, title: str) -> str:
    """The lines of the step titled ``title``, up to the next step's rule."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line and "────" in line)
    end = next((i for i in range(start + 1, len(lines)) if "────" in lines[i]), len(lines))
    return "\n".join(lines[start + 1 : end])


def test_demo_shows_the_error_model_and_exits_0(runner: CliRunner, db_url: str) -> None:
    result = runner.invoke(app, ["--database-url", db_url, "--create", "demo"])
    out = result.output
    assert result.exit_code == 0, out
    assert "Traceback" not in out

    assert "2,500 distinct deals in 25 pages" in out

    oauth = _section(out, "OAuth: an authorization URL")
    assert re.search(r"crm_deal_read\s+deals:read\s+pipelines:read", oauth)
    assert "code_challenge_method=S256" in oauth and "granted ['crm_deal_read'" in oauth
    assert "health healthy" in oauth
    refresh = _section(out, "access token expires")
    assert "token refreshes: 1" in refresh
    assert re.search(r"crm.deals.list: GET /v1/deals\S* → 401 authentication", refresh)
    assert "oauth.refresh: POST /oauth/token → 200 ok" in refresh

    rate = _section(out, "429 Too Many Requests")
    assert re.search(r"attempt 1: GET /v1/deals\S* → 429 rate_limited → wait_and_retry", rate)
    assert re.search(r"attempt 2: GET /v1/deals\S* → 200 ok", rate)

    unavailable = _section(out, "503 Service Unavailable")
    assert re.search(r"attempt 1: GET /v1/deals\S* → 503 provider_error → retry", unavailable)
    assert re.search(r"attempt 2: GET /v1/deals\S* → 200 ok", unavailable)

    unauthorized = _section(out, "401 Unauthorized")
    assert "AuthenticationError: " in unauthorized
    assert "event connection.unhealthy conn_" in unauthorized
    assert "health healthy → unhealthy_now" in unauthorized
    assert "connection health: unhealthy_now" in unauthorized
    assert unauthorized.count("attempt ") == 1  # an API key is not refreshed nor retried

    forbidden = _section(out, "403 Forbidden")
    assert "PermissionDeniedError: " in forbidden
    assert "hint: " in forbidden and "category=permission status=403" in forbidden

    recovered = _section(out, "Health check")
    assert "event connection.healthy conn_" in recovered
    assert "connection health: healthy" in recovered

    assert "Call logs and health" in out
    assert "Demo finished in" in out


def test_demo_leaves_one_demo_connection_with_its_logs(runner: CliRunner, db_url: str) -> None:
    for _ in range(2):  # a second run replaces the first run's connection
        result = runner.invoke(app, ["--database-url", db_url, "--create", "demo", "--deals", "150"])
        assert result.exit_code == 0, result.output
        assert "150 distinct deals in 2 pages" in result.output

    with Client(database_url=db_url) as client:
        conns = client.connections.list(external_id="unified-sdk-demo")
        assert sorted(c.auth_type for c in conns) == ["api_key", "oauth2"]  # one of each: the first run's are gone
        oauth = next(c for c in conns if c.auth_type == "oauth2")
        assert oauth.scopes == ["crm_deal_read", "crm_contact_read", "crm_pipeline_read"]
        assert [log.operation for log in reversed(client.logs.list(connection_id=oauth.id))] == [
            "oauth.code_exchange",
            "health_check",
            "crm.deals.list",
            "oauth.refresh",
            "crm.deals.list",
        ]
        conn = next(c for c in conns if c.auth_type == "api_key")
        assert conn.provider == "sandbox" and conn.health.value == "healthy"
        logs = client.logs.list(connection_id=conn.id, limit=100)
        # 2 listing pages, 429+200, 503+200, 401, 403, health check
        assert sorted(log.status or 0 for log in logs) == [200, 200, 200, 200, 200, 401, 403, 429, 503]
        assert {log.operation for log in logs} == {"crm.deals.list", "health_check"}
        assert f"connections show {conn.id}" in result.output


@pytest.mark.parametrize("script", ["list_deals.py", "async_list_deals.py"])
def test_examples_run_against_the_sandbox(script: str, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("SANDBOX_URL", "SANDBOX_API_KEY")}
    done = subprocess.run(
        [sys.executable, str(root / "examples" / script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    if script == "list_deals.py":
        assert "2500 deals worth " in done.stdout
        assert "25 calls logged; health: healthy" in done.stdout
    else:
        assert "2500 deals, 1000 contacts, 300 companies" in done.stdout
        assert "pipeline Sales: " in done.stdout
