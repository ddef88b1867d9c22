"""Connections: the public ``Connection`` record and the store logic behind it
(encrypted credentials, health recording and its events)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from unified_sdk._bookkeeping import Bookkeeper, ConnectionUpdate
from unified_sdk._events import Event, EventBus
from unified_sdk._health import Health, health_of, transition_event
from unified_sdk._outcome import HealthSignal, Outcome
from unified_sdk.errors import ConfigurationError, ConnectionNotFoundError, StorageError
from unified_sdk.provider import AuthType, Credentials, RateLimit

if TYPE_CHECKING:
    from unified_sdk._crypto import SecretBox
    from unified_sdk._storage import Store

#: A healthy signal on an already healthy connection is recorded at most this often.
HEALTHY_WRITE_INTERVAL = 5.0
#: How long a connection record read for one call is reused by the next calls.
RECORD_TTL = 1.0
#: The rate-limit budget of a connection is written at most this often (and on crossing the warning line).
RATE_LIMIT_WRITE_INTERVAL = 5.0
#: Budgets that reset sooner than this are left to the throttle: no warning events for them.
SHORT_WINDOW = 60.0


def usage_of(limit: RateLimit) -> float | None:
    """The share of a budget used (0..1), when the provider says both remaining and limit."""
    if limit.remaining is None or not limit.limit:
        return None
    return min(max(1.0 - limit.remaining / limit.limit, 0.0), 1.0)


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


@dataclass(frozen=True, slots=True)
class Connection:
    """A stored connection: provider + credentials (never shown) + scopes + metadata + health."""

    id: str
    provider: str
    auth_type: str
    external_id: str | None
    config: Mapping[str, Any]
    """Non-secret settings: ``base_url`` and endpoint overrides, API version, …"""
    scopes: list[str] | None
    """Unified scopes granted (OAuth connections)."""
    provider_scopes: list[str] | None
    health: Health
    last_healthy_at: datetime | None
    last_unhealthy_at: datetime | None
    last_error: Mapping[str, Any] | None
    """``{"category", "message", "at"}`` of the last failure."""
    rate_limit: Mapping[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Connection:
        return cls(
            id=row["id"],
            provider=row["provider"],
            auth_type=row["auth_type"],
            external_id=row["external_id"],
            config=dict(row["config"] or {}),
            scopes=row["scopes"],
            provider_scopes=row["provider_scopes"],
            health=health_of(row["last_healthy_at"], row["last_unhealthy_at"]),
            last_healthy_at=_dt(row["last_healthy_at"]),
            last_unhealthy_at=_dt(row["last_unhealthy_at"]),
            last_error=row["last_error"],
            rate_limit=row["rate_limit"],
            created_at=datetime.fromtimestamp(row["created_at"], UTC),
            updated_at=datetime.fromtimestamp(row["updated_at"], UTC),
        )


@dataclass(slots=True)
class ConnectionRecord:
    """What the pipeline needs of a connection for one call, credentials decrypted."""

    id: str
    provider: str
    config: dict[str, Any]
    credentials: Credentials
    credentials_version: int
    scopes: list[str] | None
    health: Health
    secrets: list[str] = field(default_factory=list, repr=False)


def credentials_from_input(data: Mapping[str, Any]) -> Credentials:
    """Credentials from what a user passes to ``connections.create``."""
    if not isinstance(data, Mapping):
        raise ConfigurationError("credentials must be a dict", hint='e.g. credentials={"api_key": "..."}')
    unknown = set(data) - {
        "api_key",
        "access_token",
        "refresh_token",
        "expires_in",
        "expires_at",
        "token_type",
    }
    if unknown:
        raise ConfigurationError(
            f"unknown credential fields: {', '.join(sorted(unknown))}",
            hint="use api_key, or access_token with refresh_token and expires_in/expires_at",
        )
    if data.get("api_key"):
        return Credentials(type=AuthType.API_KEY, api_key=str(data["api_key"]))
    if data.get("access_token"):
        expires_at = issued_at = None
        if data.get("expires_at") is not None:
            value = data["expires_at"]
            expires_at = value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), UTC)
        elif data.get("expires_in") is not None:
            now = time.time()
            expires_at = datetime.fromtimestamp(now + float(data["expires_in"]), UTC)
            issued_at = datetime.fromtimestamp(now, UTC)
        return Credentials(
            type=AuthType.OAUTH2,
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token"),
            expires_at=expires_at,
            token_type=data.get("token_type"),
            issued_at=issued_at,
        )
    raise ConfigurationError(
        "credentials need an api_key or an access_token",
        hint='e.g. credentials={"api_key": "..."}; for OAuth use client.auth.authorization_url(...)',
    )


def dump_credentials(c: Credentials) -> dict[str, Any]:
    return {
        "type": c.type.value,
        "api_key": c.api_key,
        "access_token": c.access_token,
        "refresh_token": c.refresh_token,
        "expires_at": c.expires_at.timestamp() if c.expires_at else None,
        "token_type": c.token_type,
        "extra": c.extra,
        "issued_at": c.issued_at.timestamp() if c.issued_at else None,
    }


def load_credentials(d: Mapping[str, Any]) -> Credentials:
    return Credentials(
        type=AuthType(d["type"]),
        api_key=d.get("api_key"),
        access_token=d.get("access_token"),
        refresh_token=d.get("refresh_token"),
        expires_at=datetime.fromtimestamp(d["expires_at"], UTC) if d.get("expires_at") else None,
        token_type=d.get("token_type"),
        extra=dict(d.get("extra") or {}),
        issued_at=datetime.fromtimestamp(d["issued_at"], UTC) if d.get("issued_at") else None,
    )


def _budget(limit: RateLimit) -> dict[str, Any]:
    return {
        "remaining": limit.remaining,
        "limit": limit.limit,
        "reset_after": limit.reset_after,
        "policy": limit.policy,
        "usage": usage_of(limit),
        "at": time.time(),
    }


def new_connection_id() -> str:
    return "conn_" + secrets.token_hex(12)


@dataclass(slots=True)
class _HealthState:
    """A connection's health as this process knows it: the stored row merged with what is not written yet."""

    provider: str
    healthy_at: float | None
    unhealthy_at: float | None
    last_error: Mapping[str, Any] | None


