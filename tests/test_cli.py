"""The ``unified-sdk`` command line, over a real SQLite file and a real loopback server.

Providers come from real entry points: a throwaway distribution (the toy plugin) and a
broken one are installed into a temporary site directory for each test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.toy.dist import plugin_site
from tests.toy.server import ToyServer
from unified_sdk import Client
from unified_sdk.cli import app
from unified_sdk.testing import set_jitter

API_KEY = "tk_live_0123456789abcdef"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from plugin_site(tmp_path, monkeypatch, "cli")


@pytest.fixture
def runner() -> CliRunner:
    # Wide enough that no table cell wraps an id; no colour unless a test asks for it.
    return CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1", "UNIFIED_SDK_DATABASE_URL": None})


@pytest.fixture
def server() -> Iterator[ToyServer]:
    with ToyServer() as toy:
        yield toy


@pytest.fixture
def client(site: Path, db_url: str) -> Iterator[Client]:
    with Client(database_url=db_url, timeout=2.0) as c:
        set_jitter(c, lambda: 0.0)
        yield c


def cli(runner: CliRunner, db_url: str, *args: str, **kwargs: object) -> Result:
    # --create: some tests start from no database at all (a missing file is refused without it).
    return runner.invoke(app, ["--database-url", db_url, "--create", *args], **kwargs)  # type: ignore[arg-type]


def _connect(client: Client, server: ToyServer, external_id: str = "customer-42") -> str:
    conn = client.connections.create(
        provider="throwaway",
        credentials={"api_key": API_KEY},
        external_id=external_id,
        config={"base_url": server.url},
    )
    return conn.id


# -- providers -----------------------------------------------------------------------------
def test_providers_lists_plugins_and_broken_ones_with_their_error(site: Path, runner: CliRunner, db_url: str) -> None:
    result = cli(runner, db_url, "providers")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    throwaway = next(line for line in lines if "throwaway" in line)
    assert "Throwaway CRM" in throwaway and "api_key" in throwaway and "ok" in throwaway
    broken = next(line for line in lines if "broken" in line)
    assert "failed to load" in broken and "ModuleNotFoundError" in broken
    assert "Traceback" not in result.output


def test_providers_json(site: Path, runner: CliRunner, db_url: str) -> None:
    result = cli(runner, db_url, "providers", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["throwaway"]["error"] is None
    assert rows["throwaway"]["resources"] == ["crm.deals"]
    assert rows["throwaway"]["unified_scopes"] == ["crm_deal_read"]
    assert "a_module_that_does_not_exist" in rows["broken"]["error"]


# -- connections ---------------------------------------------------------------------------
def test_connections_list_empty(site: Path, runner: CliRunner, db_url: str) -> None:
    result = cli(runner, db_url, "connections", "list")
    assert result.exit_code == 0, result.output
    assert "No connections." in result.stdout


def test_connections_list_shows_each_connection_with_health(
    runner: CliRunner, db_url: str, client: Client, server: ToyServer
) -> None:
    first = _connect(client, server, "customer-1")
    second = _connect(client, server, "customer-2")
    client.crm.deals.list(connection_id=second, limit=1)
    client.logs.list(limit=1)  # health is written off the request path; reading the logs flushes it

    result = cli(runner, db_url, "connections", "list")
    assert result.exit_code == 0, result.output
    row1 = next(line for line in result.stdout.splitlines() if first in line)
    row2 = next(line for line in result.stdout.splitlines() if second in line)
    assert "customer-1" in row1 and " new " in row1
    assert "customer-2" in row2 and " healthy " in row2

    only = json.loads(cli(runner, db_url, "connections", "list", "--external-id", "customer-2", "--json").stdout)
    assert [(c["id"], c["health"], c["provider"]) for c in only] == [(second, "healthy", "throwaway")]
    assert json.loads(cli(runner, db_url, "connections", "list", "--provider", "nope", "--json").stdout) == []


def test_connections_show_never_prints_credentials(
    runner: CliRunner, db_url: str, client: Client, server: ToyServer
) -> None:
    conn_id = _connect(client, server)
    result = cli(runner, db_url, "connections", "show", conn_id)
    assert result.exit_code == 0, result.output
    assert f"Connection {conn_id}" in result.stdout
    assert "throwaway" in result.stdout and server.url in result.stdout and "customer-42" in result.stdout
    assert API_KEY not in result.output

    data = json.loads(cli(runner, db_url, "connections", "show", conn_id, "--json").stdout)
    assert data["id"] == conn_id and data["health"] == "new" and data["config"] == {"base_url": server.url}
    assert API_KEY not in json.dumps(data)


def test_unknown_connection_prints_message_and_hint_and_exits_1(site: Path, runner: CliRunner, db_url: str) -> None:
    for command in ("show", "check", "delete"):
        result = cli(runner, db_url, "connections", command, "conn_missing")
        assert result.exit_code == 1
        assert "Error: no connection with id 'conn_missing'" in result.stderr
        assert "hint: " in result.stderr
        assert "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)


def test_errors_are_printed_in_red(site: Path, db_url: str) -> None:
    runner = CliRunner(env={"COLUMNS": "200", "FORCE_COLOR": "1", "NO_COLOR": None, "TERM": "xterm"})
    result = cli(runner, db_url, "connections", "show", "conn_missing")
    assert result.exit_code == 1
    assert "\x1b[1;31mError: no connection with id" in result.stderr
    assert "\x1b[31mhint: " in result.stderr


def test_check_healthy_then_unhealthy_now_with_message_and_hint(
    runner: CliRunner, db_url: str, client: Client, server: ToyServer
) -> None:
    conn_id = _connect(client, server)
    ok = cli(runner, db_url, "connections", "check", conn_id)
    assert ok.exit_code == 0, ok.output
    assert f"{conn_id} (throwaway) is healthy" in ok.stdout

    server.inject(status=401)
    failed = cli(runner, db_url, "connections", "check", conn_id)
    assert failed.exit_code == 1
    assert "Error: throwaway GET /items failed 401 (authentication)" in failed.stderr
    assert "hint: re-authorize the connection or replace its credentials" in failed.stderr
    assert "health: unhealthy_now" in failed.stderr
    assert "call log: log_" in failed.stderr
    assert "Traceback" not in failed.output and API_KEY not in failed.output
    assert server.hits["GET /items"] == 2  # one check each: a 401 on an API key is not retried
    assert client.connections.get(conn_id).health.value == "unhealthy_now"


def test_delete_asks_for_confirmation(runner: CliRunner, db_url: str, client: Client, server: ToyServer) -> None:
    conn_id = _connect(client, server)
    refused = cli(runner, db_url, "connections", "delete", conn_id, input="n\n")
    assert refused.exit_code == 1
    assert [c.id for c in client.connections.list()] == [conn_id]

    done = cli(runner, db_url, "connections", "delete", conn_id, input="y\n")
    assert done.exit_code == 0, done.output
    assert f"Deleted {conn_id}." in done.stdout
    assert client.connections.list() == []


def test_delete_with_yes(runner: CliRunner, db_url: str, client: Client, server: ToyServer) -> None:
    conn_id = _connect(client, server)
    result = cli(runner, db_url, "connections", "delete", "--yes", conn_id)
    assert result.exit_code == 0, result.output
    assert client.connections.list() == []


# -- logs ----------------------------------------------------------------------------------
def test_logs_table_filters_and_curl(runner: CliRunner, db_url: str, client: Client, server: ToyServer) -> None:
    conn_id = _connect(client, server)
    other = _connect(client, server, "customer-43")
    client.crm.deals.list(connection_id=conn_id, limit=3)
    server.inject(status=503, times=1)
    client.crm.deals.list(connection_id=conn_id, limit=2)  # 503, retried, 200
    client.crm.deals.list(connection_id=other, limit=1)
    client.close()  # flushes the call logs; the CLI reads them from the file

    everything = cli(runner, db_url, "logs")
    assert everything.exit_code == 0, everything.output
    assert "Call logs (newest first, 4 shown)" in everything.stdout

    mine = json.loads(cli(runner, db_url, "logs", "--connection", conn_id, "--json").stdout)
    assert [(r["status"], r["category"], r["action"], r["attempt"]) for r in mine] == [
        (200, None, "none", 2),
        (503, "provider_error", "retry", 1),
        (200, None, "none", 1),
    ]
    assert all(r["connection_id"] == conn_id for r in mine)

    errors = cli(runner, db_url, "logs", "-c", conn_id, "--status-min", "400")
    assert errors.exit_code == 0, errors.output
    error_lines = [line for line in errors.stdout.splitlines() if "log_" in line]
    assert len(error_lines) == 1
    assert "503" in error_lines[0] and "provider_error" in error_lines[0] and "retry" in error_lines[0]
    assert "GET /items?n=2" in error_lines[0]

    by_category = json.loads(cli(runner, db_url, "logs", "--category", "provider_error", "--json").stdout)
    assert [r["id"] for r in by_category] == [mine[1]["id"]]
    assert len(json.loads(cli(runner, db_url, "logs", "--limit", "2", "--json").stdout)) == 2

    curl = cli(runner, db_url, "logs", "--curl", mine[1]["id"])
    assert curl.exit_code == 0, curl.output
    assert curl.stdout.startswith("curl -X GET ")
    assert f"{server.url}/items?n=2" in curl.stdout
    assert "[REDACTED]" in curl.stdout and API_KEY not in curl.stdout
    assert API_KEY not in everything.output


def test_logs_empty_and_unknown_curl(site: Path, runner: CliRunner, db_url: str) -> None:
    assert "No call logs." in cli(runner, db_url, "logs").stdout
    missing = cli(runner, db_url, "logs", "--curl", "log_nope")
    assert missing.exit_code == 1
    assert "Error: no call log with id 'log_nope'" in missing.stderr
    assert "hint: " in missing.stderr


# -- global options and the console script ---------------------------------------------------
def test_database_url_from_the_environment(runner: CliRunner, db_url: str, client: Client, server: ToyServer) -> None:
    conn_id = _connect(client, server)
    result = runner.invoke(
        app, ["connections", "list", "--json"], env={"UNIFIED_SDK_DATABASE_URL": db_url, "COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert [c["id"] for c in json.loads(result.stdout)] == [conn_id]


def test_console_script_exits_1_without_traceback(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("unified-sdk")
    env = {k: v for k, v in os.environ.items() if k != "UNIFIED_SDK_DATABASE_URL"}
    done = subprocess.run(
        [
            str(script),
            "--database-url",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--create",
            "connections",
            "show",
            "conn_nope",
        ],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=60,
    )
    assert done.returncode == 1
    assert "Error: no connection with id 'conn_nope'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_no_arguments_shows_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    for name in ("providers", "connections", "logs", "demo", "--database-url"):
        assert name in result.output
