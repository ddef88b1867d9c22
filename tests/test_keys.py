"""Secret keys over real databases: the key check at open, a missing key file, row binding and rotation."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from typer.testing import CliRunner

from tests.toy.oauth_server import OAuthToyServer
from tests.toy.server import ToyServer
from tests.toy.toy_plugin import OAuthToyProvider, ToyProvider
from unified_sdk import AsyncClient, Client, KeyRotation
from unified_sdk.errors import StorageError
from unified_sdk.testing import configure_integration

PROVIDERS = {"toy": ToyProvider, "oauthtoy": OAuthToyProvider}


def new_key() -> str:
    return Fernet.generate_key().decode()


def raw(url: str, sql: str, **params: object) -> list[sa.Row[object]]:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as c:
            result = c.execute(sa.text(sql), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'keys.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keys.db'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    name = f"k_{os.getpid()}_{abs(hash(request.node.name)) % 10**8}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    yield base.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNIFIED_SDK_SECRET_KEY", raising=False)


# -- the key check value -------------------------------------------------------------------
def test_a_wrong_key_is_refused_when_the_database_opens_and_nothing_is_written(database: str) -> None:
    url = database
    right, wrong = new_key(), new_key()
    with Client(database_url=url, secret_key=right, providers=PROVIDERS) as client:
        cid = client.connections.create(provider="toy", credentials={"api_key": "first-secret"}).id
    with Client(database_url=url, secret_key=wrong, providers=PROVIDERS) as client:
        # Even a read that decrypts nothing: the key is checked when the database opens.
        with pytest.raises(StorageError) as info:
            client.connections.list()
        assert "does not match" in info.value.message
        assert "secret_key=" in (info.value.hint or "") and wrong not in str(info.value)
        with pytest.raises(StorageError):
            client.connections.create(provider="toy", credentials={"api_key": "second-secret"})
    assert [r.id for r in raw(url, "SELECT id FROM unified_connections")] == [cid]
    with Client(database_url=url, secret_key=right, providers=PROVIDERS) as client:
        assert client._runtime.connections_store.record(cid).credentials.api_key == "first-secret"


def test_a_wrong_key_from_the_environment_names_the_variable(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with Client(database_url=url, secret_key=new_key(), providers=PROVIDERS) as client:
        client.connections.create(provider="toy", credentials={"api_key": "first-secret"})
    monkeypatch.setenv("UNIFIED_SDK_SECRET_KEY", new_key())
    with Client(database_url=url, providers=PROVIDERS) as client, pytest.raises(StorageError) as info:
        client.connections.list()
    assert "UNIFIED_SDK_SECRET_KEY" in (info.value.hint or "")


def test_a_missing_key_file_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with Client(database_url=f"sqlite:///{db}", providers=PROVIDERS) as client:
        client.connections.create(provider="toy", credentials={"api_key": "kept-secret"})
    key_file = db.with_name("app.db.key")
    key_file.unlink()
    with Client(database_url=f"sqlite:///{db}", providers=PROVIDERS) as client, pytest.raises(StorageError) as info:
        client.connections.list()
    assert str(key_file) in info.value.message
    assert not key_file.exists()


# -- row binding ---------------------------------------------------------------------------
def test_a_ciphertext_copied_into_another_row_is_refused_before_any_request(url: str) -> None:
    with ToyServer() as server, Client(database_url=url, secret_key=new_key(), providers=PROVIDERS) as client:
        victim = client.connections.create(
            provider="toy", credentials={"api_key": "victim-key"}, config={"base_url": server.url}
        )
        attacker = client.connections.create(
            provider="toy", credentials={"api_key": "attacker-key"}, config={"base_url": server.url}
        )
        raw(
            url,
            "UPDATE unified_connections SET credentials = "
            "(SELECT credentials FROM unified_connections WHERE id = :victim) WHERE id = :attacker",
            victim=victim.id,
            attacker=attacker.id,
        )
        with pytest.raises(StorageError) as info:
            client.crm.deals.list(connection_id=attacker.id)
        assert "another row" in info.value.message
        assert server.hits == {}


def test_a_database_of_the_previous_release_still_opens(url: str) -> None:
    """Ciphertexts without a row binding and no key check value: read, then bound by rotation."""
    key = new_key()
    with Client(database_url=url, secret_key=key, providers=PROVIDERS) as client:
        cid = client.connections.create(provider="toy", credentials={"api_key": "old-secret"}).id
    legacy = Fernet(key).encrypt(json.dumps({"type": "api_key", "api_key": "old-secret"}).encode()).decode()
    raw(url, "UPDATE unified_connections SET credentials = :c", c=legacy)
    raw(url, "DELETE FROM unified_meta")
    with Client(database_url=url, secret_key=key, providers=PROVIDERS) as client:
        assert client._runtime.connections_store.record(cid).credentials.api_key == "old-secret"
        assert client.keys.rotate().reencrypted == 1  # same key, but now bound to its row
    stored = raw(url, "SELECT credentials FROM unified_connections")[0][0]
    assert stored != legacy
    with Client(database_url=url, secret_key=key, providers=PROVIDERS) as client:
        assert client._runtime.connections_store.record(cid).credentials.api_key == "old-secret"


# -- rotation ------------------------------------------------------------------------------
def _populate(url: str, key: str, server: OAuthToyServer) -> tuple[list[str], str]:
    """Three API-key connections, an OAuth integration (client secret) and a pending authorization."""
    with Client(database_url=url, secret_key=key, providers=PROVIDERS) as client:
        ids = [
            client.connections.create(
                provider="toy", credentials={"api_key": f"secret-{i}"}, config={"base_url": server.url}
            ).id
            for i in range(3)
        ]
        configure_integration(client, server, "oauthtoy", redirect_uri=server.redirect_uri)
        pending = client.auth.authorization_url("oauthtoy", scopes=["crm_deal_read"])
    return ids, pending.url


def _all_ciphertexts(url: str) -> list[str]:
    rows = raw(url, "SELECT credentials FROM unified_connections")
    rows += raw(url, "SELECT client_secret FROM unified_integrations")
    rows += raw(url, "SELECT payload FROM unified_oauth_states")
    return [r[0] for r in rows]


def _under(key: str, token: str) -> bool:
    try:
        Fernet(key).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


@pytest.fixture
def oauth_server() -> Iterator[OAuthToyServer]:
    with OAuthToyServer() as server:
        yield server


def test_rotation_reencrypts_every_secret_so_the_old_key_can_be_dropped(
    database: str, oauth_server: OAuthToyServer
) -> None:
    url = database
    old, new = new_key(), new_key()
    ids, pending_url = _populate(url, old, oauth_server)
    with Client(database_url=url, secret_key=[new, old], providers=PROVIDERS) as client:
        result = client.keys.rotate(batch_size=2)
    assert result == KeyRotation(reencrypted=5, unchanged=0)
    for token in _all_ciphertexts(url):
        Fernet(new).decrypt(token.encode())  # under the new key alone
    with Client(database_url=url, secret_key=new, providers=PROVIDERS) as client:
        assert [client._runtime.connections_store.record(i).credentials.api_key for i in ids] == [
            "secret-0",
            "secret-1",
            "secret-2",
        ]
        # The pending authorization and the integration's client secret survived the rotation.
        conn = client.auth.complete(oauth_server.approve(pending_url))
        assert client.crm.deals.list(connection_id=conn.id, limit=2).data
        assert client.keys.rotate() == KeyRotation(reencrypted=0, unchanged=6)
    with Client(database_url=url, secret_key=old, providers=PROVIDERS) as client, pytest.raises(StorageError):
        client.connections.list()


def test_rotation_is_resumable_batch_by_batch(database: str, oauth_server: OAuthToyServer) -> None:
    url = database
    old, new = new_key(), new_key()
    _populate(url, old, oauth_server)

    class Interrupted(Exception):
        pass

    def stop(progress: KeyRotation) -> None:
        raise Interrupted

    with Client(database_url=url, secret_key=[new, old], providers=PROVIDERS) as client:
        with pytest.raises(Interrupted):
            client.keys.rotate(batch_size=2, on_batch=stop)
        assert sum(_under(new, t) for t in _all_ciphertexts(url)) == 2  # the first batch was committed
    with Client(database_url=url, secret_key=[new, old], providers=PROVIDERS) as client:
        assert client.keys.rotate(batch_size=2) == KeyRotation(reencrypted=3, unchanged=2)
    with Client(database_url=url, secret_key=new, providers=PROVIDERS) as client:
        assert len(client.connections.list()) == 3


def test_rotation_async(url: str, oauth_server: OAuthToyServer) -> None:
    import anyio

    old, new = new_key(), new_key()
    _populate(url, old, oauth_server)

    async def main() -> KeyRotation:
        async with AsyncClient(database_url=url, secret_key=[new, old], providers=PROVIDERS) as client:
            return await client.keys.rotate()

    assert anyio.run(main) == KeyRotation(reencrypted=5, unchanged=0)


def test_cli_keys_rotate(url: str, oauth_server: OAuthToyServer, tmp_path: Path) -> None:
    from unified_sdk.cli import app

    old, new = new_key(), new_key()
    _populate(url, old, oauth_server)
    runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1", "UNIFIED_SDK_SECRET_KEY": f"{new},{old}"})
    result = runner.invoke(app, ["--database-url", url, "keys", "rotate", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 5 secrets" in result.output
    for token in _all_ciphertexts(url):
        Fernet(new).decrypt(token.encode())
    wrong = CliRunner(env={"NO_COLOR": "1", "UNIFIED_SDK_SECRET_KEY": old})
    result = wrong.invoke(app, ["--database-url", url, "keys", "rotate"])
    assert result.exit_code == 1 and "does not match" in result.output


def test_the_default_key_file_rotates_with_the_new_key_on_its_first_line(
    tmp_path: Path, oauth_server: OAuthToyServer
) -> None:
    from unified_sdk.cli import app

    db = tmp_path / "app.db"
    url = f"sqlite:///{db}"
    with Client(database_url=url, providers=PROVIDERS) as client:
        cid = client.connections.create(provider="toy", credentials={"api_key": "in-key-file"}).id
    key_file = db.with_name("app.db.key")
    old, new = key_file.read_text().strip(), new_key()
    key_file.write_text(f"{new}\n{old}\n")
    result = CliRunner(env={"NO_COLOR": "1"}).invoke(app, ["--database-url", url, "keys", "rotate"])
    assert result.exit_code == 0, result.output
    key_file.write_text(new)
    with Client(database_url=url, providers=PROVIDERS) as client:
        assert client._runtime.connections_store.record(cid).credentials.api_key == "in-key-file"