def _later(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


class ConnectionStore:
    """Connection rows, their encrypted credentials and their health.

    Health and rate-limit budgets change in memory at once (readers in this
    process see them, events fire on transitions) and reach the database
    through the :class:`~unified_sdk._bookkeeping.Bookkeeper`, off the request path.
    """

    def __init__(self, store: Store, box: Any, events: EventBus, bookkeeper: Bookkeeper) -> None:
        self.store = store
        self.bookkeeper = bookkeeper
        self._box_factory = box
        self._box: SecretBox | None = None
        self.events = events
        self._decrypted: dict[tuple[str, str], Credentials] = {}
        self._healthy_written: dict[str, float] = {}
        self._rate_written: dict[str, tuple[float, bool]] = {}
        self._rate_latest: dict[str, dict[str, Any]] = {}
        self._records: dict[str, tuple[ConnectionRecord, float]] = {}
        self._lock = threading.Lock()
        self._health: dict[str, _HealthState] = {}
        # Re-entrant: a listener may make a call that records health. Held while an event is emitted,
        # so transitions are decided and announced in one order.
        self._health_lock = threading.RLock()

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = self._box_factory()
        assert self._box is not None
        return self._box

    def encrypt_credentials(self, connection_id: str, c: Credentials) -> str:
        """The ciphertext of ``c`` for the row of ``connection_id`` (refused in any other row)."""
        from unified_sdk._crypto import CONNECTION, bind

        return self.box.encrypt(dump_credentials(c), bind=bind(CONNECTION, connection_id))

    def decrypt_credentials(self, connection_id: str, ciphertext: str) -> Credentials:
        """The credentials stored in the row of ``connection_id``."""
        from unified_sdk._crypto import CONNECTION, bind

        return load_credentials(self.box.decrypt(ciphertext, bind=bind(CONNECTION, connection_id)))

    def row(self, connection_id: str) -> dict[str, Any]:
        row = self.store.get_connection(connection_id)
        if row is None:
            raise ConnectionNotFoundError(f"no connection with id {connection_id!r}", connection_id=connection_id)
        latest = self._rate_latest.get(connection_id)
        if latest is not None and latest["at"] > ((row["rate_limit"] or {}).get("at") or 0):
            row["rate_limit"] = latest  # this process saw a newer budget than the one written
        self._merge_health(row)
        return row

    def _merge_health(self, row: dict[str, Any]) -> None:
        """Merge the stored health with this process's (either may be newer); update both."""
        with self._health_lock:
            state = self._health.get(row["id"])
            if state is None:
                self._health[row["id"]] = _HealthState(
                    row["provider"], row["last_healthy_at"], row["last_unhealthy_at"], row["last_error"]
                )
                return
            if (state.unhealthy_at or 0) > (row["last_unhealthy_at"] or 0):
                row["last_error"] = state.last_error
            else:
                state.last_error = row["last_error"]
            state.healthy_at = row["last_healthy_at"] = _later(state.healthy_at, row["last_healthy_at"])
            state.unhealthy_at = row["last_unhealthy_at"] = _later(state.unhealthy_at, row["last_unhealthy_at"])

    def record(self, connection_id: str, *, fresh: bool = False) -> ConnectionRecord:
        """The connection with decrypted credentials.

        Pages of one listing follow each other quickly, so a record read in the
        last :data:`RECORD_TTL` seconds is reused (a copy). Writes made through
        this store drop it; ``fresh=True`` always reads the row. Another
        process's change is seen within the TTL, and a token it rotated is
        picked up by the refresh path, which always reads fresh.
        """
        if not fresh:
            cached = self.cached_record(connection_id)
            if cached is not None:
                return cached
        row = self.row(connection_id)
        key = (connection_id, row["credentials"])  # a ciphertext is only valid in its own row
        creds = self._decrypted.get(key)
        if creds is None:
            creds = self.decrypt_credentials(connection_id, row["credentials"])
            with self._lock:
                if len(self._decrypted) > 1024:
                    self._decrypted.clear()
                self._decrypted[key] = creds
        record = ConnectionRecord(
            id=row["id"],
            provider=row["provider"],
            config=dict(row["config"] or {}),
            credentials=creds,
            credentials_version=row["credentials_version"],
            scopes=row["scopes"],
            health=health_of(row["last_healthy_at"], row["last_unhealthy_at"]),
            secrets=creds.secret_values(),
        )
        self._records[connection_id] = (replace(record), time.monotonic())
        return record

    def cached_record(self, connection_id: str) -> ConnectionRecord | None:
        """A copy of the record read in the last :data:`RECORD_TTL` seconds, if any (no I/O)."""
        cached = self._records.get(connection_id)
        if cached is not None and time.monotonic() - cached[1] < RECORD_TTL:
            return replace(cached[0])
        return None

    def forget(self, connection_id: str) -> None:
        """Drop the cached record of a connection (after writing its row)."""
        self._records.pop(connection_id, None)

    # -- rate limits ----------------------------------------------------------------
    def _above(self, limit: RateLimit, threshold: float) -> bool:
        usage = usage_of(limit)
        long_window = limit.reset_after is None or limit.reset_after >= SHORT_WINDOW
        return usage is not None and long_window and usage >= threshold

    def needs_rate_limit_write(self, connection_id: str, limit: RateLimit, threshold: float) -> bool:
        """Whether the budget must be written now (cheap, in memory; the latest is kept either way)."""
        self._rate_latest[connection_id] = _budget(limit)
        previous = self._rate_written.get(connection_id)
        if previous is None or previous[1] != self._above(limit, threshold):
            return True
        return time.monotonic() - previous[0] > RATE_LIMIT_WRITE_INTERVAL

    def record_rate_limit(self, connection_id: str, provider: str, limit: RateLimit, threshold: float) -> None:
        """Store the remaining budget on the connection (queued); warn once when usage crosses ``threshold``."""
        above = self._above(limit, threshold)
        was_above = self._rate_written.get(connection_id, (0.0, False))[1]
        self._rate_written[connection_id] = (time.monotonic(), above)
        budget = _budget(limit)
        self._rate_latest[connection_id] = budget
        self.bookkeeper.update(connection_id, ConnectionUpdate(rate_limit=budget))
        if above and not was_above:
            self.events.emit(
                Event("connection.rate_limit_warning", connection_id, provider, {**budget, "threshold": threshold})
            )

    # -- health -------------------------------------------------------------------
    def needs_health_write(self, connection_id: str, before: Health, signal: HealthSignal) -> bool:
        """Whether ``signal`` must be written now (kept cheap for the hot path)."""
        if signal == HealthSignal.NEUTRAL:
            return False
        if signal == HealthSignal.UNHEALTHY or before != Health.HEALTHY:
            return True
        last = self._healthy_written.get(connection_id, 0.0)
        return time.monotonic() - last > HEALTHY_WRITE_INTERVAL

    def record_health(self, connection_id: str, outcome: Outcome, message: str | None = None) -> Health | None:
        """Apply a call's health signal; emit an event on a transition. Returns the new health.

        The new health holds at once for this process; the database write is queued,
        so a locked database never fails or holds up the call.
        """
        signal = outcome.health
        if signal == HealthSignal.NEUTRAL:
            return None
        if connection_id not in self._health:
            try:
                self.row(connection_id)  # rare: every call reads its record (and so this) first
            except ConnectionNotFoundError:
                return None
            except StorageError:
                self._queue_health(connection_id, outcome, message, time.time())
                return None
        with self._health_lock:
            state = self._health.get(connection_id)
            if state is None:
                return None
            before = health_of(state.healthy_at, state.unhealthy_at)
            update = self._queue_health(connection_id, outcome, message, time.time())
            state.healthy_at = _later(state.healthy_at, update.healthy_at)
            if update.unhealthy_at is not None:
                state.unhealthy_at = _later(state.unhealthy_at, update.unhealthy_at)
                state.last_error = update.last_error
            after = health_of(state.healthy_at, state.unhealthy_at)
            cached = self._records.get(connection_id)
            if cached is not None:
                cached[0].health = after
            if signal == HealthSignal.HEALTHY:
                self._healthy_written[connection_id] = time.monotonic()
            event = transition_event(before, after)
            if event is not None:
                data: dict[str, Any] = {"health": after.value, "previous_health": before.value}
                if signal == HealthSignal.UNHEALTHY:
                    data["error"] = dict(update.last_error or {})
                self.events.emit(Event(event, connection_id, state.provider, data))
        return after

    def _queue_health(self, connection_id: str, outcome: Outcome, message: str | None, now: float) -> ConnectionUpdate:
        if outcome.health == HealthSignal.HEALTHY:
            update = ConnectionUpdate(healthy_at=now)
        else:
            error = {
                "category": outcome.category.value if outcome.category else None,
                "status": outcome.status,
                "code": outcome.provider_code,
                "message": message,
                "at": now,
            }
            update = ConnectionUpdate(unhealthy_at=now, last_error=error)
        self.bookkeeper.update(connection_id, update)
        return update
