"""The ``unified-sdk`` command line: providers, connections, records, passthrough, call logs, keys and the demo.

Each command is one small function registered with :func:`command`, which turns a
:class:`~unified_sdk.errors.UnifiedError` into a red message with its hint and
exit status 1 (no traceback). Adding a command is adding one function::

    @command(app, "auth-url")
    def auth_url(ctx: typer.Context, provider: str) -> None:
        client = state(ctx).client()
        ...
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from unified_sdk._tables import RECORD_COLUMNS, connection_table, health_text, logs_table, record_table, when
from unified_sdk.errors import UnifiedError

if TYPE_CHECKING:
    from unified_sdk._client import Client
    from unified_sdk._connections import Connection
    from unified_sdk._logs import CallLog
    from unified_sdk._oauth import AuthorizationRequest
    from unified_sdk.models._base import UnifiedModel

__all__ = [
    "app",
    "cli_hint",
    "command",
    "connections_app",
    "crm_app",
    "integrations_app",
    "keys_app",
    "main",
    "print_error",
    "state",
]

P = ParamSpec("P")
R = TypeVar("R")

ENV_DATABASE_URL = "UNIFIED_SDK_DATABASE_URL"

app = typer.Typer(
    name="unified-sdk",
    help="Inspect providers, connections and call logs of unified-sdk, authorize connections, run the demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold credentials
)
connections_app = typer.Typer(help="List, show, check and delete stored connections.", no_args_is_help=True)
app.add_typer(connections_app, name="connections")

#: Where tables and results go; errors go to stderr. Replaced per invocation (see :func:`_root`).
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


@dataclass
class State:
    """What the global options chose; the client is created on first use and closed at exit."""

    database_url: str | None
    create: bool = False
    """``--create``: a ``--database-url`` SQLite file that does not exist may be created."""
    explicit: bool = False
    """``--database-url`` was given on the command line (not from the environment)."""
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            from unified_sdk._client import Client

            self._check_database()
            self._client = Client(database_url=self.database_url)
        return self._client

    def _check_database(self) -> None:
        """Refuse to create a new empty database at a chosen SQLite path that does not exist (a typo, most often).

        The default database (no option given) is created silently, as ``Client()`` does.
        """
        from unified_sdk._dburl import sqlite_path

        if self.database_url is None or self.create:
            return
        path = sqlite_path(self.database_url)
        if path is None or path.exists():
            return
        if sys.stdin.isatty() and typer.confirm(f"There is no database at {path}. Create a new empty one there?"):
            return
        fail(
            f"there is no database at {path}",
            "check --database-url (or UNIFIED_SDK_DATABASE_URL), or pass --create to create a new empty database there",
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def state(ctx: typer.Context) -> State:
    """The :class:`State` of this invocation."""
    found = ctx.find_object(State)
    if found is None:  # a command invoked without the root callback (e.g. embedded elsewhere)
        found = ctx.ensure_object(State)
    return found


#: Hints of the library that name Python calls, and the CLI command to print instead (``str.format``
#: fields: ``connection``, ``scopes``, ``provider``). Applied in order; the library's hints are unchanged.
_REAUTHORIZE_CALL = re.escape("client.auth.authorization_url(..., connection_id=...)")
_CLI_HINTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(re.escape("client.connections.list()")), "unified-sdk connections list"),
    (
        re.compile(rf"re-authorize with scopes \[[^\]]*\] \({_REAUTHORIZE_CALL}\)"),
        "re-authorize with: unified-sdk connections reauthorize {connection} --scopes {scopes}",
    ),
    (re.compile(rf"\({_REAUTHORIZE_CALL}\)|{_REAUTHORIZE_CALL}"), "(unified-sdk connections reauthorize {connection})"),
    (
        re.compile(re.escape('e.g. credentials={"api_key": "..."}; for OAuth use client.auth.authorization_url(...)')),
        "e.g. --credential api_key=...; for OAuth use: unified-sdk auth-url {provider} --scopes ...",
    ),
    (
        re.compile(
            r'call client\.integrations\.configure\("(?P<provider>[^"]+)", client_id=\.\.\., client_secret=\.\.\.\)'
        ),
        "run: unified-sdk integrations configure {provider} --client-id ... --redirect-uri ...",
    ),
    (
        re.compile(re.escape("(client.connections.update(..., credentials=...))")),
        "(unified-sdk connections delete {connection}, then unified-sdk connections create ...)",
    ),
    (re.compile(re.escape(" (client.keys.rotate())")), ""),
    (re.compile(re.escape("pass Client(secret_key=...) or set")), "set"),
    (re.compile(re.escape("pass its key as secret_key= or")), "set its key in"),
]


def cli_hint(exc: UnifiedError, *, provider: str | None = None) -> str | None:
    """``exc.hint`` with the Python calls it names replaced by CLI commands (``provider``: when ``exc`` names none)."""
    hint = exc.hint
    if not hint:
        return hint
    missing = exc.details.get("missing_scopes") if isinstance(exc.details, dict) else None
    for pattern, replacement in _CLI_HINTS:

        def fill(match: re.Match[str], replacement: str = replacement) -> str:
            fields = {
                "connection": exc.connection_id or "CONNECTION_ID",
                "scopes": ",".join(missing) if isinstance(missing, list) else "...",
                "provider": match.groupdict().get("provider") or exc.provider or provider or "PROVIDER",
            }
            return replacement.format(**fields)

        hint = pattern.sub(fill, hint)
    return hint


def print_error(exc: UnifiedError, *, provider: str | None = None) -> None:
    """Print an error's message and hint in red (no traceback); hints name CLI commands."""
    err_console.print(Text(f"Error: {exc.message}", style="bold red"))
    hint = cli_hint(exc, provider=provider)
    if hint:
        err_console.print(Text(f"hint: {hint}", style="red"))
    if exc.log_id:
        err_console.print(Text(f"call log: {exc.log_id} (unified-sdk logs --curl {exc.log_id})", style="dim"))


