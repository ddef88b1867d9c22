"""The runtime below the pipeline: storage, plugins, policies, bookkeeping, events, clock and jitter.

A client builds one :class:`Runtime`; the pipeline, the resources and the OAuth
layer use it and never import the clients above them.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Generator, Mapping, Sequence
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from unified_sdk._actions import ActionPolicy
from unified_sdk._bookkeeping import CLOSE_TIMEOUT, Bookkeeper
from unified_sdk._connections import ConnectionRecord, ConnectionStore
from unified_sdk._dburl import default_sqlite_path, sqlite_path
from unified_sdk._events import EventBus
from unified_sdk._limits import DEFAULT_MAX_RESPONSE_BYTES
from unified_sdk._redact import install_log_redaction
from unified_sdk._registry import ProviderRegistry
from unified_sdk._retry_budget import RetryBudgets
from unified_sdk._throttle import Throttle
from unified_sdk.errors import ConfigurationError
from unified_sdk.provider import Provider

if TYPE_CHECKING:
    from unified_sdk._crypto import SecretBox
    from unified_sdk._storage import Store

logger = logging.getLogger("unified_sdk")

ENV_DATABASE_URL = "UNIFIED_SDK_DATABASE_URL"
ENV_LOG = "UNIFIED_SDK_LOG"

#: Seconds for a whole call (connect, attempts, waits, bodies): a web request stays a web request.
DEFAULT_TIMEOUT = 30.0
#: The longest single wait (Retry-After, rate-limit reset, backoff) a call sleeps; a provider asking for
#: more fails the call at once with ``retry_after`` in the error, so the app can reschedule the work.
DEFAULT_MAX_WAIT = 10.0

_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_log_lock = threading.Lock()
_log_handler: logging.Handler | None = None


def log_from_env() -> None:
    """``UNIFIED_SDK_LOG=debug|info``: print the SDK's own log records to stderr.

    The documented opt-in (like ``OPENAI_LOG``): one handler on the ``unified_sdk``
    logger only, never the root logger, added once per process. Nothing happens
    when the variable is unset.
    """
    global _log_handler
    value = os.environ.get(ENV_LOG, "").strip().lower()
    if not value:
        return
    level = _LOG_LEVELS.get(value)
    with _log_lock:
        if level is None:
            if _log_handler is None:
                logger.warning("%s=%r is not one of debug, info; ignored", ENV_LOG, value)
                _log_handler = logging.NullHandler()
            return
        if _log_handler is None:
            _log_handler = logging.StreamHandler()
            _log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(_log_handler)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)


def check_call_limits(
    *, timeout: float | None = None, max_retries: int | None = None, max_wait: float | None = None
) -> None:
    """Refuse a timeout, retry count or wait that is not a usable number (:class:`ConfigurationError`)."""
    if timeout is not None and not (_seconds(timeout) and timeout > 0):
        raise ConfigurationError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if max_wait is not None and not _seconds(max_wait):
        raise ConfigurationError(f"max_wait must be a number of seconds (0 or more), not {max_wait!r}")
    if max_retries is not None and (
        isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
    ):
        raise ConfigurationError(f"max_retries must be an integer 0 or more, not {max_retries!r}")


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


class Refresher(Protocol):
    """Refreshes a connection's OAuth credentials (single-flight); the OAuth layer implements it.

    ``refresh_flow`` is a pipeline flow (it yields the pipeline's effects: its token request
    goes through the driver that runs the call needing the refresh).
    """

    def refresh_flow(self, conn: ConnectionRecord, *, reason: str) -> Generator[Any, Any, ConnectionRecord]: ...


def _random_jitter() -> float | None:
    return None


class Runtime:
    """What every call needs, shared by a client and its ``with_options`` copies.

    The pipeline reaches it through this narrow surface: storage
    (``store``, ``connections_store``), the bookkeeping writer (``logs``),
    ``throttle``, ``retry_budgets``, the response-action policy (``actions``),
    the ``refresher``, ``events``, the plugin ``registry``, and the seams
    tests pin: ``clock`` and ``jitter``.
    """

    def __init__(
        self,
        *,
        database_url: str | None,
        secret_key: str | Sequence[str] | None,
        timeout: float,
        max_retries: int | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        webhook_url: str | None,
        webhook_secret: str | None,
        providers: Mapping[str, type[Provider]] | None,
        refresh_skew: float,
        log_bodies: bool,
        rate_limit_warning: float = 0.9,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        make_refresher: Callable[[Runtime], Refresher] | None = None,
    ) -> None:
        install_log_redaction()
        log_from_env()
        check_call_limits(timeout=timeout, max_retries=max_retries, max_wait=max_wait)
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) or max_response_bytes < 1:
            raise ConfigurationError(f"max_response_bytes must be a positive integer, not {max_response_bytes!r}")
        url = database_url or os.environ.get(ENV_DATABASE_URL) or f"sqlite:///{default_sqlite_path()}"
        self.database_url = url
        self._secret_key = secret_key
        self.registry = ProviderRegistry(dict(providers) if providers is not None else None)
        self.events = EventBus(webhook_url, webhook_secret)
        self.actions = ActionPolicy()
        self.throttle = Throttle()
        self.retry_budgets = RetryBudgets()
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.max_response_bytes = max_response_bytes
        self.refresh_skew = refresh_skew
        self.rate_limit_warning = rate_limit_warning
        self.log_bodies = log_bodies
        self.user_agent = "unified-sdk-python/0.1"
        self._make_refresher = make_refresher
        self.clock: Callable[[], float] = time.time
        """Wall-clock seconds; tests may replace it (``unified_sdk.testing.set_clock``)."""
        self.jitter: Callable[[], float | None] = _random_jitter
        """The random factor of backoff; ``None`` means random. Pinned in tests (``unified_sdk.testing.set_jitter``)."""
        # Pending call logs and events are written at interpreter exit even if the client is never closed.
        # The hook holds the core weakly, so registering it keeps nothing alive.
        self._exit_hook: Callable[[], None] | None = partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._exit_hook)

    # The database is opened on first use: constructing a client imports no SQLAlchemy.
    @cached_property
    def store(self) -> Store:
        from unified_sdk._storage import Store

        return Store(self.database_url, on_open=self._check_key)

    @cached_property
    def connections_store(self) -> ConnectionStore:
        return ConnectionStore(self.store, lambda: self._make_box(self._secret_key), self.events, self.logs)

    @cached_property
    def logs(self) -> Bookkeeper:
        """The bookkeeping writer: call-log rows, health and rate-limit budgets, off the request path."""
        return Bookkeeper(self.store)

    def cached_record(self, connection_id: str) -> ConnectionRecord | None:
        """The connection's recently read record, if any, without I/O or imports (safe on an event loop).

        ``None`` until the connection store exists: building it imports the storage layer.
        """
        if "connections_store" not in self.__dict__:
            return None
        return self.connections_store.cached_record(connection_id)

    def _key_file(self) -> Path | None:
        path = sqlite_path(self.database_url)
        return path.with_name(path.name + ".key") if path is not None else None

    def _check_key(self) -> None:
        """When the database opens: refuse a wrong key (or a lost key file) before any read or write."""
        from unified_sdk._crypto import configured_keys
        from unified_sdk._keys import holds_secrets

        key_file = self._key_file()
        if configured_keys(self._secret_key, key_file) is not None or (
            key_file is not None and holds_secrets(self.store)
        ):
            self.connections_store.box  # noqa: B018  (opening the box checks the key against the database)

    def _make_box(self, secret_key: str | Sequence[str] | None) -> SecretBox:
        from unified_sdk._keys import open_box

        key_file = self._key_file()
        if key_file is None and not secret_key and self.database_url.startswith("sqlite"):
            # In-memory SQLite: secrets live only as long as the process, so a random key will do.
            from cryptography.fernet import Fernet

            secret_key = Fernet.generate_key().decode()
        return open_box(self.store, secret_key, key_file)

    # -- plugins and refresh ----------------------------------------------------------------
    def provider_for(self, name: str) -> Provider:
        return self.registry.get(name)

    @cached_property
    def refresher(self) -> Refresher:
        """What refreshes OAuth credentials (the OAuth layer, plugged in by the client)."""
        if self._make_refresher is None:
            raise ConfigurationError("this runtime has no OAuth refresher")
        return self._make_refresher(self)

    def refresh_flow(self, conn: ConnectionRecord, *, reason: str) -> Generator[Any, Any, ConnectionRecord]:
        """Refresh OAuth credentials, single-flight across threads, tasks and processes (a pipeline flow)."""
        return self.refresher.refresh_flow(conn, reason=reason)

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Write pending call logs, health and events (waiting at most about ``timeout``), then release."""
        if self._exit_hook is not None:
            atexit.unregister(self._exit_hook)
            self._exit_hook = None
        if "logs" in self.__dict__:
            self.logs.close(timeout)
        self.events.close()
        if "store" in self.__dict__:
            self.store.dispose()


def _close_at_exit(ref: weakref.ref[Runtime]) -> None:
    core = ref()
    if core is not None:
        try:
            core.close()
        except Exception:  # at exit there is no caller to raise to
            logger.exception("could not write pending call logs at exit")
