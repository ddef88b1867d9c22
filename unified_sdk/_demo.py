"""``unified-sdk demo``: the SDK at work against the local sandbox CRM, on loopback only.

The demo is a list of small steps (:data:`STEPS`), each a function of the shared
:class:`Demo` state, so a new part is one more function in the list. It uses the
client it is given: the CLI passes one on a temporary database of the demo's own
(never the user's default one), or on a ``--database-url`` given on the command
line. With ``explore``, it ends with the commands that inspect the demo's connection
and call logs in that database. Connections of earlier demo runs (external id
``unified-sdk-demo``) are deleted first.

The sandbox server lives in the ``unified-sdk-sandbox`` distribution; it is
imported here by name only because the demo starts it. The connection itself
goes through the installed plugin like any provider's.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from unified_sdk.errors import ConfigurationError, UnifiedError

if TYPE_CHECKING:
    from unified_sdk._client import Client
    from unified_sdk._connections import Connection
    from unified_sdk._events import Event
    from unified_sdk._logs import CallLog

DEMO_EXTERNAL_ID = "unified-sdk-demo"


class SandboxLike(Protocol):
    """What the demo uses of ``unified_sdk_sandbox.fake.SandboxServer`` (the common fake API)."""

    @property
    def url(self) -> str: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def api_key(self) -> str: ...
    @property
    def oauth_client_id(self) -> str: ...
    @property
    def oauth_client_secret(self) -> str: ...
    @property
    def token_requests(self) -> dict[str, int]: ...
    def approve(self, authorization_url: str) -> str: ...
    def expire_access_tokens(self) -> int: ...
    def inject(self, *, status: int | None = None, times: int = 1, retry_after: float | None = None) -> None: ...
    def __enter__(self) -> SandboxLike: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class DemoFailed(UnifiedError):
    """A demo step did not see what it shows (the SDK or the sandbox misbehaved)."""


@dataclass
class Demo:
    """The state the steps share."""

    console: Console
    client: Client
    server: SandboxLike
    deals: int
    conn: Connection | None = None
    oauth_conn: Connection | None = None
    events: list[Event] = field(default_factory=list)
    faults_since: float = 0.0
    """When the error-model steps began (their call logs are shown at the end)."""
    listing_logs: int = 0
    last_error_log: str | None = None
    explore: bool = True
    """Print the commands that explore the database after the demo (it is kept)."""

    @property
    def conn_id(self) -> str:
        assert self.conn is not None, "the connection step runs first"
        return self.conn.id

    def step(self, title: str) -> None:
        self.console.print()
        self.console.print(Rule(Text(title, style="bold cyan"), align="left"))

    def attempts(self, count: int) -> list[CallLog]:
        """The last ``count`` calls of the demo connection, oldest first, printed one per line."""
        rows = list(reversed(self.client.logs.list(connection_id=self.conn_id, limit=count)))
        for log in rows:
            path = re.sub(r"^https?://[^/]+", "", log.url)
            status = str(log.status) if log.status is not None else "-"
            outcome = f"{log.category} → {log.action}" if log.category else "ok"
            style = "green" if not log.category else ("yellow" if log.action != "fail" else "red")
            self.console.print(
                Text.assemble(
                    f"  attempt {log.attempt}: {log.method} {path} → ",
                    (f"{status} {outcome}", style),
                    (f"  ({log.action_reason}, {log.duration_ms or 0:.0f} ms)", "dim"),
                )
            )
        return rows

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            raise DemoFailed(f"demo step failed: {what}", hint="please report this with the demo output")

    def show_error(self, exc: UnifiedError) -> None:
        self.console.print(Text(f"  {type(exc).__name__}: {exc.message}", style="red"))
        self.console.print(Text(f"  hint: {exc.hint}", style="yellow"))
        self.console.print(
            Text(
                f"  category={exc.category.value if exc.category else None} status={exc.status} "
                f"provider_code={exc.provider_code} retryable={exc.retryable} log_id={exc.log_id}",
                style="dim",
            )
        )
        self.last_error_log = exc.log_id or self.last_error_log

    def health(self) -> str:
        value = self.client.connections.get(self.conn_id).health.value
        style = {"healthy": "green", "new": "cyan"}.get(value, "bold red")
        self.console.print(Text.assemble("  connection health: ", (value, style)))
        return value


def _load_sandbox_server() -> Callable[..., SandboxLike]:
    try:
        module = import_module("unified_sdk_sandbox.fake")
    except ImportError as exc:
        raise ConfigurationError(
            f"the demo needs the sandbox provider and its server ({type(exc).__name__}: {exc})",
            hint="pip install 'unified-sdk-sandbox[fake]' (make demo installs it)",
        ) from exc
    server_class: Callable[..., SandboxLike] = module.SandboxServer
    return server_class


# -- the steps --------------------------------------------------------------------------------
DEMO_REDIRECT_URI = "http://127.0.0.1/unified-sdk-demo/callback"
DEMO_SCOPES = ["crm_deal_read", "crm_contact_read", "crm_pipeline_read"]


def oauth_connection(demo: Demo) -> None:
    demo.step("1. OAuth: an authorization URL from unified scopes, consent, callback")
    client, server = demo.client, demo.server
    client.integrations.configure(
        "sandbox",
        client_id=server.oauth_client_id,
        client_secret=server.oauth_client_secret,
        redirect_uri=DEMO_REDIRECT_URI,
        config=server.config,
    )
    request = client.auth.authorization_url("sandbox", scopes=DEMO_SCOPES, external_id=DEMO_EXTERNAL_ID)
    mapping = client.providers.get("sandbox").scopes
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("unified scope", style="cyan")
    table.add_column("sandbox scopes (required)")
    table.add_column("(optional)", style="dim")
    for scope in request.scopes:
        table.add_row(scope, " ".join(mapping[scope].required), " ".join(mapping[scope].optional) or "-")
    demo.console.print(table)
    shown = re.sub(r"(state|code_challenge)=[^&]+", r"\1=…", request.url)
    demo.console.print(Text(f"  authorize: {shown}", style="dim"), overflow="fold")
    callback = server.approve(request.url)
    demo.console.print(
        Text(f"  the user consents; the browser returns to {DEMO_REDIRECT_URI}?code=…&state=…", style="dim")
    )
    demo.oauth_conn = client.auth.complete(callback)
    demo.console.print(
        f"  completed: {demo.oauth_conn.id}, granted {demo.oauth_conn.scopes}, health {demo.oauth_conn.health.value} "
        "(checked before it was stored; tokens encrypted)"
    )
    demo.expect(demo.oauth_conn.health.value == "healthy", "a completed connection was checked and is healthy")


def token_refresh(demo: Demo) -> None:
    demo.step("2. The access token expires → refreshed once, the call retried")
    assert demo.oauth_conn is not None
    before = demo.server.token_requests.get("refresh_token", 0)
    demo.server.expire_access_tokens()
    page = demo.client.crm.deals.list(connection_id=demo.oauth_conn.id, limit=5)
    rows = list(reversed(demo.client.logs.list(connection_id=demo.oauth_conn.id, limit=3)))
    for log in rows:
        status = f"{log.status} {log.category or 'ok'}"
        demo.console.print(f"  {log.operation}: {log.method} {re.sub(r'^https?://[^/]+', '', log.url)} → {status}")
    refreshes = demo.server.token_requests.get("refresh_token", 0) - before
    demo.console.print(
        f"  got {len(page.data)} deals; token refreshes: {refreshes} (the rotated refresh token was stored first)"
    )
    demo.expect(refreshes == 1 and len(page.data) == 5, "one refresh, then the call succeeded")


def api_key_connection(demo: Demo) -> None:
    demo.step("3. An API-key connection")
    demo.conn = demo.client.connections.create(
        provider="sandbox",
        credentials={"api_key": demo.server.api_key},
        external_id=DEMO_EXTERNAL_ID,
        config=demo.server.config,
    )
    demo.console.print(
        f"  created {demo.conn.id} (provider sandbox, external id {DEMO_EXTERNAL_ID}); the key is stored encrypted"
    )
    demo.expect(demo.health() == "new", "a fresh connection is 'new'")


def list_all_deals(demo: Demo) -> None:
    demo.step(f"4. List every deal, 100 per page (the sandbox holds {demo.deals:,})")
    seen: set[str | None] = set()
    pages = 0
    started = time.perf_counter()
    first = None
    with Progress(
        TextColumn("  deals"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[pages]} pages"),
        TimeElapsedColumn(),
        console=demo.console,
    ) as progress:
        task = progress.add_task("deals", total=demo.deals, pages=0)
        for page in demo.client.crm.deals.list(connection_id=demo.conn_id, limit=100).iter_pages():
            pages += 1
            first = first or (page.data[0] if page.data else None)
            seen.update(deal.id for deal in page.data)
            progress.update(task, advance=len(page.data), pages=pages)
    elapsed = time.perf_counter() - started
    demo.listing_logs = pages
    demo.console.print(f"  {len(seen):,} distinct deals in {pages} pages, {elapsed:.2f} s")
    if first is not None:
        demo.console.print(
            Text(
                f"  first: {first.name!r}, {first.amount} {first.currency}, stage {first.stage!r}, "
                f"pipeline {first.pipeline!r}",
                style="dim",
            )
        )
    demo.expect(len(seen) == demo.deals, f"listed {len(seen)} distinct deals, expected {demo.deals}")
    demo.expect(demo.health() == "healthy", "a connection that answered is 'healthy'")


def rate_limited(demo: Demo) -> None:
    demo.faults_since = time.time()
    demo.step("5. 429 Too Many Requests with Retry-After: 1 → wait, then retry")
    demo.server.inject(status=429, times=1, retry_after=1)
    started = time.perf_counter()
    page = demo.client.crm.deals.list(connection_id=demo.conn_id, limit=5)
    elapsed = time.perf_counter() - started
    rows = demo.attempts(2)
    demo.console.print(f"  got {len(page.data)} deals after {elapsed:.2f} s; the caller saw no error")
    demo.expect(
        [r.status for r in rows] == [429, 200] and rows[0].action == "wait_and_retry",
        "the 429 was waited out and retried",
    )


def provider_unavailable(demo: Demo) -> None:
    demo.step("6. 503 Service Unavailable → retry after a backoff with jitter (GET is idempotent)")
    demo.server.inject(status=503, times=1)
    page = demo.client.crm.deals.list(connection_id=demo.conn_id, limit=5)
    rows = demo.attempts(2)
    demo.console.print(f"  got {len(page.data)} deals; the caller saw no error")
    demo.expect([r.status for r in rows] == [503, 200], "the 503 was retried")


def unauthorized(demo: Demo) -> None:
    demo.step("7. 401 Unauthorized → AuthenticationError; the connection turns unhealthy_now")
    demo.server.inject(status=401, times=1)
    before = len(demo.events)
    try:
        demo.client.crm.deals.list(connection_id=demo.conn_id, limit=5)
    except UnifiedError as exc:
        demo.attempts(1)
        demo.show_error(exc)
        demo.expect(exc.category is not None and exc.category.value == "authentication", "a 401 is authentication")
    else:
        demo.expect(False, "the 401 raised")
    fired = [e.type for e in demo.events[before:]]
    demo.expect(fired == ["connection.unhealthy"], f"one connection.unhealthy event (saw {fired})")
    demo.expect(demo.health() == "unhealthy_now", "failing after successes is 'unhealthy_now'")


def forbidden(demo: Demo) -> None:
    demo.step("8. 403 Forbidden → PermissionDeniedError with a hint")
    demo.server.inject(status=403, times=1)
    try:
        demo.client.crm.deals.list(connection_id=demo.conn_id, limit=5)
    except UnifiedError as exc:
        demo.attempts(1)
        demo.show_error(exc)
        demo.expect(exc.category is not None and exc.category.value == "permission", "a 403 is permission")
    else:
        demo.expect(False, "the 403 raised")
    demo.health()


def recover(demo: Demo) -> None:
    demo.step("9. Health check → healthy again")
    before = len(demo.events)
    conn = demo.client.connections.check(demo.conn_id)
    demo.attempts(1)
    demo.console.print(Text.assemble("  connection health: ", (conn.health.value, "green")))
    fired = [e.type for e in demo.events[before:]]
    demo.expect(fired == ["connection.healthy"], f"one connection.healthy event (saw {fired})")


def summary(demo: Demo) -> None:
    from unified_sdk._tables import connection_table, logs_table

    demo.step("Call logs and health")
    logs = demo.client.logs.list(connection_id=demo.conn_id, since=demo.faults_since, limit=100)
    demo.console.print(f"  the listing made {demo.listing_logs} calls (all 200); the calls since then, oldest first:")
    demo.console.print(logs_table(reversed(logs), compact=True))
    demo.console.print(connection_table(demo.client.connections.get(demo.conn_id)))
    if not demo.explore:
        return
    prefix = f"unified-sdk --database-url {shlex.quote(_shown_url(demo.client.database_url))}"
    demo.console.print("\nExplore what the demo left in the database:")
    lines = [
        f"{prefix} connections list",
        f"{prefix} connections show {demo.conn_id}",
        f"{prefix} logs --connection {demo.conn_id} --status-min 400",
    ]
    if demo.last_error_log:
        lines.append(f"{prefix} logs --curl {demo.last_error_log}")
    for line in lines:
        demo.console.print(f"  {line}", soft_wrap=True)


#: The demo, in order. Each step is a function of :class:`Demo`.
STEPS: list[Callable[[Demo], None]] = [
    oauth_connection,
    token_refresh,
    api_key_connection,
    list_all_deals,
    rate_limited,
    provider_unavailable,
    unauthorized,
    forbidden,
    recover,
    summary,
]


def _shown_url(url: str) -> str:
    """The URL without a password (``postgresql://user:***@host/db``)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _print_event(demo: Demo, event: Event) -> None:
    demo.events.append(event)
    data = event.data
    detail = ""
    if "health" in data:
        detail = f" health {data.get('previous_health')} → {data['health']}"
    error = data.get("error")
    if isinstance(error, dict):
        status = f" {error['status']}" if error.get("status") else ""
        detail += f" ({error.get('category')}{status})"
    demo.console.print(Text(f"  ⚡ event {event.type} {event.connection_id}{detail}", style="magenta"))


def run_demo(
    console: Console, *, client: Client, deals: int = 2500, steps: list[Any] | None = None, explore: bool = True
) -> None:
    """Start the sandbox server on loopback and run the demo steps with ``client``.

    ``explore``: end with the commands that explore the database (when it is kept after the demo).
    """
    server_class = _load_sandbox_server()
    started = time.perf_counter()
    console.print(Text("unified-sdk demo", style="bold"))
    console.print(f"  database: {_shown_url(client.database_url)}")
    for old in client.connections.list(provider="sandbox", external_id=DEMO_EXTERNAL_ID):
        client.connections.delete(old.id)
    with server_class(deals=deals) as server:
        console.print(f"  sandbox CRM server: {server.url} (loopback only, {deals:,} deals)")
        demo = Demo(console=console, client=client, server=server, deals=deals, explore=explore)
        unsubscribe = client.events.on("*", lambda event: _print_event(demo, event))
        try:
            for step in steps if steps is not None else STEPS:
                step(demo)
        finally:
            unsubscribe()
    console.print(Text(f"\nDemo finished in {time.perf_counter() - started:.1f} s.", style="bold green"))