def fail(message: str, hint: str | None = None) -> NoReturn:
    """Stop the command with a red message (and hint) and exit status 1."""
    raise typer.Exit(_red(message, hint))


def _red(message: str, hint: str | None) -> int:
    err_console.print(Text(f"Error: {message}", style="bold red"))
    if hint:
        err_console.print(Text(f"hint: {hint}", style="red"))
    return 1


def command(group: typer.Typer, name: str | None = None, **options: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Register ``fn`` as a command of ``group``; unified errors print in red and exit 1."""

    def register(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except UnifiedError as exc:
                print_error(exc)
                raise typer.Exit(1) from None

        group.command(name, **options)(run)
        return fn

    return register


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import entry_points

    from unified_sdk import __version__

    typer.echo(f"unified-sdk {__version__}")
    seen: set[str] = set()
    for ep in sorted(entry_points(group="unified_sdk.providers"), key=lambda e: e.name):
        if ep.name in seen:
            continue
        seen.add(ep.name)
        dist = ep.dist
        where = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "unknown distribution"
        typer.echo(f"  provider {ep.name}: {where}")
    raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar=ENV_DATABASE_URL,
            help="Database of connections and call logs (default: the SQLite file in the user data dir).",
            show_default=False,
        ),
    ] = None,
    create: Annotated[
        bool,
        typer.Option("--create", help="Create the --database-url SQLite file if it does not exist (else refused)."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and the installed providers."
        ),
    ] = False,
) -> None:
    global console, err_console
    # Fresh consoles bound to this invocation's streams (CliRunner swaps sys.stdout/stderr).
    console = Console(file=sys.stdout, highlight=False)
    err_console = Console(file=sys.stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped to a file or a pager: do not squeeze tables into 80 columns (COLUMNS, when set, wins).
        console.width = max(console.width, 160)
    source = ctx.get_parameter_source("database_url")
    explicit = source is not None and source.name == "COMMANDLINE"
    current = State(database_url, create=create, explicit=explicit)
    ctx.obj = current
    ctx.call_on_close(current.close)


# -- helpers -------------------------------------------------------------------------------
def _dump_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


def _connection_dict(conn: Connection) -> dict[str, Any]:
    return {
        "id": conn.id,
        "provider": conn.provider,
        "auth_type": conn.auth_type,
        "external_id": conn.external_id,
        "health": conn.health.value,
        "config": dict(conn.config),
        "scopes": conn.scopes,
        "provider_scopes": conn.provider_scopes,
        "last_healthy_at": conn.last_healthy_at,
        "last_unhealthy_at": conn.last_unhealthy_at,
        "last_error": dict(conn.last_error) if conn.last_error else None,
        "rate_limit": dict(conn.rate_limit) if conn.rate_limit else None,
        "created_at": conn.created_at,
        "updated_at": conn.updated_at,
    }


def _log_dict(log: CallLog) -> dict[str, Any]:
    return {
        "id": log.id,
        "created_at": log.created_at,
        "connection_id": log.connection_id,
        "provider": log.provider,
        "operation": log.operation,
        "method": log.method,
        "url": log.url,
        "status": log.status,
        "duration_ms": log.duration_ms,
        "category": log.category,
        "action": log.action,
        "action_reason": log.action_reason,
        "attempt": log.attempt,
        "error": log.error,
        "provider_request_id": log.provider_request_id,
    }


# -- providers ------------------------------------------------------------------------------
providers_app = typer.Typer(help="Installed provider plugins and what each supports.")
app.add_typer(providers_app, name="providers")


@providers_app.callback(invoke_without_command=True)
def providers(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List installed provider plugins; a plugin that fails to load is listed with its error.

    ``providers show NAME`` prints one provider's capabilities.
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        _list_providers(ctx, as_json)
    except UnifiedError as exc:
        print_error(exc)
        raise typer.Exit(1) from None


@command(providers_app, "show")
def providers_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The provider (e.g. hubspot).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """One provider's capabilities per resource: operations, filters, sorts, writable fields."""
    info = state(ctx).client().providers.get(name)
    caps: dict[str, dict[str, list[str]]] = {
        resource: {
            "operations": [op for op in ("list", "get", "create", "update", "delete") if op in c.operations],
            "filters": sorted(c.filters),
            "sorts": sorted(c.sorts),
            "writable_fields": sorted(c.writable_fields),
        }
        for resource, c in info.capabilities.items()
    }
    if as_json:
        _dump_json({"name": info.name, "display_name": info.display_name, "capabilities": caps})
        return
    table = Table(title=f"{info.display_name} ({info.name})", title_justify="left", header_style="bold")
    for column in ("resource", "operations", "filters", "sorts", "writable fields"):
        table.add_column(column, overflow="fold")
    for resource, c in caps.items():
        table.add_row(
            resource, *(", ".join(c[k]) or "—" for k in ("operations", "filters", "sorts", "writable_fields"))
        )
    console.print(table)


def _list_providers(ctx: typer.Context, as_json: bool) -> None:
    client = state(ctx).client()
    rows: list[dict[str, Any]] = []
    for name in client.providers.names():
        try:
            info = client.providers.get(name)
        except UnifiedError as exc:
            why = client.providers.errors.get(name, exc.message)
            rows.append({"name": name, "error": why})
            continue
        rows.append(
            {
                "name": info.name,
                "display_name": info.display_name,
                "categories": sorted(info.categories),
                "auth_types": sorted(info.auth_types),
                "resources": info.resources,
                "unified_scopes": info.unified_scopes,
                "version": info.version,
                "error": None,
            }
        )
    if as_json:
        _dump_json(rows)
        return
    if not rows:
        console.print("No provider plugins are installed (install e.g. unified-sdk-sandbox).")
        return
    table = Table(title="Provider plugins", title_justify="left", header_style="bold")
    table.add_column("name", no_wrap=True)
    table.add_column("display name", no_wrap=True)
    table.add_column("auth")
    table.add_column("resources", overflow="fold")
    table.add_column("version", no_wrap=True)
    table.add_column("status", overflow="fold")
    for row in rows:
        if row["error"]:
            table.add_row(row["name"], "", "", "", "", Text(f"failed to load: {row['error']}", "red"))
        else:
            table.add_row(
                row["name"],
                row["display_name"],
                ", ".join(row["auth_types"]),
                _resources_text(row["resources"]),
                row["version"],
                Text("ok", "green"),
            )
    console.print(table)


def _resources_text(resources: list[str]) -> str:
    """``crm.deals, crm.users`` → ``crm: deals, users`` (one line per category)."""
    by_category: dict[str, list[str]] = {}
    for resource in resources:
        category, _, name = resource.rpartition(".")
        by_category.setdefault(category or "-", []).append(name)
    return "\n".join(f"{c}: {', '.join(names)}" for c, names in sorted(by_category.items()))


# -- connections ----------------------------------------------------------------------------
@command(connections_app, "list")
def connections_list(
    ctx: typer.Context,
    provider: Annotated[str | None, typer.Option(help="Only this provider's connections.")] = None,
    external_id: Annotated[str | None, typer.Option(help="Only connections of this external id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List stored connections with their health."""
    conns = state(ctx).client().connections.list(provider=provider, external_id=external_id)
    if as_json:
        _dump_json([_connection_dict(c) for c in conns])
        return
    if not conns:
        console.print("No connections.")
        return
    table = Table(title="Connections", title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for column in ("id", "provider", "external id", "auth", "health", "last healthy", "last unhealthy"):
        table.add_column(column, no_wrap=column in ("id", "health"))
    for c in conns:
        table.add_row(
            c.id,
            c.provider,
            c.external_id or "-",
            c.auth_type,
            health_text(c.health.value),
            when(c.last_healthy_at),
            when(c.last_unhealthy_at),
        )
    console.print(table)


@command(connections_app, "show")
def connections_show(
    ctx: typer.Context,
    connection_id: Annotated[str, typer.Argument(help="The connection id (conn_…).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show one connection: provider, config, scopes and health (never its credentials)."""
    conn = state(ctx).client().connections.get(connection_id)
    if as_json:
        _dump_json(_connection_dict(conn))
    else:
        console.print(connection_table(conn))


@command(connections_app, "check")
def connections_check(
    ctx: typer.Context,
    connection_id: Annotated[str, typer.Argument(help="The connection id (conn_…).")],
) -> None:
    """Run the provider's health check now and print the connection's health."""
    client = state(ctx).client()
    try:
        conn = client.connections.check(connection_id)
    except UnifiedError as exc:
        try:
            health = client.connections.get(connection_id).health.value
        except UnifiedError:
            raise exc from None
        err_console.print(Text.assemble("health: ", health_text(health)))
        raise
    console.print(Text.assemble(f"{conn.id} ({conn.provider}) is ", health_text(conn.health.value)))


@command(connections_app, "delete")
def connections_delete(
    ctx: typer.Context,
    connection_id: Annotated[str, typer.Argument(help="The connection id (conn_…).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a stored connection and its credentials."""
    client = state(ctx).client()
    conn = client.connections.get(connection_id)
    if not yes and not typer.confirm(
        f"Delete connection {conn.id} ({conn.provider}, external id {conn.external_id or '-'})?"
    ):
        raise typer.Exit(1)
    client.connections.delete(connection_id)
    console.print(f"Deleted {connection_id}.")


def _pairs(option: str, items: list[str] | None) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict; a malformed one stops the command before anything is sent."""
    found: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{option} takes KEY=VALUE, got {item!r}")
        found[key] = value
    return found


@command(connections_app, "create")
def connections_create(
    ctx: typer.Context,
    provider: Annotated[str, typer.Option(help="The provider (e.g. sandbox, hubspot).")],
    credential: Annotated[
        list[str] | None,
        typer.Option(
            "--credential",
            metavar="KEY[=VALUE]",
            help="A credential (e.g. api_key=...); KEY alone asks for the value without echoing it.",
        ),
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option("--config", metavar="KEY=VALUE", help="Connection config (e.g. base_url=https://...)."),
    ] = None,
    external_id: Annotated[str | None, typer.Option(help="Your id of the customer this connection is for.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Store an API-key connection (credentials encrypted at rest; never printed)."""
    credentials: dict[str, str] = {}
    for item in credential or []:
        key, sep, value = item.partition("=")
        if not key:
            fail(f"--credential takes KEY=VALUE or KEY, got {item!r}")
        credentials[key] = value if sep else typer.prompt(key, hide_input=True)
    if not credentials:
        fail("give the connection's credentials", "e.g. --credential api_key=... (or --credential api_key to be asked)")
    config = _pairs("--config", setting)
    client = state(ctx).client()
    try:
        conn = client.connections.create(
            provider=provider, credentials=credentials, external_id=external_id, config=config
        )
    except UnifiedError as exc:
        print_error(exc, provider=provider)
        raise typer.Exit(1) from None
    if as_json:
        _dump_json(_connection_dict(conn))
        return
    console.print(connection_table(conn))
    console.print(f"Check it with: unified-sdk connections check {conn.id}", soft_wrap=True)


# -- records --------------------------------------------------------------------------------
crm_app = typer.Typer(help="List CRM records through a connection (deals, contacts, companies, pipelines, users).")
app.add_typer(crm_app, name="crm", no_args_is_help=True)


def _record_dict(record: UnifiedModel, raw: bool) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude=None if raw else {"raw"})


def _list_filters(resource: str, given: dict[str, str]) -> dict[str, Any]:
    """``--filter`` pairs as the declared keyword arguments of the resource's ``list``; others stop here."""
    from unified_sdk._capabilities import FILTERS

    declared = FILTERS.get(f"crm.{resource}", ())
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key not in declared or key == "updated_after":
            known = ", ".join(k for k in declared if k != "updated_after") or "none"
            fail(f"--filter {key}: {resource} has no such filter (filters: {known}; use --updated-after)")
        if key == "created_after":
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                fail(f"--filter created_after takes an ISO 8601 time, got {value!r}")
            out[key] = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        else:
            out[key] = value
    return out


def _add_list_command(resource: str) -> None:
    group = typer.Typer(help=f"CRM {resource}.", no_args_is_help=True)
    crm_app.add_typer(group, name=resource)

    @command(
        group,
        "list",
        help=f"List {resource} of a connection, one page (or every page with --all); prints the next_cursor.",
    )
    def list_records(
        ctx: typer.Context,
        connection: Annotated[str, typer.Option("--connection", "-c", help="The connection id (conn_…).")],
        limit: Annotated[int | None, typer.Option(min=1, help="Records per page (the provider caps it).")] = None,
        cursor: Annotated[str | None, typer.Option(help="Continue from this next_cursor of an earlier page.")] = None,
        walk_all: Annotated[
            bool, typer.Option("--all", help="Walk every following page (up to --max records).")
        ] = False,
        maximum: Annotated[
            int, typer.Option("--max", min=1, help="With --all: stop after the page reaching this many records.")
        ] = 10_000,
        updated_after: Annotated[
            datetime | None, typer.Option(help="Only records updated after this time (ISO 8601, UTC).")
        ] = None,
        filters: Annotated[
            list[str] | None,
            typer.Option(
                "--filter",
                metavar="KEY=VALUE",
                help="A declared filter of list() (e.g. stage_id=…, query=…; see `providers show NAME`).",
            ),
        ] = None,
        sort: Annotated[str | None, typer.Option(help="Sort by created_at, updated_at or name.")] = None,
        order: Annotated[str, typer.Option(help="asc or desc, with --sort.")] = "asc",
        raw: Annotated[
            bool, typer.Option("--raw", help="With --json: include each record's raw provider data.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    ) -> None:
        objects = getattr(state(ctx).client().crm, resource)
        extra = _pairs("--filter", filters)
        if updated_after is not None and updated_after.tzinfo is None:
            from datetime import UTC

            updated_after = updated_after.replace(tzinfo=UTC)
        extra_args: dict[str, Any] = _list_filters(resource, extra)
        if sort is not None or order != "asc":
            extra_args.update(sort=sort, order=order)
        page = objects.list(
            connection_id=connection, limit=limit, cursor=cursor, updated_after=updated_after, **extra_args
        )
        records = list(page.data)
        next_cursor = page.next_cursor
        while walk_all and next_cursor is not None and len(records) < maximum:
            page = page.get_next_page()
            records += page.data
            next_cursor = page.next_cursor
        if as_json:
            _dump_json({"data": [_record_dict(r, raw) for r in records], "next_cursor": next_cursor})
            return
        if not records:
            console.print(f"No {resource}.")
        else:
            console.print(record_table(resource, records, width=console.width))
        if next_cursor is not None:
            console.print(f"next_cursor: {next_cursor}", soft_wrap=True, markup=False)
            console.print(
                f"more: unified-sdk crm {resource} list --connection {shlex.quote(connection)} "
                f"--cursor {shlex.quote(next_cursor)}",
                style="dim",
                soft_wrap=True,
                markup=False,
            )


for _resource in RECORD_COLUMNS:
    _add_list_command(_resource)


# -- passthrough ----------------------------------------------------------------------------
@command(app, "passthrough")
def passthrough(
    ctx: typer.Context,
    method: Annotated[str, typer.Argument(help="The HTTP method (GET, POST, ...).")],
    path: Annotated[str, typer.Argument(help="The path, relative to the connection's API base URL (e.g. /v1/deals).")],
    connection: Annotated[str, typer.Option("--connection", "-c", help="The connection id (conn_…).")],
    params: Annotated[
        list[str] | None, typer.Option("--param", "-p", metavar="KEY=VALUE", help="A query parameter.")
    ] = None,
    headers: Annotated[list[str] | None, typer.Option("--header", "-H", metavar="NAME=VALUE", help="A header.")] = None,
    body: Annotated[str | None, typer.Option("--body", help="A JSON request body.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {status, headers, body} as JSON instead of the body.")
    ] = False,
) -> None:
    """Send one request through the connection (its auth, retries and call log) and print the answer."""
    json_body: Any = None
    if body is not None:
        try:
            json_body = json.loads(body)
        except json.JSONDecodeError as exc:
            fail(f"--body is not JSON: {exc}")
    response = (
        state(ctx)
        .client()
        .passthrough.request(
            connection,
            method.upper(),
            path,
            params=_pairs("--param", params) or None,
            headers=_pairs("--header", headers) or None,
            json=json_body,
        )
    )
    try:
        parsed: Any = response.json()
        is_json = True
    except ValueError:
        parsed, is_json = response.text, False
    if as_json:
        from unified_sdk._redact import redact_headers

        _dump_json({"status": response.status, "headers": redact_headers(dict(response.headers)), "body": parsed})
        return
    err_console.print(f"{response.status} {response.headers.get('content-type', '')}".rstrip(), style="dim")
    if is_json:
        _dump_json(parsed)
    else:
        typer.echo(parsed)


# -- keys -----------------------------------------------------------------------------------
keys_app = typer.Typer(help="The secret keys that encrypt credentials at rest.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@command(keys_app, "rotate")
def keys_rotate(
    ctx: typer.Context,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows re-encrypted per committed transaction.")] = 500,
) -> None:
    """Re-encrypt every stored secret with the primary (first) key, so the old key can be dropped.

    Configure the new key first and the old one after it: UNIFIED_SDK_SECRET_KEY=new,old (or, with the
    default key file, the new key on its first line and the old one below). Safe to run again after an
    interruption: it continues where it stopped.
    """
    from unified_sdk._keys import KeyRotation

    def progress(done: KeyRotation) -> None:
        err_console.print(f"  {done.reencrypted} re-encrypted, {done.unchanged} already current", style="dim")

    result = state(ctx).client().keys.rotate(batch_size=batch_size, on_batch=progress)
    console.print(
        f"Done: re-encrypted {result.reencrypted} secrets with the primary key "
        f"({result.unchanged} were already current). The old keys can now be removed."
    )


# -- OAuth ----------------------------------------------------------------------------------
integrations_app = typer.Typer(help="Register OAuth apps (client id and secret) per provider.", no_args_is_help=True)
app.add_typer(integrations_app, name="integrations")


@command(integrations_app, "configure")
def integrations_configure(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="The provider (e.g. hubspot).")],
    client_id: Annotated[str, typer.Option(help="The OAuth app's client id.")],
    redirect_uri: Annotated[str, typer.Option(help="Where the provider sends the user back.")],
    client_secret: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, envvar="UNIFIED_SDK_CLIENT_SECRET", help="The app's client secret."),
    ],
    setting: Annotated[
        list[str] | None,
        typer.Option("--config", metavar="KEY=VALUE", help="Endpoint overrides (authorize_url, token_url, base_url…)."),
    ] = None,
) -> None:
    """Store the OAuth app of a provider (the secret is encrypted at rest)."""
    config: dict[str, str] = {}
    for item in setting or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--config takes KEY=VALUE, got {item!r}")
        config[key] = value
    integration = (
        state(ctx)
        .client()
        .integrations.configure(
            provider, client_id=client_id, client_secret=client_secret, redirect_uri=redirect_uri, config=config
        )
    )
    console.print(f"Configured {integration.provider} (client id {integration.client_id}).")


def _print_authorization(ctx: typer.Context, request: AuthorizationRequest) -> None:
    mapping = state(ctx).client().providers.get(request.provider).scopes
    table = Table(box=box.SIMPLE_HEAD, title=f"Scopes asked of {request.provider}")
    table.add_column("unified scope", style="cyan")
    table.add_column("provider scopes (required)")
    table.add_column("optional")
    for scope in request.scopes:
        table.add_row(scope, " ".join(mapping[scope].required) or "-", " ".join(mapping[scope].optional) or "-")
    console.print(table)
    console.print(f"Expires at {request.expires_at:%Y-%m-%d %H:%M:%S} UTC. Send the user to:")
    typer.echo(request.url)


def _scopes(value: str) -> list[str]:
    return [s.strip() for s in value.split(",") if s.strip()]


@command(app, "auth-url")
def auth_url(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="The provider (e.g. hubspot).")],
    scopes: Annotated[str, typer.Option(help="Unified scopes, comma-separated (e.g. crm_deal_read,crm_contact_read).")],
    external_id: Annotated[str | None, typer.Option(help="Your id of the customer this connection is for.")] = None,
    redirect_uri: Annotated[str | None, typer.Option(help="Override the integration's redirect URI.")] = None,
) -> None:
    """Build an authorization URL from unified scopes; the state and PKCE verifier are stored."""
    request = (
        state(ctx)
        .client()
        .auth.authorization_url(provider, scopes=_scopes(scopes), external_id=external_id, redirect_uri=redirect_uri)
    )
    _print_authorization(ctx, request)


@command(connections_app, "reauthorize")
def connections_reauthorize(
    ctx: typer.Context,
    connection_id: Annotated[str, typer.Argument(help="The connection id (conn_…).")],
    scopes: Annotated[str, typer.Option(help="Unified scopes to add to what was granted (comma-separated).")] = "",
) -> None:
    """Build an authorization URL that re-authorizes a connection in place (granted scopes plus --scopes)."""
    client = state(ctx).client()
    conn = client.connections.get(connection_id)
    request = client.auth.authorization_url(conn.provider, scopes=_scopes(scopes), connection_id=conn.id)
    _print_authorization(ctx, request)


@command(app, "auth-complete")
def auth_complete(
    ctx: typer.Context,
    callback_url: Annotated[str, typer.Argument(help="The full URL the provider redirected the user to.")],
) -> None:
    """Finish an authorization from its callback URL: exchange the code, check and store the connection."""
    conn = state(ctx).client().auth.complete(callback_url)
    console.print(connection_table(conn))


# -- logs -----------------------------------------------------------------------------------
@command(app, "logs")
def logs(
    ctx: typer.Context,
    connection: Annotated[str | None, typer.Option("--connection", "-c", help="Only calls of this connection.")] = None,
    status_min: Annotated[
        int | None, typer.Option(help="Only calls with at least this HTTP status (e.g. 400).")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Only calls of this error category (e.g. rate_limited).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows, newest first.")] = 50,
    curl: Annotated[
        str | None,
        typer.Option("--curl", metavar="LOG_ID", help="Print one call as a curl command (secrets redacted)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show call logs, newest first, or one call as a curl command."""
    client = state(ctx).client()
    if curl is not None:
        found = client.logs.get(curl)
        if found is None:
            fail(f"no call log with id {curl!r}", "list call logs with: unified-sdk logs")
        typer.echo(found.as_curl())
        return
    rows = client.logs.list(connection_id=connection, status_min=status_min, category=category, limit=limit)
    if as_json:
        _dump_json([_log_dict(r) for r in rows])
        return
    if not rows:
        console.print("No call logs.")
        return
    console.print(
        logs_table(rows, title=f"Call logs (newest first, {len(rows)} shown)", show_connection=connection is None)
    )


# -- demo -----------------------------------------------------------------------------------
@command(app, "demo")
def demo(
    ctx: typer.Context,
    deals: Annotated[int, typer.Option(min=1, help="How many deals the sandbox is seeded with.")] = 2500,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the demo's temporary database and print how to explore it.")
    ] = False,
) -> None:
    """Run the sandbox demo: a local CRM server, a connection, a listing and the error model at work.

    The demo writes to a temporary database of its own, removed at the end (kept with --keep), so it
    never touches your default database. A --database-url given on the command line is used instead.
    """
    from unified_sdk._client import Client
    from unified_sdk._demo import run_demo

    current = state(ctx)
    if current.explicit:
        run_demo(console, client=current.client(), deals=deals)
        return
    folder = tempfile.mkdtemp(prefix="unified-sdk-demo-")
    try:
        with Client(database_url=f"sqlite:///{folder}/demo.db") as client:
            run_demo(console, client=client, deals=deals, explore=keep)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    if not keep:
        console.print("The demo's temporary database was removed; run `unified-sdk demo --keep` to explore it after.")


# -- new-provider ---------------------------------------------------------------------------
@command(app, "new-provider")
def new_provider(
    name: Annotated[str, typer.Argument(help="The provider's short id (acme): lower case, digits, underscores.")],
    directory: Annotated[str, typer.Option("--dir", help="Where to write the package folder unified-sdk-NAME.")] = ".",
) -> None:
    """Write a ready provider plugin package (plugin, fake, tests that run the conformance kit)."""
    from unified_sdk._template import new_provider as generate

    try:
        root = generate(name, directory)
    except (ValueError, FileExistsError) as exc:
        fail(str(exc))
    console.print(f"Wrote {root}. Next: cd {root} && pip install -e '.[test]' && pytest", markup=False)


def main() -> None:
    """Console-script entry point (``unified-sdk``)."""
    app(prog_name="unified-sdk")


if __name__ == "__main__":  # pragma: no cover
    main()
