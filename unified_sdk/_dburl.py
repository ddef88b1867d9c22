"""Database URL helpers that need no SQLAlchemy (kept out of the import path)."""

from __future__ import annotations

import re
from pathlib import Path

_SQLITE = re.compile(r"^sqlite(\+\w+)?://(?P<rest>.*)$")


def default_sqlite_path() -> Path:
    """The embedded default database: a SQLite file in the user data dir."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("unified-sdk", appauthor=False)) / "unified_sdk.db"


def is_sqlite(url: str) -> bool:
    return _SQLITE.match(url) is not None


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL; ``None`` for other databases and in-memory SQLite."""
    match = _SQLITE.match(url)
    if match is None:
        return None
    rest = match.group("rest").split("?", 1)[0]
    if not rest.startswith("/"):
        return None
    path = rest[1:]
    if path.startswith("file:"):  # the URI form, e.g. sqlite:///file:/path/app.db?mode=ro&uri=true
        path = path[len("file:") :]
    if not path or path == ":memory:" or path.startswith(":memory:"):
        return None
    return Path(path)
