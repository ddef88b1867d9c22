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
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from unified_sdk._dburl import sqlite_path
from unified_sdk.errors import StorageError

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
        try:
            path = sqlite_path(self.url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                _create_private(path)
            is_sqlite = self.url.startswith("sqlite")  # also sqlite+driver://
            kwargs: dict[str, Any] = {}
            if is_sqlite:
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
                if path is None:
                    kwargs["poolclass"] = sa.pool.StaticPool
            else:
                kwargs["pool_pre_ping"] = True
            engine = sa.create_engine(self.url, **kwargs)
            if is_sqlite:
                sa.event.listen(engine, "connect", _sqlite_pragmas)
                # Take the write lock at BEGIN, so read-then-write transactions never deadlock.
                sa.event.listen(engine, "begin", _sqlite_begin)
            metadata.create_all(engine)
            return engine
        except SQLAlchemyError as exc:
            raise StorageError(
                f"cannot open the database: {type(exc).__name__}",
                hint="check database_url / UNIFIED_SDK_DATABASE_URL and that the database is reachable",
            ) from exc

    @contextmanager
    def begin(self, *, read: bool = False) -> Iterator[SAConnection]:
        """A transaction; SQLAlchemy errors become :class:`StorageError`."""
        try:
            if self._serial is not None:
                with self._serial, self._transaction(read) as conn:
                    yield conn
            else:
                with self._transaction(read) as conn:
                    yield conn
        except SQLAlchemyError as exc:
            raise StorageError(
                f"database error: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                hint="check that the database is reachable and its schema is current",
            ) from exc

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

    # -- call logs ------------------------------------------------------------------
    def insert_call_logs(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            with self.begin() as c:
                c.execute(call_logs.insert(), [dict(r) for r in rows])

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
    def _transaction(self, read: bool) -> Iterator[SAConnection]:
        with self.engine.connect() as conn:
            if read:
                conn.execution_options(unified_read=True)
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
    # Reads take no lock; writes take the write lock at BEGIN, so read-then-write never deadlocks.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("unified_read") else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let the pysqlite driver not issue its own BEGIN; ours is BEGIN IMMEDIATE.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
