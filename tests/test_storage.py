"""Storage on real SQLite and PostgreSQL: encryption at rest, keys, and the refresh lease across processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tests.postgres import new_database
from tests.toy.oauth_server import OAuthToyServer
from tests.toy.toy_plugin import OAuthToyProvider, ToyProvider
from unified_sdk import Client, Health
from unified_sdk.errors import ConfigurationError, ConnectionNotFoundError, StorageError
from unified_sdk.testing import authorize

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    yield new_database(base, f"t_{os.getpid()}_{abs(hash(request.node.name)) % 10**8}")


def test_connection_round_trip_with_credentials_encrypted(database: str) -> None:
    key = Fernet.generate_key().decode()
    with Client(database_url=database, secret_key=key, providers={"toy": ToyProvider}) as client:
        conn = client.connections.create(
            provider="toy", credentials={"api_key": "sk_live_abcdef123456"}, external_id="c-1", config={"x": 1}
        )
        assert client.connections.get(conn.id).external_id == "c-1"
        assert [c.id for c in client.connections.list(external_id="c-1")] == [conn.id]
        updated = client.connections.update(conn.id, config={"y": 2}, credentials={"api_key": "sk_live_rotated999"})
        assert updated.config == {"x": 1, "y": 2}
        assert client._runtime.connections_store.record(conn.id).credentials.api_key == "sk_live_rotated999"
        engine = sa.create_engine(database)
        with engine.connect() as c:
            stored = c.execute(sa.text("SELECT credentials FROM unified_connections")).scalar_one()
        engine.dispose()
        assert "sk_live" not in stored and stored.startswith("gAAAA")
        client.connections.delete(conn.id)
        with pytest.raises(ConnectionNotFoundError):
            client.connections.get(conn.id)


def test_a_wrong_key_is_a_clear_error_and_rotation_works(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with Client(database_url=url, secret_key=old, providers={"toy": ToyProvider}) as client:
        cid = client.connections.create(provider="toy", credentials={"api_key": "secret-value-1"}).id
    with Client(database_url=url, secret_key=new, providers={"toy": ToyProvider}) as client:
        with pytest.raises(StorageError) as info:
            client._runtime.connections_store.record(cid)
        assert "does not match this database" in str(info.value) and "rotate" in (info.value.hint or "")
    with Client(database_url=url, secret_key=[new, old], providers={"toy": ToyProvider}) as client:
        assert client._runtime.connections_store.record(cid).credentials.api_key == "secret-value-1"
    bad_key = Client(database_url=url, secret_key="not-a-key", providers={"toy": ToyProvider})
    with bad_key, pytest.raises(StorageError):
        bad_key.connections.create(provider="toy", credentials={"api_key": "x"})


def test_embedded_default_creates_a_private_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNIFIED_SDK_SECRET_KEY", raising=False)
    db = tmp_path / "data" / "app.db"
    with Client(database_url=f"sqlite:///{db}", providers={"toy": ToyProvider}) as client:
        client.connections.create(provider="toy", credentials={"api_key": "abc-12345"})
    key_file = db.with_name("app.db.key")
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_text().strip().encode())  # a valid key


def test_bad_credentials_input_writes_nothing(tmp_path: Path) -> None:
    with Client(database_url=f"sqlite:///{tmp_path / 'b.db'}", providers={"toy": ToyProvider}) as client:
        with pytest.raises(ConfigurationError):
            client.connections.create(provider="toy", credentials={"password": "x"})
        with pytest.raises(ConfigurationError):
            client.connections.create(provider="toy", credentials={"access_token": "t"})  # toy takes api keys
        assert client.connections.list() == []


WORKER = textwrap.dedent(
    """
    import json, sys, threading
    from unified_sdk import Client
    from tests.toy.toy_plugin import OAuthToyProvider

    url, key, cid = sys.argv[1:4]
    client = Client(database_url=url, secret_key=key, providers={"oauthtoy": OAuthToyProvider})
    results, barrier = [], threading.Barrier(10)

    def work():
        barrier.wait()
        try:
            results.append(len(client.crm.deals.list(connection_id=cid, limit=2).data))
        except Exception as exc:
            results.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    client.close()
    print(json.dumps(results))
    """
)


def test_refresh_is_single_flight_across_processes(database: str) -> None:
    key = Fernet.generate_key().decode()
    with OAuthToyServer() as server:
        client = Client(database_url=database, secret_key=key, providers={"oauthtoy": OAuthToyProvider})
        cid = authorize(client, server, "oauthtoy", ["crm_deal_read"], redirect_uri=server.redirect_uri).id
        server.expire_access_tokens()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, database, key, cid], stdout=subprocess.PIPE, text=True, env=env
            )
            for _ in range(3)
        ]
        outputs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
        assert [r for out in outputs for r in out] == [2] * 30
        assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
        assert client.connections.get(cid).health == Health.HEALTHY
        client.close()


def test_a_postgres_lock_held_elsewhere_is_a_bounded_wait_then_a_clear_error(postgres_url: str) -> None:
    """A lock another session holds for long (a migration, a stuck transaction) is waited for as long as
    SQLite's busy timeout, then fails as ``locked``; it never hangs the caller. Once released, all works."""
    import threading

    url = new_database(postgres_url, f"lock_{os.getpid()}")
    key = Fernet.generate_key().decode()
    with Client(database_url=url, secret_key=key, providers={"toy": ToyProvider}) as client:
        cid = client.connections.create(provider="toy", credentials={"api_key": "sk_live_lockwait1"}).id
        holder = sa.create_engine(url)
        outcome: list[BaseException | str] = []

        def update() -> None:
            try:
                client.connections.update(cid, config={"x": 1})
                outcome.append("updated")
            except BaseException as exc:  # handed to the test thread
                outcome.append(exc)

        with holder.connect() as held:
            held.execute(sa.text("LOCK TABLE unified_connections IN ACCESS EXCLUSIVE MODE"))
            worker = threading.Thread(target=update, daemon=True)
            worker.start()
            worker.join(60)  # a hang guard, not a timing assert: the bound is BUSY_TIMEOUT (5 s)
            hung = worker.is_alive()
            held.rollback()
        holder.dispose()
        assert not hung, "the update waited for the lock without bound"
        assert len(outcome) == 1 and isinstance(outcome[0], StorageError)
        assert outcome[0].details["cause"] == "locked" and outcome[0].retryable
        assert client.connections.get(cid).config == {}  # nothing half-written
        client.connections.update(cid, config={"x": 1})
        assert client.connections.get(cid).config == {"x": 1}
