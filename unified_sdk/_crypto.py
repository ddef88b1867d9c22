"""Encryption of secrets at rest with Fernet (MultiFernet for key rotation)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from unified_sdk.errors import StorageError

ENV_KEY = "UNIFIED_SDK_SECRET_KEY"


class SecretBox:
    """Encrypts and decrypts JSON values. The first key encrypts; all keys decrypt."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise StorageError("no encryption key given", hint=f"pass Client(secret_key=...) or set {ENV_KEY}")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError) as exc:
            raise StorageError(
                "the encryption key is not a valid Fernet key",
                hint="generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
            ) from exc

    def encrypt(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()

    def decrypt(self, token: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise StorageError(
                "stored secrets cannot be decrypted with the configured key(s)",
                hint=f"use the key the secrets were written with (Client(secret_key=...) or {ENV_KEY}); "
                "to rotate, pass the new key first and the old one after it",
            ) from exc


def resolve_keys(secret_key: str | Sequence[str] | None, key_file: Path | None) -> list[str]:
    """Keys from the argument, else the environment (comma-separated), else a key file (created 0600)."""
    if secret_key:
        return [secret_key] if isinstance(secret_key, str) else list(secret_key)
    env = os.environ.get(ENV_KEY)
    if env:
        return [k.strip() for k in env.split(",") if k.strip()]
    if key_file is None:
        raise StorageError(
            "no encryption key configured for this database",
            hint=f"pass Client(secret_key=...) or set {ENV_KEY}",
        )
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(Fernet.generate_key().decode())
    return [key_file.read_text().strip()]
