"""Bookkeeping (call logs, health, rate-limit budgets) never fails or stalls an answered call, and nothing is
lost: not while the database is locked, not when a client is never closed. Real SQLite files, real processes,
the sandbox fake over real HTTP."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from unified_sdk_sandbox.fake import SandboxServer

from tests.postgres import new_database
from unified_sdk import AsyncClient, Client, Connection, Event, Health
from unified_sdk.errors import AuthenticationError, StorageError, ValidationError
from unified_sdk.testing import sqlite_client

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *(str(ROOT / "providers" / p) for p in ("hubspot", "salesforce", "sandbox"))]
    ),
}

# Holds the write lock on a SQLite file until told to let go (a line on stdin). In WAL mode (ours) readers go
# on; every writer waits. With ``exclusive`` it also takes the locking mode that shuts readers out.
LOCK_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    if sys.argv[2] == "exclusive":
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("BEGIN EXCLUSIVE")
        db.execute("CREATE TABLE IF NOT EXISTS lock_holder (x)")
    else:
        db.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.readline()
    db.execute("ROLLBACK")
    db.close()
    print("released", flush=True)
    """
)


@contextmanager
def locked(db: Path, mode: str = "write") -> Iterator[subprocess.Popen[str]]:
    """Another process holds the database's write lock until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(db), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.communicate(timeout=30)


def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait (bounded) for something a background thread does; the assertion is on the state, not the time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def _rows(db: Path, table: str = "unified_call_logs") -> int:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        count = int(c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    engine.dispose()
    return count


@pytest.fixture
def fake() -> Iterator[SandboxServer]:
    with SandboxServer(deals=30, contacts=3, companies=2) as server:
        yield server


def test_a_locked_database_never_fails_an_answered_call_nor_loses_its_row(tmp_path: Path, fake: SandboxServer) -> None:
    """The lock is held, not for a set time, but until every call has returned and the writer has found the
    database locked at least once (so its retry is exercised); calls then must have finished while the lock
    was still held. Before the fix each call waited out SQLite's 30 s busy timeout in its health or budget
    write and then raised ``StorageError``, though the provider had answered."""
    db = tmp_path / "sdk.db"
    client = sqlite_client(tmp_path)
    # A new connection: its first answered call must record health and its first rate-limit budget.
    conn = client.connections.create(provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config)
    errors: list[BaseException] = []
    created: list[object] = []

    def lister() -> None:
        try:
            for _ in range(5):
                client.crm.deals.list(connection_id=conn.id, limit=5)
        except BaseException as exc:
            errors.append(exc)

    with locked(db):
        threads = [threading.Thread(target=lister) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            created.append(client.crm.deals.create(connection_id=conn.id, data={"name": "Accepted once"}))
        except BaseException as exc:
            errors.append(exc)
        for t in threads:
            t.join(timeout=90)
        assert errors == []
        assert client.stats().call_logs_pending > 0
        _until(lambda: client.stats().write_retries >= 1)
    assert len(created) == 1 and getattr(created[0], "name", None) == "Accepted once"
    assert fake.count("POST", "/v1/deals") == 1
    logs = client.logs.list(limit=1000)
    assert len(logs) == len(fake.requests) == 21
    assert {log.status for log in logs} == {200, 201}
    stats = client.stats()
    assert (stats.call_logs_pending, stats.call_logs_dropped, stats.updates_dropped) == (0, 0, 0)
    assert stats.call_logs_written == 21
    client.close()
    stored = _get(tmp_path, conn.id)  # health and budget reached the file once the lock was gone
    assert stored.health == Health.HEALTHY
    assert stored.rate_limit is not None and stored.rate_limit["remaining"] is not None


def _get(directory: Path, cid: str) -> Connection:
    with sqlite_client(directory) as other:  # another client: sees only what was written to the file
        return other.connections.get(cid)


def test_health_is_current_while_its_write_waits_and_events_fire_once(tmp_path: Path, fake: SandboxServer) -> None:
    db = tmp_path / "sdk.db"
    client = sqlite_client(tmp_path)
    events: list[Event] = []
    client.events.on("*", events.append)
    conn = client.connections.create(provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config)
    with locked(db):
        client.crm.deals.list(connection_id=conn.id, limit=1)
        assert client.connections.get(conn.id).health == Health.HEALTHY
        fake.inject(status=401, times=2)
        for _ in range(2):
            with pytest.raises(AuthenticationError):
                client.crm.deals.list(connection_id=conn.id, limit=1)
        seen = client.connections.get(conn.id)
        assert seen.health == Health.UNHEALTHY_NOW
        assert seen.last_error is not None and seen.last_error["category"] == "authentication"
        client.crm.deals.list(connection_id=conn.id, limit=1)
    assert [e.type for e in events] == [
        "connection.created",
        "connection.healthy",
        "connection.unhealthy",
        "connection.healthy",
    ]
    client.close()
    stored = _get(tmp_path, conn.id)
    assert stored.health == Health.HEALTHY
    assert stored.last_error is not None and stored.last_error["category"] == "authentication"


async def test_async_calls_on_a_locked_database_return_and_keep_their_rows(tmp_path: Path, fake: SandboxServer) -> None:
    db = tmp_path / "sdk.db"
    client = sqlite_client(tmp_path, AsyncClient)
    conn = await client.connections.create(
        provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config
    )
    with locked(db):
        for _ in range(3):
            await client.crm.deals.list(connection_id=conn.id, limit=5)
        deal = await client.crm.deals.create(connection_id=conn.id, data={"name": "Async once"})
        assert deal is not None and deal.name == "Async once"
        assert client.stats().call_logs_pending > 0
    assert fake.count("POST", "/v1/deals") == 1
    assert len(await client.logs.list(limit=100)) == len(fake.requests) == 4
    await client.aclose()


def test_reading_logs_while_the_database_stays_locked_is_a_clear_error(tmp_path: Path, fake: SandboxServer) -> None:
    db = tmp_path / "sdk.db"
    client = sqlite_client(tmp_path)
    client._runtime.logs.flush_timeout = 1.0
    conn = client.connections.create(provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config)
    with locked(db):
        client.crm.deals.list(connection_id=conn.id, limit=1)
        with pytest.raises(StorageError) as info:
            client.logs.list()
        assert info.value.details["cause"] == "locked"
        assert "database is locked" in str(info.value) and str(db) in str(info.value)
        assert info.value.retryable
    assert [log.status for log in client.logs.list()] == [200]
    client.close()


def test_reading_the_connection_under_an_exclusive_lock_is_a_clear_error(tmp_path: Path, fake: SandboxServer) -> None:
    db = tmp_path / "sdk.db"
    with sqlite_client(tmp_path) as client:
        cid = client.connections.create(
            provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config
        ).id
    with locked(db, "exclusive"), sqlite_client(tmp_path) as client:
        with pytest.raises(StorageError) as info:
            client.crm.deals.list(connection_id=cid, limit=1)
        assert info.value.details["cause"] == "locked"
        assert "database is locked" in str(info.value) and str(db) in str(info.value)
    assert fake.count() == 0


def test_a_read_only_database_names_the_cause(tmp_path: Path, fake: SandboxServer) -> None:
    db = tmp_path / "sdk.db"
    with sqlite_client(tmp_path) as client:
        client.connections.create(provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config)
    key = (tmp_path / "sdk.db.key").read_text().strip()
    # (tests run as root, which ignores file modes: open the file read-only instead)
    url = f"sqlite:///file:{db}?mode=ro&uri=true"
    with Client(database_url=url, secret_key=key) as client, pytest.raises(StorageError) as info:
        client.connections.create(provider="sandbox", credentials={"api_key": "k"}, config=fake.config)
    assert info.value.details["cause"] == "read_only"
    assert "read-only" in str(info.value)
    assert "OperationalError" not in str(info.value)


def test_a_database_whose_directory_is_missing_names_the_cause(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with Client(database_url=f"sqlite:///{blocker / 'sdk.db'}") as client, pytest.raises(StorageError) as info:
        client.connections.list()
    assert info.value.details["cause"] == "missing"
    assert str(blocker / "sdk.db") in str(info.value)


def test_rows_beyond_the_cap_are_counted_when_dropped_and_the_rest_kept(tmp_path: Path, fake: SandboxServer) -> None:
    db = tmp_path / "sdk.db"
    client = sqlite_client(tmp_path)
    client._runtime.logs.max_pending = 5
    conn = client.connections.create(provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config)
    with locked(db):
        for _ in range(8):
            client.crm.deals.list(connection_id=conn.id, limit=1)
    from unified_sdk import BookkeepingStats

    stats = client.stats()
    assert isinstance(stats, BookkeepingStats)
    assert stats.call_logs_dropped == 3
    assert len(client.logs.list()) == 5
    client.close()


UNCLOSED = textwrap.dedent(
    """
    import json, sys
    from unified_sdk import Client

    url, api_key, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = Client(database_url=url)
    conn = client.connections.create(provider="sandbox", credentials={"api_key": api_key}, config=config)
    for _ in range(30):
        client.crm.deals.list(connection_id=conn.id, limit=1)
    # exits at once, without client.close()
    """
)


def test_a_client_never_closed_saves_every_row_at_exit(tmp_path: Path, fake: SandboxServer) -> None:
    db = tmp_path / "sdk.db"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", UNCLOSED, f"sqlite:///{db}", fake.api_key, json.dumps(fake.config)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert fake.count("GET", "/v1/deals") == 30
    assert _rows(db) == 30


def test_a_garbage_collected_unclosed_client_warns_and_keeps_its_rows(tmp_path: Path, fake: SandboxServer) -> None:
    db = tmp_path / "sdk.db"
    client = sqlite_client(tmp_path)
    conn = client.connections.create(provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config)
    for _ in range(5):
        client.crm.deals.list(connection_id=conn.id, limit=1)
    gc.collect()  # garbage of earlier tests first: only this client's warning belongs in the block below
    with pytest.warns(ResourceWarning, match="unclosed Client"):
        del client
        gc.collect()
    assert _rows(db) == 5


def test_a_provider_answer_postgres_would_refuse_still_gets_its_log_row(postgres_url: str, fake: SandboxServer) -> None:
    """A hostile or odd answer (an error message holding a NUL character, a 300-character request id) is
    stored, made safe, instead of making PostgreSQL refuse the whole batch of rows it was written with."""
    url = new_database(postgres_url, f"odd_{os.getpid()}")
    odd = {"error": {"type": "invalid_request", "message": "bad\u0000value", "request_id": "r" * 300}}
    from cryptography.fernet import Fernet

    with Client(database_url=url, secret_key=Fernet.generate_key().decode()) as client:
        conn = client.connections.create(provider="sandbox", credentials={"api_key": fake.api_key}, config=fake.config)
        fake.inject(status=400, times=1, body=odd)
        with pytest.raises(ValidationError):
            client.crm.deals.list(connection_id=conn.id, limit=2)
        client.crm.deals.list(connection_id=conn.id, limit=2)
        assert client.stats().call_logs_dropped == 0
        rows = client.logs.list(connection_id=conn.id)
        assert sorted(r.status for r in rows if r.status is not None) == [200, 400]
        refused = next(r for r in rows if r.status == 400)
        assert refused.provider_request_id is not None and len(refused.provider_request_id) <= 255
        assert "\x00" not in (refused.response_body or "") + (refused.error or "")
