"""Encryption of secrets at rest with Fernet (MultiFernet for key rotation), each secret bound to its row.

A secret's plaintext is ``u1:`` followed by the JSON ``[binding, value]``, where the
binding names the row it was written for (``connection:conn_…``). A ciphertext copied
into another row therefore fails to decrypt there. Secrets written by the previous
release are plain JSON (no JSON text starts with ``u``); they are read until a key
rotation has rewritten every secret with its binding, after which they are refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from unified_sdk.errors import StorageError

ENV_KEY = "UNIFIED_SDK_SECRET_KEY"

#: The kinds of rows that hold secrets; a secret is bound to ``"<kind>:<row id>"``.
CONNECTION = "connection"
INTEGRATION = "integration"
OAUTH_STATE = "oauth_state"

_BOUND = b"u1:"
_CHECK_PLAINTEXT = b"unified-sdk key check v1"


def bind(kind: str, row_id: str) -> str:
    """The binding of a secret stored in the row ``row_id`` of ``kind`` (e.g. ``connection:conn_…``)."""
    return f"{kind}:{row_id}"


@dataclass(frozen=True, slots=True)
class KeySource:
    """The configured keys (the first encrypts) and where they came from, for hints (never the keys)."""

    keys: list[str] = field(repr=False)
    origin: str


class SecretBox:
    """Encrypts and decrypts JSON values bound to a row. The first key encrypts; all keys decrypt."""

    def __init__(self, keys: Sequence[str | bytes], *, origin: str = "secret_key=") -> None:
        if not keys:
            raise StorageError("no encryption key given", hint=f"pass Client(secret_key=...) or set {ENV_KEY}")
        try:
            self._fernets = [Fernet(k) for k in keys]
        except (ValueError, TypeError) as exc:
            raise StorageError(
                f"the encryption key from {origin} is not a valid Fernet key",
                hint="generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
            ) from exc
        self._fernet = MultiFernet(self._fernets)
        self.origin = origin
        #: Refuse secrets without a row binding (set once the database holds bound secrets only).
        self.require_binding = False

    def __repr__(self) -> str:
        return f"SecretBox(keys={len(self._fernets)}, origin={self.origin!r})"

    def encrypt(self, value: Any, *, bind: str) -> str:
        """Encrypt ``value`` with the primary key, for the row named ``bind`` only."""
        plaintext = _BOUND + json.dumps([bind, value], separators=(",", ":")).encode()
        return self._fernet.encrypt(plaintext).decode()

    def decrypt(self, token: str, *, bind: str) -> Any:
        """The value of a secret stored in the row named ``bind``."""
        try:
            plaintext = self._fernet.decrypt(token.encode())
        except InvalidToken as exc:
            raise StorageError(
                f"the secret of {bind} cannot be decrypted with the configured key(s)",
                hint=f"it was written with a key that is not configured ({self.origin}); every process must use "
                "the same keys: during a rotation pass the new key first and the old one after it",
            ) from exc
        return self._value(plaintext, bind)

    def _value(self, plaintext: bytes, bind: str) -> Any:
        if not plaintext.startswith(_BOUND):
            if self.require_binding:
                raise StorageError(
                    f"the secret of {bind} is not bound to its row and is refused",
                    hint="this database holds bound secrets only; the value was copied in from elsewhere",
                )
            return json.loads(plaintext)
        bound, value = json.loads(plaintext[len(_BOUND) :])
        if bound != bind:
            raise StorageError(
                f"the secret stored in {bind} belongs to another row and is refused",
                hint="a ciphertext was copied between rows; write the credentials again "
                "(client.connections.update(..., credentials=...))",
            )
        return value

    def is_current(self, token: str, *, bind: str) -> bool:
        """Whether ``token`` is already under the primary key and bound to ``bind`` (nothing to rotate)."""
        try:
            plaintext = self._fernets[0].decrypt(token.encode())
        except InvalidToken:
            return False
        return plaintext.startswith(_BOUND) and json.loads(plaintext[len(_BOUND) :])[0] == bind

    # -- the key check value ---------------------------------------------------------------
    def check_value(self, index: int = 0) -> str:
        """A known plaintext encrypted with key ``index``: stored so a wrong key is found on open."""
        return self._fernets[index].encrypt(_CHECK_PLAINTEXT).decode()

    def key_index(self, token: str) -> int | None:
        """Which configured key decrypts ``token`` (0 is the primary), or None."""
        for index, fernet in enumerate(self._fernets):
            try:
                fernet.decrypt(token.encode())
            except InvalidToken:
                continue
            return index
        return None


def configured_keys(secret_key: str | Sequence[str] | None, key_file: Path | None) -> KeySource | None:
    """Keys from the argument, else the environment (comma-separated), else an existing key file
    (one key a line, the first encrypts). None when none is configured."""
    if secret_key:
        keys = [secret_key] if isinstance(secret_key, str) else list(secret_key)
        return KeySource(keys, "secret_key=")
    env = os.environ.get(ENV_KEY)
    if env:
        return KeySource([k.strip() for k in env.split(",") if k.strip()], ENV_KEY)
    if key_file is not None and key_file.exists():
        return _read_key_file(key_file)
    return None


def _read_key_file(key_file: Path) -> KeySource:
    keys = [line.strip() for line in key_file.read_text().splitlines() if line.strip()]
    return KeySource(keys, f"the key file {key_file}")


def create_key_file(key_file: Path) -> KeySource:
    """Create ``key_file`` (mode 0600) with a new key, unless another process just did; return its keys."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
    return _read_key_file(key_file)
