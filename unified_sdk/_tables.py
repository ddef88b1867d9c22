"""Rich tables of connections and call logs, shared by the CLI and the demo."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from unified_sdk._connections import Connection
    from unified_sdk._logs import CallLog
    from unified_sdk.models._base import UnifiedModel

__all__ = ["RECORD_COLUMNS", "connection_table", "health_text", "logs_table", "record_table", "when"]


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else "-"


def health_text(health: str) -> Text:
    style = {"healthy": "green", "new": "cyan", "unhealthy": "red", "unhealthy_now": "bold red"}
    return Text(health, style=style.get(health, ""))


def _short_url(url: str) -> str:
    """The path and query of a logged URL (the host is the connection's base URL)."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    slash = url.find("/", scheme_end + 3)
    return url[slash:] if slash >= 0 else "/"


def _status_text(status: int | None) -> Text:
    if status is None:
        return Text("-", style="red")
    return Text(str(status), style="green" if status < 400 else ("yellow" if status == 429 else "red"))


def logs_table(
    logs: Iterable[CallLog], *, title: str | None = None, show_connection: bool = True, compact: bool = False
) -> Table:
    """A rich table of call-log rows, in the order given (``compact``: no log id, no connection)."""
    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    table.add_column("time (UTC)", no_wrap=True)
    if not compact:
        table.add_column("log id", no_wrap=True, style="dim")
    if show_connection and not compact:
        table.add_column("connection", no_wrap=True)
    table.add_column("operation", overflow="fold", min_width=10)
    table.add_column("request", overflow="fold", min_width=16)
    table.add_column("status", justify="right", no_wrap=True)
    table.add_column("category", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("try", justify="right", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    for log in logs:
        row: list[str | Text] = [log.created_at.strftime("%H:%M:%S.%f")[:-3]]
        if not compact:
            row.append(log.id)
        if show_connection and not compact:
            row.append(log.connection_id or "-")
        row += [
            log.operation or "-",
            f"{log.method} {_short_url(log.url)}",
            _status_text(log.status),
            Text(log.category or "-", style="red" if log.category else "dim"),
            log.action or "-",
            str(log.attempt),
            f"{log.duration_ms:.1f}" if log.duration_ms is not None else "-",
        ]
        table.add_row(*row)
    return table


def connection_table(conn: Connection) -> Table:
    """One connection as a two-column table (no secrets: credentials are never shown)."""
    table = Table(show_header=False, title=f"Connection {conn.id}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    error = conn.last_error
    rows: list[tuple[str, str | Text]] = [
        ("provider", conn.provider),
        ("auth type", conn.auth_type),
        ("external id", conn.external_id or "-"),
        ("health", health_text(conn.health.value)),
        ("last healthy", when(conn.last_healthy_at)),
        ("last unhealthy", when(conn.last_unhealthy_at)),
        ("last error", _format_last_error(error) if error else "-"),
        ("config", json.dumps(dict(conn.config), sort_keys=True)),
        ("scopes", ", ".join(conn.scopes) if conn.scopes else "-"),
        ("provider scopes", ", ".join(conn.provider_scopes) if conn.provider_scopes else "-"),
        ("rate limit", _format_rate_limit(conn.rate_limit) if conn.rate_limit else "-"),
        ("created", when(conn.created_at)),
        ("updated", when(conn.updated_at)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _format_last_error(error: Mapping[str, Any]) -> Text:
    if error.get("message"):
        text = str(error["message"])
    else:
        parts = [str(error.get("category") or "error")]
        if error.get("status"):
            parts.append(str(error["status"]))
        if error.get("code"):
            parts.append(f"[{error['code']}]")
        text = " ".join(parts)
    at = error.get("at")
    if isinstance(at, int | float):
        text += f" (at {datetime.fromtimestamp(at, UTC).strftime('%Y-%m-%d %H:%M:%SZ')})"
    return Text(text, style="red")


def _format_rate_limit(limit: Mapping[str, Any]) -> str:
    remaining, total, reset = limit.get("remaining"), limit.get("limit"), limit.get("reset_after")
    if remaining is None:
        return json.dumps(dict(limit), default=str)
    text = f"{remaining}/{total} left" if total is not None else f"{remaining} left"
    if isinstance(reset, int | float):
        text += f", window reset {reset:g} s after the last call"
    return text


# -- CRM records ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Column:
    """One column of a record table: its header and how a record shows in it."""

    header: str
    value: Callable[[Any], str]
    justify: str = "left"
    max_width: int = 30


def _attr(name: str) -> Callable[[Any], str]:
    def get(record: Any) -> str:
        value = getattr(record, name, None)
        return "-" if value is None or value == [] else str(value)

    return get


def _first_email(record: Any) -> str:
    emails = getattr(record, "emails", None) or []
    return next((e.email for e in emails if e.email), "-")


def _amount(record: Any) -> str:
    if record.amount is None:
        return "-"
    return f"{record.amount:,} {record.currency or ''}".rstrip()


def _date(name: str) -> Callable[[Any], str]:
    def get(record: Any) -> str:
        value = getattr(record, name, None)
        return value.strftime("%Y-%m-%d") if isinstance(value, datetime) else "-"

    return get


def _stages(record: Any) -> str:
    return ", ".join(s.name or s.id or "?" for s in record.stages or []) or "-"


def _domains(record: Any) -> str:
    return ", ".join(record.domains or []) or "-"


def _active(record: Any) -> str:
    value = getattr(record, "is_active", None)
    return "-" if value is None else ("yes" if value else "no")


#: Per resource, the columns after ``id`` and ``name``, most useful first: on a narrow terminal the
#: last ones are dropped first; ``id`` is never dropped nor cut.
RECORD_COLUMNS: dict[str, list[Column]] = {
    "deals": [
        Column("amount", _amount, "right"),
        Column("stage", _attr("stage")),
        Column("pipeline", _attr("pipeline")),
        Column("closing", _date("closing_at")),
        Column("updated", _date("updated_at")),
    ],
    "contacts": [
        Column("email", _first_email, max_width=40),
        Column("company", _attr("company")),
        Column("title", _attr("title")),
        Column("updated", _date("updated_at")),
    ],
    "companies": [
        Column("domains", _domains),
        Column("industry", _attr("industry")),
        Column("employees", _attr("employees"), "right"),
        Column("updated", _date("updated_at")),
    ],
    "pipelines": [
        Column("stages", _stages),
        Column("active", _active),
    ],
    "users": [
        Column("email", _first_email, max_width=40),
        Column("title", _attr("title")),
        Column("active", _active),
    ],
}


def record_table(resource: str, records: Sequence[UnifiedModel], *, width: int) -> Table:
    """CRM records as a table that fits ``width`` columns: less useful columns are dropped first, ids never cut."""
    extra = list(RECORD_COLUMNS.get(resource, []))
    measure = Console(width=10_000)  # a wide console measures the natural width (a narrow one clamps it)
    while True:
        table = _records(records, extra)
        if not extra or measure.measure(table).maximum <= width:
            return table
        extra.pop()


def _records(records: Sequence[UnifiedModel], extra: list[Column]) -> Table:
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    id_width = max((len(str(getattr(r, "id", "") or "")) for r in records), default=2)
    table.add_column("id", no_wrap=True, min_width=id_width)
    table.add_column("name", overflow="fold", min_width=8, max_width=32)
    for column in extra:
        table.add_column(column.header, justify=column.justify, overflow="fold", max_width=column.max_width)  # type: ignore[arg-type]
    for record in records:
        cells = [str(getattr(record, "id", None) or "-"), _attr("name")(record), *(c.value(record) for c in extra)]
        table.add_row(*(Text(cell) for cell in cells))  # Text: provider data is never read as rich markup
    return table
