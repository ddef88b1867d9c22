"""The secret key of a database: checked when the database opens, and rotated by re-encrypting every secret.

The ``unified_meta`` table holds a key check value (a known plaintext encrypted with the
key the secrets are under), so a wrong key is refused before anything is read or written,
and whether every secret is bound to its row. Rotation re-encrypts each secret with the
primary key, one committed batch at a time, skipping secrets already under it, so an
interrupted rotation continues where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as SAConnection

from unified_sdk._crypto import (
    CONNECTION,
    ENV_KEY,
    INTEGRATION,
    OAUTH_STATE,
    SecretBox,
    bind,
    configured_keys,
    create_key_file,
)
from unified_sdk._storage import Store, connections, integrations, meta, oauth_states
from unified_sdk.errors import ConfigurationError, StorageError

KEY_CHECK = "key_check"
BINDING = "secret_binding"
BINDING_REQUIRED = "required"

#: Every encrypted column: its table, the row id that binds it, and the kind of row.
_ENCRYPTED: tuple[tuple[sa.Table, sa.Column[Any], sa.Column[Any], str], ...] = (
    (connections, connections.c.id, connections.c.credentials, CONNECTION),
    (integrations, integrations.c.provider, integrations.c.client_secret, INTEGRATION),
    (oauth_states, oauth_states.c.state_hash, oauth_states.c.payload, OAUTH_STATE),
)


@dataclass(frozen=True, slots=True)
class KeyRotation:
    """What a key rotation did (``client.keys.rotate()``), so far or in all."""

    reencrypted: int
    """Secrets re-encrypted with the primary key (and bound to their row)."""
    unchanged: int
    """Secrets that were already under the primary key, skipped."""


def open_box(store: Store, secret_key: str | Sequence[str] | None, key_file: Path | None) -> SecretBox:
    """The box of the configured keys, checked against the database.

    Creates the key file only for a database that holds no secret yet: a missing key
    file beside encrypted secrets is an error, never a fresh key.
    """
    source = configured_keys(secret_key, key_file)
    if source is None:
        if key_file is None:
            raise StorageError(
                "no encryption key configured for this database",
                hint=f"pass Client(secret_key=...) or set {ENV_KEY}",
            )
        if holds_secrets(store):
            raise StorageError(
                f"the key file {key_file} is missing, but this database holds secrets encrypted with it",
                hint=f"restore the key file from where the database was backed up, or pass its key as secret_key= "
                f"or {ENV_KEY}; a new key could not read the stored secrets",
            )
        source = create_key_file(key_file)
    box = SecretBox(source.keys, origin=source.origin)
    check(store, box)
    return box


def holds_secrets(store: Store) -> bool:
    """Whether the database has a key check value or any encrypted secret."""
    with store.read() as c:
        if c.execute(sa.select(meta.c.name).where(meta.c.name == KEY_CHECK)).first() is not None:
            return True
        return _any_secret(c) is not None


def check(store: Store, box: SecretBox) -> None:
    """Refuse ``box`` unless one of its keys opens the database's key check value.

    A database without one gets it now: under the key that opens its existing secrets
    (a database of the previous release), or the primary key for an empty database,
    whose secrets will then all be bound to their rows.
    """
    for attempt in range(2):
        try:
            _check(store, box)
            return
        except StorageError as exc:
            # Another process wrote the check value first (PostgreSQL): read theirs.
            if attempt or not isinstance(exc.__cause__, sa.exc.IntegrityError):
                raise


def _check(store: Store, box: SecretBox) -> None:
    with store.read() as c:
        values = _meta(c)
    if KEY_CHECK not in values:
        with store.begin() as c:
            values = _meta(c)
            if KEY_CHECK not in values:
                sample = _any_secret(c)
                index = 0 if sample is None else box.key_index(sample)
                if index is None:
                    raise _wrong_key(box)
                values = {KEY_CHECK: box.check_value(index)}
                if sample is None:
                    values[BINDING] = BINDING_REQUIRED
                _set_meta(c, values)
    if box.key_index(values[KEY_CHECK]) is None:
        raise _wrong_key(box)
    box.require_binding = values.get(BINDING) == BINDING_REQUIRED


def rotate(
    store: Store,
    box: SecretBox,
    *,
    batch_size: int = 500,
    on_batch: Callable[[KeyRotation], None] | None = None,
) -> KeyRotation:
    """Re-encrypt every secret with the primary key, ``batch_size`` rows per committed transaction."""
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, not {batch_size}")
    reencrypted = unchanged = 0
    for table, row_id, column, kind in _ENCRYPTED:
        after: Any = None
        while True:
            with store.begin() as c:
                query = sa.select(row_id, column).where(column.is_not(None)).order_by(row_id).limit(batch_size)
                if after is not None:
                    query = query.where(row_id > after)
                rows = c.execute(query).all()
                for rid, token in rows:
                    binding = bind(kind, rid)
                    if box.is_current(token, bind=binding):
                        unchanged += 1
                        continue
                    value = box.decrypt(token, bind=binding)
                    # Only if unchanged since read: a concurrent token refresh wrote a current secret.
                    c.execute(
                        table.update()
                        .where(row_id == rid, column == token)
                        .values({column.name: box.encrypt(value, bind=binding)})
                    )
                    reencrypted += 1
            if not rows:
                break
            after = rows[-1][0]
            if on_batch is not None:
                on_batch(KeyRotation(reencrypted, unchanged))
    with store.begin() as c:
        _set_meta(c, {KEY_CHECK: box.check_value(0), BINDING: BINDING_REQUIRED})
    box.require_binding = True
    return KeyRotation(reencrypted, unchanged)


def _wrong_key(box: SecretBox) -> StorageError:
    return StorageError(
        "the secret key does not match this database: its secrets were encrypted with another key",
        hint=f"configure the key this database was written with ({box.origin}); to change keys, configure the new "
        "key first and the old one after it, then run `unified-sdk keys rotate` (client.keys.rotate())",
    )


def _any_secret(c: SAConnection) -> str | None:
    for _table, _row_id, column, _kind in _ENCRYPTED:
        found = c.execute(sa.select(column).where(column.is_not(None)).limit(1)).scalar()
        if found is not None:
            return str(found)
    return None


def _meta(c: SAConnection) -> dict[str, str]:
    return {row.name: row.value for row in c.execute(sa.select(meta.c.name, meta.c.value))}


def _set_meta(c: SAConnection, values: dict[str, str]) -> None:
    now = time.time()
    existing = set(_meta(c))
    for name, value in values.items():
        if name in existing:
            c.execute(meta.update().where(meta.c.name == name).values(value=value, updated_at=now))
        else:
            c.execute(meta.insert().values(name=name, value=value, updated_at=now))
