"""Persistence with SQLAlchemy 2 Core: connections, integrations, OAuth states, call logs.

SQLite (a file in the user data dir) by default; PostgreSQL when processes or
hosts share connections. Secrets are stored only as Fernet ciphertext, and the
key is checked when the database opens (``on_open``, see :mod:`unified_sdk._keys`).
Every SQLAlchemy error is translated into :class:`StorageError` here.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from unified_sdk._dburl import sqlite_path
from unified_sdk.errors import StorageError

if TYPE_CHECKING:
    from unified_sdk._bookkeeping import ConnectionUpdate

#: How long a statement waits for another connection's lock before failing with "database is locked"
#: (SQLite's busy timeout; PostgreSQL's ``lock_timeout``).
#: In WAL mode readers never wait for writers, and our write transactions last milliseconds, so 5 s rides out
#: any ordinary contention while a lock held for long (another process, a backup) becomes a clear error
#: instead of a 30 s stall. Bookkeeping writes use a shorter wait and retry in the background.
BUSY_TIMEOUT = 5.0

metadata = sa.MetaData()

connections = sa.Table(
    "unified_connections",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(64), nullable=False, index=True),
    sa.Column("external_id", sa.String(255), index=True),
    sa.Column("auth_type", sa.String(16), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("credentials", sa.Text, nullable=False),
    sa.Column("credentials_version", sa.Integer, nullable=False, default=1),
    sa.Column("scopes", sa.JSON),
    sa.Column("provider_scopes", sa.JSON),
    sa.Column("last_healthy_at", sa.Float),
    sa.Column("last_unhealthy_at", sa.Float),
    sa.Column("last_error", sa.JSON),
    sa.Column("rate_limit", sa.JSON),
    sa.Column("refresh_lease_owner", sa.String(64)),
    sa.Column("refresh_lease_until", sa.Float),
    sa.Column("refresh_failed_at", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

integrations = sa.Table(
    "unified_integrations",
    metadata,
    sa.Column("provider", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(512), nullable=False),
    sa.Column("client_secret", sa.Text),
    sa.Column("redirect_uri", sa.String(2048)),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

oauth_states = sa.Table(
    "unified_oauth_states",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: Facts about the database itself: the key check value and whether every secret is bound to its row.
meta = sa.Table(
    "unified_meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

call_logs = sa.Table(
    "unified_call_logs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("connection_id", sa.String(64), index=True),
    sa.Column("provider", sa.String(64)),
    sa.Column("operation", sa.String(128)),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, index=True),
    sa.Column("duration_ms", sa.Float),
    sa.Column("category", sa.String(32)),
    sa.Column("action", sa.String(32)),
    sa.Column("action_reason", sa.String(255)),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("request_headers", sa.JSON),
    sa.Column("request_body", sa.Text),
    sa.Column("response_headers", sa.JSON),
    sa.Column("response_body", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("provider_request_id", sa.String(255)),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
)


class Store:
    """The database. The engine is created on first use, so importing and
    constructing a client stays cheap."""

    def __init__(self, url: str, *, on_open: Callable[[], None] | None = None) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._on_open = on_open
        self._ready = False
        self._in_on_open = False
        self._opening = threading.RLock()
        # In-memory SQLite is one shared DBAPI connection: transactions must take turns.
        self._serial = threading.RLock() if url.startswith("sqlite") and sqlite_path(url) is None else None

    @property
    def engine(self) -> Engine:
        """The engine, created on first use; ``on_open`` runs then, before anyone else gets it."""
        if self._ready:
            assert self._engine is not None
            return self._engine
        with self._opening:
            if self._engine is None:
                self._engine = self._create_engine()
            if not self._ready and not self._in_on_open:  # on_open itself may use the store
                self._in_on_open = True
                try:
                    if self._on_open is not None:
                        self._on_open()
                except BaseException:
                    self._engine.dispose()
                    self._engine = None
                    raise
                finally:
                    self._in_on_open = False
                self._ready = True
            return self._engine

    def _create_engine(self) -> Engine:
        path = sqlite_path(self.url)
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                _create_private(path)
        except OSError as exc:
            raise self._error(exc, "cannot open the database") from exc
        try:
            is_sqlite = self.url.startswith("sqlite")  # also sqlite+driver://
            kwargs: dict[str, Any] = {}
            if is_sqlite:
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT}
                if path is None:
                    kwargs["poolclass"] = sa.pool.StaticPool
            else:
                kwargs["pool_pre_ping"] = True
            engine = sa.create_engine(self.url, **kwargs)
            if is_sqlite:
                sa.event.listen(engine, "connect", _sqlite_pragmas)
                # Take the write lock at BEGIN, so read-then-write transactions never deadlock.
                sa.event.listen(engine, "begin", _sqlite_begin)
            elif engine.dialect.name == "postgresql":
                # A lock held elsewhere (another process's transaction, a migration) is waited for as long
                # as SQLite's busy timeout, then fails as "locked": never an unbounded wait.
                sa.event.listen(engine, "begin", _postgres_begin)
            metadata.create_all(engine)
            return engine
        except SQLAlchemyError as exc:
            raise self._error(exc, "cannot open the database") from exc

    @contextmanager
    def begin(self, *, read: bool = False, busy_timeout: float | None = None) -> Iterator[SAConnection]:
        """A transaction; SQLAlchemy errors become :class:`StorageError`.

        ``busy_timeout`` (SQLite) overrides :data:`BUSY_TIMEOUT` for this transaction.
        """
        try:
            if self._serial is not None:
                with self._serial, self._transaction(read, busy_timeout) as conn:
                    yield conn
            else:
                with self._transaction(read, busy_timeout) as conn:
                    yield conn
        except SQLAlchemyError as exc:
            raise self._error(exc, "database error") from exc

    @property
    def location(self) -> str:
        """Where the database is, for messages: the SQLite file, or the URL without its password."""
        path = sqlite_path(self.url)
        if path is not None:
            return str(path)
        if self.url.startswith("sqlite"):
            return "in-memory SQLite"
        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # an unparsable URL: name only its scheme
            return self.url.split(":", 1)[0] + " database"

    def _error(self, exc: BaseException, doing: str) -> StorageError:
        """The :class:`StorageError` for a database failure, naming its cause and where (never credentials)."""
        cause, what = storage_cause(exc, sqlite_path(self.url))
        hint = _HINTS.get(cause, "check that the database is reachable and its schema is current")
        if cause == "database":
            first = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200] if str(exc) else ""
            what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        return StorageError(
            f"{doing}: {what} ({self.location})",
            hint=hint,
            retryable=cause in TRANSIENT_CAUSES,
            details={"cause": cause, "database": self.location},
        )

    @contextmanager
    def read(self) -> Iterator[SAConnection]:
        """A read-only transaction (on SQLite it takes no write lock)."""
        with self.begin(read=True) as conn:
            yield conn

    # -- connections ------------------------------------------------------------
    def insert_connection(self, row: Mapping[str, Any]) -> None:
        with self.begin() as c:
            c.execute(connections.insert().values(**row))

    def get_connection(self, connection_id: str) -> dict[str, Any] | None:
        with self.read() as c:
            found = c.execute(sa.select(connections).where(connections.c.id == connection_id)).mappings().first()
        return dict(found) if found else None

    def list_connections(self, *, provider: str | None = None, external_id: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(connections).order_by(connections.c.created_at)
        if provider:
            query = query.where(connections.c.provider == provider)
        if external_id:
            query = query.where(connections.c.external_id == external_id)
        with self.read() as c:
            return [dict(r) for r in c.execute(query).mappings()]

    def update_connection(self, connection_id: str, values: Mapping[str, Any]) -> None:
        with self.begin() as c:
            c.execute(
                connections.update().where(connections.c.id == connection_id).values(**values, updated_at=time.time())
            )

    def delete_connection(self, connection_id: str) -> bool:
        with self.begin() as c:
            result = c.execute(connections.delete().where(connections.c.id == connection_id))
        return bool(result.rowcount)

    # -- integrations -------------------------------------------------------------
    def upsert_integration(self, row: Mapping[str, Any]) -> None:
        now = time.time()
        with self.begin() as c:
            exists = c.execute(
                sa.select(integrations.c.provider).where(integrations.c.provider == row["provider"])
            ).first()
            if exists:
                c.execute(
                    integrations.update()
                    .where(integrations.c.provider == row["provider"])
                    .values(**row, updated_at=now)
                )
            else:
                c.execute(integrations.insert().values(**row, created_at=now, updated_at=now))

    def get_integration(self, provider: str) -> dict[str, Any] | None:
        with self.read() as c:
            found = c.execute(sa.select(integrations).where(integrations.c.provider == provider)).mappings().first()
        return dict(found) if found else None

    # -- call logs and bookkeeping -------------------------------------------------------
    def insert_call_logs(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            with self.begin() as c:
                c.execute(call_logs.insert(), [dict(r) for r in rows])

    def write_bookkeeping(
        self,
        rows: Sequence[Mapping[str, Any]],
        updates: Mapping[str, ConnectionUpdate],
        *,
        busy_timeout: float | None = None,
    ) -> None:
        """Call-log rows and connection updates in one transaction (the background writer's).

        Health times only move forward, so a late or repeated write never undoes a newer one.
        """
        if not rows and not updates:
            return
        t = connections
        with self.begin(busy_timeout=busy_timeout) as c:
            if rows:
                c.execute(call_logs.insert(), [dict(r) for r in rows])
            for cid, u in updates.items():
                if u.healthy_at is not None:
                    c.execute(
                        t.update()
                        .where(t.c.id == cid, sa.or_(t.c.last_healthy_at.is_(None), t.c.last_healthy_at < u.healthy_at))
                        .values(last_healthy_at=u.healthy_at)
                    )
                if u.unhealthy_at is not None:
                    newer = sa.or_(t.c.last_unhealthy_at.is_(None), t.c.last_unhealthy_at < u.unhealthy_at)
                    c.execute(
                        t.update()
                        .where(t.c.id == cid, newer)
                        .values(last_unhealthy_at=u.unhealthy_at, last_error=u.last_error)
                    )
                if u.rate_limit is not None:
                    # Bookkeeping, like health: not a change to the connection, so ``updated_at`` stays.
                    c.execute(t.update().where(t.c.id == cid).values(rate_limit=dict(u.rate_limit)))

    def list_call_logs(
        self,
        *,
        connection_id: str | None = None,
        status_min: int | None = None,
        status_max: int | None = None,
        category: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        query = sa.select(call_logs).order_by(call_logs.c.created_at.desc(), call_logs.c.id.desc()).limit(limit)
        if connection_id:
            query = query.where(call_logs.c.connection_id == connection_id)
        if status_min is not None:
            query = query.where(call_logs.c.status >= status_min)
        if status_max is not None:
            query = query.where(call_logs.c.status <= status_max)
        if category:
            query = query.where(call_logs.c.category == category)
        if since is not None:
            query = query.where(call_logs.c.created_at >= since)
        with self.read() as c:
            return [dict(r) for r in c.execute(query).mappings()]

    def get_call_log(self, log_id: str) -> dict[str, Any] | None:
        with self.read() as c:
            found = c.execute(sa.select(call_logs).where(call_logs.c.id == log_id)).mappings().first()
        return dict(found) if found else None

    @contextmanager
    def _transaction(self, read: bool, busy_timeout: float | None = None) -> Iterator[SAConnection]:
        with self.engine.connect() as conn:
            if read:
                conn.execution_options(unified_read=True)
            if busy_timeout is not None:
                conn.execution_options(unified_busy_ms=int(busy_timeout * 1000))
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        with self._opening:
            self._ready = False
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


def _create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only (call logs hold CRM data).

    SQLite creates the ``-wal`` and ``-shm`` files with the database file's
    permissions, so they are private too. An existing file keeps its mode.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StorageError(
            f"cannot create the database file: {exc.strerror}",
            hint="check that the database directory is writable",
        ) from exc
    os.close(fd)


def _sqlite_begin(conn: SAConnection) -> None:
    options = conn.get_execution_options()
    busy_ms = options.get("unified_busy_ms", _BUSY_MS)
    info = conn.connection.info
    if info.get("unified_busy_ms", _BUSY_MS) != busy_ms:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_ms)}")
        info["unified_busy_ms"] = busy_ms
    # Reads take no lock; writes take the write lock at BEGIN, so read-then-write never deadlocks.
    conn.exec_driver_sql("BEGIN" if options.get("unified_read") else "BEGIN IMMEDIATE")


def _postgres_begin(conn: SAConnection) -> None:
    busy_ms = int(conn.get_execution_options().get("unified_busy_ms", _BUSY_MS))
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {busy_ms}")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let the pysqlite driver not issue its own BEGIN; ours is BEGIN IMMEDIATE.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    cursor.close()


_BUSY_MS = int(BUSY_TIMEOUT * 1000)

#: Causes that pass: a retry later may succeed.
TRANSIENT_CAUSES = frozenset({"locked", "unavailable", "io"})

_HINTS = {
    "locked": "another process or connection holds a lock on the database for long; retry shortly "
    "(use PostgreSQL when many processes write to one database)",
    "read_only": "the database (or its directory: SQLite writes -wal and -shm files beside it) is read-only; "
    "make both writable by this process",
    "permission": "this process may not open the database file or its directory; check their owner and mode",
    "missing": "the database file, its directory or its tables are gone (deleted or moved while in use?); "
    "restore it or point database_url / UNIFIED_SDK_DATABASE_URL at the right place",
    "unavailable": "the database server cannot be reached; check database_url / UNIFIED_SDK_DATABASE_URL",
    "io": "the disk failed to read or write the database; check free space and the disk",
    "corrupt": "the database file is damaged; restore it from a backup",
}


def storage_cause(exc: BaseException, path: Path | None) -> tuple[str, str]:
    """``(cause, description)`` of a database failure: ``locked``, ``read_only``, ``permission``,
    ``missing``, ``unavailable``, ``io``, ``corrupt`` or ``database`` (anything else)."""
    if isinstance(exc, OSError):  # creating the SQLite file's directory
        if isinstance(exc, PermissionError):
            return "permission", "permission denied creating the database directory"
        return "missing", f"the database directory cannot be created ({exc.strerror or type(exc).__name__})"
    text = str(getattr(exc, "orig", None) or exc).lower()
    if "locked" in text or "busy" in text or "could not obtain lock" in text or "lock timeout" in text:
        return "locked", "database is locked"
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "read_only", "the database is read-only"
    if "permission denied" in text or "insufficient privilege" in text:
        return "permission", "permission denied"
    if "no such table" in text or ("does not exist" in text and "column" not in text):
        return "missing", "the database's tables are missing"
    if "unable to open database file" in text:
        return _unopenable(path)
    if "disk i/o error" in text or "disk is full" in text or "database or disk is full" in text:
        return "io", "disk I/O error"
    if "malformed" in text or "not a database" in text:
        return "corrupt", "the database file is malformed"
    if "could not connect" in text or "connection refused" in text or "server closed the connection" in text:
        return "unavailable", "cannot connect to the database server"
    return "database", type(exc).__name__


def _unopenable(path: Path | None) -> tuple[str, str]:
    # SQLite says only "unable to open database file": look at the file system for the reason.
    if path is None:
        return "database", "unable to open the database file"
    if not path.parent.is_dir():
        return "missing", "the database directory does not exist"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "permission", "permission denied on the database file"
    if not path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        return "permission", "permission denied on the database directory"
    return "missing", "unable to open the database file"
