"""The CLI's basic loop against the real sandbox server on loopback: create an API-key connection,
list records (pages, cursors, every page, filters), a passthrough call, ``--version``, the
``--database-url`` guard, CLI hints and the demo's own temporary database.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from unified_sdk import Client
from unified_sdk.cli import app, cli_hint
from unified_sdk.errors import ConfigurationError, ConnectionNotFoundError, PermissionDeniedError, StorageError

pytest.importorskip("unified_sdk_sandbox.fake")
from unified_sdk_sandbox.fake import SandboxServer

RESOURCES = ("deals", "contacts", "companies", "pipelines", "users")


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(deals=120, contacts=30, companies=12) as s:
        yield s


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "UNIFIED_SDK_DATABASE_URL": None})


def cli(runner: CliRunner, db_url: str, *args: str, **kwargs: object) -> Result:
    return runner.invoke(app, ["--database-url", db_url, *args], **kwargs)  # type: ignore[arg-type]


def _config_args(server: SandboxServer) -> list[str]:
    return [arg for key, value in server.config.items() for arg in ("--config", f"{key}={value}")]


def _create(runner: CliRunner, db_url: str, server: SandboxServer) -> str:
    made = cli(
        runner,
        db_url,
        "--create",
        "connections",
        "create",
        "--provider",
        "sandbox",
        "--credential",
        f"api_key={server.api_key}",
        *_config_args(server),
        "--external-id",
        "customer-7",
        "--json",
    )
    assert made.exit_code == 0, made.output
    conn_id: str = json.loads(made.stdout)["id"]
    return conn_id


def _list_calls(db_url: str, conn_id: str, resource: str = "deals") -> int:
    with Client(database_url=db_url) as client:
        return sum(
            1 for log in client.logs.list(connection_id=conn_id, limit=1000) if log.operation == f"crm.{resource}.list"
        )


# -- connections create --------------------------------------------------------------------
def test_connections_create_stores_an_api_key_connection_without_printing_the_key(
    runner: CliRunner, db_url: str, server: SandboxServer
) -> None:
    conn_id = _create(runner, db_url, server)
    with Client(database_url=db_url) as client:
        conn = client.connections.get(conn_id)
        assert (conn.provider, conn.auth_type, conn.external_id) == ("sandbox", "api_key", "customer-7")
        assert dict(conn.config) == server.config
        assert client.connections.check(conn_id).health.value == "healthy"  # the stored key works

    shown = cli(runner, db_url, "connections", "create", "--provider", "sandbox", "--credential", "api_key",
                *_config_args(server), input=f"{server.api_key}\n")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert server.api_key not in shown.output  # asked without echo, and the table never shows credentials
    assert "Check it with: unified-sdk connections check conn_" in shown.stdout


def test_connections_create_rejects_bad_input_before_storing_anything(
    runner: CliRunner, db_url: str, server: SandboxServer
) -> None:
    cli(runner, db_url, "--create", "connections", "list")  # the database now exists
    no_credentials = cli(runner, db_url, "connections", "create", "--provider", "sandbox", *_config_args(server))
    assert no_credentials.exit_code == 1 and "give the connection's credentials" in no_credentials.stderr
    bad_config = cli(runner, db_url, "connections", "create", "--provider", "sandbox", "--credential", "api_key=k",
                     "--config", "base_url")  # fmt: skip
    assert bad_config.exit_code == 1 and "--config takes KEY=VALUE, got 'base_url'" in bad_config.stderr
    wrong_kind = cli(
        runner, db_url, "connections", "create", "--provider", "sandbox", "--credential", "refresh_token=k"
    )
    assert wrong_kind.exit_code == 1
    assert "credentials need an api_key or an access_token" in wrong_kind.stderr
    # The library's hint names Python (credentials={...}, client.auth...); the CLI prints its own commands.
    assert "hint: e.g. --credential api_key=...; for OAuth use: unified-sdk auth-url sandbox" in wrong_kind.stderr
    assert "client." not in wrong_kind.stderr
    with Client(database_url=db_url) as client:
        assert client.connections.list() == []
    assert server.count() == 0


# -- crm <resource> list -------------------------------------------------------------------
def test_deals_list_one_page_then_the_cursor_continues(runner: CliRunner, db_url: str, server: SandboxServer) -> None:
    conn_id = _create(runner, db_url, server)
    first = json.loads(cli(runner, db_url, "crm", "deals", "list", "--connection", conn_id, "--limit", "7",
                           "--json").stdout)  # fmt: skip
    assert sorted(first) == ["data", "next_cursor"]
    assert len(first["data"]) == 7 and first["next_cursor"]
    assert {"id", "name", "amount", "stage", "pipeline"} <= set(first["data"][0])
    assert "raw" not in first["data"][0]

    second = json.loads(cli(runner, db_url, "crm", "deals", "list", "-c", conn_id, "--limit", "7",
                            "--cursor", first["next_cursor"], "--json").stdout)  # fmt: skip
    with Client(database_url=db_url) as client:
        expected = [d.id for d in client.crm.deals.list(connection_id=conn_id, limit=14).data]
    assert [d["id"] for d in first["data"] + second["data"]] == expected

    table = cli(runner, db_url, "crm", "deals", "list", "-c", conn_id, "--limit", "3")
    assert table.exit_code == 0, table.output
    assert re.search(r"^next_cursor: \S+$", table.stdout, re.M)
    more = next(line for line in table.stdout.splitlines() if line.startswith("more: "))
    again = runner.invoke(app, ["--database-url", db_url, *shlex.split(more.removeprefix("more: unified-sdk "))])
    assert again.exit_code == 0, again.output  # the printed command works as printed


def test_record_names_are_printed_as_they_are_not_as_rich_markup(
    runner: CliRunner, db_url: str, server: SandboxServer
) -> None:
    conn_id = _create(runner, db_url, server)
    with Client(database_url=db_url) as client:
        made = client.crm.deals.create(connection_id=conn_id, data={"name": "Acme [EU] [bold]renewal[/bold]"})
    table = cli(runner, db_url, "crm", "deals", "list", "-c", conn_id, "--limit", "100", "--all")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if made.id in line)
    assert "Acme [EU] [bold]renewal[/bold]" in row


def test_deals_list_all_walks_every_page_bounded_by_max(runner: CliRunner, db_url: str, server: SandboxServer) -> None:
    conn_id = _create(runner, db_url, server)
    everything = json.loads(cli(runner, db_url, "crm", "deals", "list", "-c", conn_id, "--limit", "50", "--all",
                                "--json").stdout)  # fmt: skip
    assert len({d["id"] for d in everything["data"]}) == 120 and everything["next_cursor"] is None
    assert _list_calls(db_url, conn_id) == 3

    bounded = json.loads(cli(runner, db_url, "crm", "deals", "list", "-c", conn_id, "--limit", "50", "--all",
                             "--max", "60", "--json").stdout)  # fmt: skip
    assert len(bounded["data"]) == 100 and bounded["next_cursor"]  # stops after the page reaching 60
    assert _list_calls(db_url, conn_id) == 5
    rest = json.loads(cli(runner, db_url, "crm", "deals", "list", "-c", conn_id, "--limit", "50", "--all",
                          "--cursor", bounded["next_cursor"], "--json").stdout)  # fmt: skip
    assert [d["id"] for d in bounded["data"] + rest["data"]] == [d["id"] for d in everything["data"]]


def test_a_malformed_filter_is_refused_before_sending(runner: CliRunner, db_url: str, server: SandboxServer) -> None:
    conn_id = _create(runner, db_url, server)
    bad = cli(runner, db_url, "crm", "deals", "list", "-c", conn_id, "--filter", "stage")
    assert bad.exit_code == 1 and "--filter takes KEY=VALUE, got 'stage'" in bad.stderr
    assert server.count() == 0


def test_filters_pass_through_to_the_provider(runner: CliRunner, db_url: str) -> None:
    fake = pytest.importorskip("unified_sdk_salesforce.fake")
    with fake.FakeSalesforce() as org:
        org.seed(deals=30)
        made = cli(runner, db_url, "--create", "connections", "create", "--provider", "salesforce",
                   "--credential", f"access_token={org.session_token()}", *_config_args(org), "--json")  # fmt: skip
        assert made.exit_code == 0, made.output
        conn_id = json.loads(made.stdout)["id"]
        with Client(database_url=db_url) as client:
            every = client.crm.deals.list(connection_id=conn_id, limit=100).data
        stage = every[0].stage
        assert stage is not None
        found = cli(runner, db_url, "crm", "deals", "list", "-c", conn_id, "--filter", f"stage_id={stage}", "--json")
        assert found.exit_code == 0, found.output
        ids = [d["id"] for d in json.loads(found.stdout)["data"]]
        assert ids == [d.id for d in every if d.stage == stage] and len(ids) < len(every)


@pytest.mark.parametrize("resource", RESOURCES)
def test_tables_fit_80_columns_and_never_cut_an_id(resource: str, db_url: str, server: SandboxServer) -> None:
    narrow = CliRunner(env={"COLUMNS": "80", "NO_COLOR": "1", "UNIFIED_SDK_DATABASE_URL": None})
    conn_id = _create(narrow, db_url, server)
    records = json.loads(cli(narrow, db_url, "crm", resource, "list", "-c", conn_id, "--limit", "25",
                             "--json").stdout)["data"]  # fmt: skip
    assert records
    table = cli(narrow, db_url, "crm", resource, "list", "-c", conn_id, "--limit", "25")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    rows = [line for line in lines if not line.startswith(("next_cursor: ", "more: "))]
    assert all(len(line) <= 80 for line in rows), "\n".join(rows)
    for record in records:
        assert any(re.search(rf"(^|\s){re.escape(record['id'])}(\s|$)", line) for line in rows), record["id"]
    header = next(line for line in rows if line.strip()).split()
    assert header[:2] == ["id", "name"]

    wide = cli(CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}), db_url, "crm", resource, "list", "-c", conn_id)
    wide_header = next(line for line in wide.stdout.splitlines() if line.strip()).split()
    assert wide_header[: len(header)] == header  # the narrow table dropped the last (least useful) columns


# -- passthrough ---------------------------------------------------------------------------
def test_passthrough_get_prints_the_body_and_logs_the_call(
    runner: CliRunner, db_url: str, server: SandboxServer
) -> None:
    conn_id = _create(runner, db_url, server)
    done = cli(runner, db_url, "passthrough", "GET", "/v1/deals", "--connection", conn_id, "--param", "limit=2")
    assert done.exit_code == 0, done.output
    assert len(json.loads(done.stdout)["data"]) == 2
    assert "200 application/json" in done.stderr

    data = json.loads(cli(runner, db_url, "passthrough", "get", "/v1/pipelines", "-c", conn_id, "--json").stdout)
    assert sorted(data) == ["body", "headers", "status"] and data["status"] == 200
    assert [p["id"] for p in data["body"]["data"]] == ["pip_sales", "pip_renewals"]
    assert server.api_key not in done.output + json.dumps(data)
    with Client(database_url=db_url) as client:
        logged = [log.url for log in client.logs.list(connection_id=conn_id, limit=10)]
    assert logged == [f"{server.url}/v1/pipelines", f"{server.url}/v1/deals?limit=2"]


def test_passthrough_error_and_foreign_host_exit_1(runner: CliRunner, db_url: str, server: SandboxServer) -> None:
    conn_id = _create(runner, db_url, server)
    missing = cli(runner, db_url, "passthrough", "GET", "/v1/nothing-here", "-c", conn_id)
    assert missing.exit_code == 1 and "Error: " in missing.stderr and "Traceback" not in missing.output
    assert server.count(path="/v1/nothing-here") == 1
    foreign = cli(runner, db_url, "passthrough", "GET", "https://example.com/steal", "-c", conn_id)
    assert foreign.exit_code == 1 and "Error: " in foreign.stderr
    unknown = cli(runner, db_url, "passthrough", "GET", "/v1/deals", "-c", "conn_nope")
    assert unknown.exit_code == 1
    assert "hint: list connections with unified-sdk connections list" in unknown.stderr


# -- --version and --database-url ------------------------------------------------------------
def test_version_prints_the_sdk_and_each_provider_with_its_version(runner: CliRunner) -> None:
    from unified_sdk import __version__

    done = runner.invoke(app, ["--version"])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0] == f"unified-sdk {__version__}"
    assert "  provider sandbox: unified-sdk-sandbox " in done.stdout
    assert all(re.fullmatch(r"  provider \S+: \S+ \S+", line) for line in lines[1:])


def test_a_database_url_to_a_missing_file_is_refused_unless_create(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    url = f"sqlite:///{path}"
    refused = runner.invoke(app, ["--database-url", url, "connections", "list"])
    assert refused.exit_code == 1
    assert f"Error: there is no database at {path}" in refused.stderr
    assert "--create" in refused.stderr
    assert not path.exists()

    from_env = runner.invoke(app, ["connections", "list"], env={"UNIFIED_SDK_DATABASE_URL": url})
    assert from_env.exit_code == 1 and not path.exists()

    created = runner.invoke(app, ["--database-url", url, "--create", "connections", "list"])
    assert created.exit_code == 0, created.output
    assert "No connections." in created.stdout and path.exists()
    again = runner.invoke(app, ["--database-url", url, "connections", "list"])
    assert again.exit_code == 0, again.output


def test_the_default_database_is_created_silently(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "UNIFIED_SDK_DATABASE_URL": None,
                            "XDG_DATA_HOME": str(tmp_path / "data")})  # fmt: skip
    done = runner.invoke(app, ["connections", "list"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "data" / "unified-sdk" / "unified_sdk.db").exists()


# -- hints name CLI commands ---------------------------------------------------------------
def test_hints_that_name_python_calls_print_cli_commands() -> None:
    assert cli_hint(ConnectionNotFoundError("no connection")) == "list connections with unified-sdk connections list"
    scopes = PermissionDeniedError(
        "not granted",
        connection_id="conn_1",
        hint="re-authorize with scopes ['crm_contact_read', 'crm_deal_read'] "
        "(client.auth.authorization_url(..., connection_id=...))",
        details={"missing_scopes": ["crm_contact_read"]},
    )
    assert cli_hint(scopes) == "re-authorize with: unified-sdk connections reauthorize conn_1 --scopes crm_contact_read"
    lost = PermissionDeniedError(
        "lost",
        connection_id="conn_2",
        hint="re-authorize the connection (client.auth.authorization_url(..., connection_id=...))",
    )
    assert cli_hint(lost) == "re-authorize the connection (unified-sdk connections reauthorize conn_2)"
    configure = ConfigurationError(
        "no integration", hint='call client.integrations.configure("hubspot", client_id=..., client_secret=...)'
    )
    assert cli_hint(configure) == "run: unified-sdk integrations configure hubspot --client-id ... --redirect-uri ..."
    key = StorageError("no key", hint="pass Client(secret_key=...) or set UNIFIED_SDK_SECRET_KEY")
    assert cli_hint(key) == "set UNIFIED_SDK_SECRET_KEY"
    rotate = StorageError("wrong key", hint="then run `unified-sdk keys rotate` (client.keys.rotate())")
    assert cli_hint(rotate) == "then run `unified-sdk keys rotate`"


def test_auth_url_without_integration_hints_the_cli_command(runner: CliRunner, db_url: str) -> None:
    done = cli(runner, db_url, "--create", "auth-url", "sandbox", "--scopes", "crm_deal_read")
    assert done.exit_code == 1
    assert "hint: run: unified-sdk integrations configure sandbox --client-id" in done.stderr
    assert "client.integrations" not in done.stderr


# -- the demo ------------------------------------------------------------------------------
def test_demo_uses_its_own_database_and_removes_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "UNIFIED_SDK_DATABASE_URL": None,
                            "XDG_DATA_HOME": str(data)})  # fmt: skip
    done = runner.invoke(app, ["demo", "--deals", "150"])
    assert done.exit_code == 0, done.output
    assert not (data / "unified-sdk").exists()  # the user's default database was never opened
    used = Path(re.search(r"database: sqlite:///(\S+)", done.stdout)[1])  # type: ignore[index]
    assert not used.parent.exists()
    assert "unified-sdk demo --keep" in done.stdout and "Explore what the demo left" not in done.stdout


def test_demo_keep_prints_next_steps_that_work_as_printed(tmp_path: Path) -> None:
    env = {"COLUMNS": "200", "NO_COLOR": "1", "UNIFIED_SDK_DATABASE_URL": None, "XDG_DATA_HOME": str(tmp_path)}
    runner = CliRunner(env=env)
    done = runner.invoke(app, ["demo", "--deals", "150", "--keep"])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    start = lines.index("Explore what the demo left in the database:")
    commands = [line.strip() for line in lines[start + 1 :] if line.strip().startswith("unified-sdk ")]
    assert len(commands) == 4 and all("--database-url sqlite:///" in c for c in commands)
    outputs = []
    for printed in commands:
        args = shlex.split(printed)
        assert args[0] == "unified-sdk"
        ran = runner.invoke(app, args[1:])
        assert ran.exit_code == 0, (printed, ran.output)
        outputs.append(ran.stdout)
    assert "unified-sdk-demo" in outputs[0] and "401" in outputs[2] and outputs[3].startswith("curl ")
    used = Path(re.search(r"database: sqlite:///(\S+)", done.stdout)[1])  # type: ignore[index]
    assert used.exists() and not (tmp_path / "unified-sdk").exists()
