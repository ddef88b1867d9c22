"""The bookkeeping writer: call-log rows, health and rate-limit budgets, written off the request path.

A call hands what it must record to :class:`Bookkeeper` and goes on; one daemon
thread per client batches it into the store. A call whose provider answered is
never failed or held up by the database: while the database is locked the
writer keeps everything in memory (up to a generous cap), retries with backoff,
and writes it once the lock is gone. What is ever dropped (the cap reached, a
row the database refuses, the exit flush timing out) is counted in
:class:`BookkeepingStats` and logged with its number.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from unified_sdk._logs import build_row
from unified_sdk.errors import StorageError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from unified_sdk._storage import Store

logger = logging.getLogger("unified_sdk.bookkeeping")

#: Call-log rows kept in memory while the database cannot take them. Rows are redacted and truncated
#: (bodies to 4 KiB) as soon as the writer sees them, so this is at most ~200 MB and usually far less:
#: a minute of 300 calls a second.
MAX_PENDING = 20_000
#: How long one background write waits for a SQLite lock before it backs off and retries.
WRITE_BUSY_TIMEOUT = 0.5
#: Backoff between retries of a failed write: doubles from the first to the last.
RETRY_BACKOFF = (0.05, 2.0)
#: How long ``client.logs`` reads wait for pending rows to be written before raising :class:`StorageError`.
FLUSH_TIMEOUT = 10.0
#: How long closing (``close()``, interpreter exit, garbage collection) waits for pending writes.
CLOSE_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class ConnectionUpdate:
    """Bookkeeping for one connection row: health and rate-limit budget (any part may be ``None``).

    Written so that order does not matter: a health time only moves forward, so updates
    can be merged, retried and interleaved with other processes' writes.
    """

    healthy_at: float | None = None
    unhealthy_at: float | None = None
    last_error: Mapping[str, Any] | None = None
    """Goes with ``unhealthy_at``."""
    rate_limit: Mapping[str, Any] | None = None

    def merge(self, newer: ConnectionUpdate) -> ConnectionUpdate:
        """This update followed by ``newer``: the latest of each part."""
        unhealthy_newer = newer.unhealthy_at is not None and (
            self.unhealthy_at is None or newer.unhealthy_at >= self.unhealthy_at
        )
        budget_newer = newer.rate_limit is not None and (
            self.rate_limit is None or newer.rate_limit.get("at", 0) >= self.rate_limit.get("at", 0)
        )
        return ConnectionUpdate(
            healthy_at=_later(self.healthy_at, newer.healthy_at),
            unhealthy_at=_later(self.unhealthy_at, newer.unhealthy_at),
            last_error=newer.last_error if unhealthy_newer else self.last_error,
            rate_limit=newer.rate_limit if budget_newer else self.rate_limit,
        )


def _later(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


@dataclass(frozen=True, slots=True)
class BookkeepingStats:
    """Counters of the client's background bookkeeping (``client.stats()``).

    Calls queue one call-log row per HTTP attempt, and connection updates
    (health, rate-limit budget); a background thread writes them. Nothing is
    dropped while the database is merely locked: ``*_pending`` grows and
    ``write_retries`` counts the attempts that found it busy. ``*_dropped``
    counts what was lost (the in-memory cap reached, a row the database refused,
    or closing timed out); each drop is also logged as a warning with the number.

    Example::

        stats = client.stats()
        if stats.call_logs_dropped:
            alert(f"{stats.call_logs_dropped} call-log rows lost: {stats.last_error}")
    """

    call_logs_written: int
    call_logs_pending: int
    call_logs_dropped: int
    updates_written: int
    """Connection updates (health, rate-limit budget) written; several for one connection may merge into one."""
    updates_pending: int
    updates_dropped: int
    write_retries: int
    """Background writes that failed (e.g. database locked) and were retried later."""
    last_error: str | None
    """The last error a background write met, ``None`` if none yet."""


class Bookkeeper:
    """One bounded in-memory backlog and one daemon thread that writes it to the store.

    ``submit`` (call-log fields) and ``update`` (a connection's health or
    budget) never block on the database. ``flush`` waits, bounded, until
    everything submitted before it is written.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_pending: int = MAX_PENDING,
        batch: int = 500,
        linger: float = 0.02,
        busy_timeout: float = WRITE_BUSY_TIMEOUT,
        flush_timeout: float = FLUSH_TIMEOUT,
    ) -> None:
        self._store = store
        self.max_pending = max_pending
        self.flush_timeout = flush_timeout
        self._batch = batch
        self._linger = linger
        self._busy_timeout = busy_timeout
        self._cond = threading.Condition()
        self._wake = threading.Event()  # cuts a retry backoff short
        self._incoming: deque[dict[str, Any]] = deque()  # call-log fields, not yet redacted
        self._updates: dict[str, tuple[ConnectionUpdate, int]] = {}  # merged update, how many it holds
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._deadline: float | None = None
        # counters (under _cond)
        self._rows_in = self._rows_done = self._rows_written = self._rows_dropped = 0
        self._updates_in = self._updates_done = self._updates_written = self._updates_dropped = 0
        self._retries = 0
        self._last_error: str | None = None
        self._last_error_exc: StorageError | None = None
        self._failing = False

    # -- the request path (never touches the database) -------------------------------------
    def submit(self, **fields: Any) -> None:
        """Queue one call-log row (the fields of :func:`~unified_sdk._logs.build_row`)."""
        with self._cond:
            if self._rows_in - self._rows_done >= self.max_pending:
                self._rows_dropped += 1
                dropped = self._rows_dropped
                self._rows_in += 1
                self._rows_done += 1
            else:
                dropped = 0
                self._rows_in += 1
                self._incoming.append(fields)
                self._cond.notify_all()
        if dropped:
            if dropped == 1 or dropped % 1000 == 0:
                logger.warning(
                    "call-log backlog full (%d rows waiting for the database): %d rows dropped so far",
                    self.max_pending,
                    dropped,
                )
        else:
            self._ensure_thread()

    def update(self, connection_id: str, update: ConnectionUpdate) -> None:
        """Queue a connection's health or budget; merged with any not yet written."""
        with self._cond:
            self._updates_in += 1
            previous = self._updates.get(connection_id)
            if previous is None:
                self._updates[connection_id] = (update, 1)
            else:
                self._updates[connection_id] = (previous[0].merge(update), previous[1] + 1)
            self._cond.notify_all()
        self._ensure_thread()

    def stats(self) -> BookkeepingStats:
        with self._cond:
            return BookkeepingStats(
                call_logs_written=self._rows_written,
                call_logs_pending=self._rows_in - self._rows_done,
                call_logs_dropped=self._rows_dropped,
                updates_written=self._updates_written,
                updates_pending=self._updates_in - self._updates_done,
                updates_dropped=self._updates_dropped,
                write_retries=self._retries,
                last_error=self._last_error,
            )

    # -- waiting -------------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Return once everything submitted before this call is written (or dropped).

        Raises :class:`StorageError` (the writer's last error, e.g. ``database is
        locked``) if that takes longer than ``timeout`` (default :attr:`flush_timeout`).
        """
        limit = self.flush_timeout if timeout is None else timeout
        with self._cond:
            rows, updates = self._rows_in, self._updates_in
            if self._rows_done >= rows and self._updates_done >= updates:
                return
        self._ensure_thread()
        self._wake.set()
        deadline = time.monotonic() + limit
        with self._cond:
            while self._rows_done < rows or self._updates_done < updates:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._pending_error()
                self._cond.wait(remaining)

    def _pending_error(self) -> StorageError:
        pending = (self._rows_in - self._rows_done) + (self._updates_in - self._updates_done)
        error = self._last_error_exc
        details: dict[str, Any] = {"pending": pending, "cause": "pending"}
        if error is not None:
            details = {**error.details, "pending": pending}
        reason = error.message if error is not None else "the background writer is behind"
        return StorageError(
            f"{pending} call-log rows and connection updates are not written yet: {reason}",
            hint=(error.hint if error is not None else None) or "retry shortly",
            retryable=True,
            details=details,
        )

    # -- the writer thread -----------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._deadline = None
            self._thread = threading.Thread(target=self._run, name="unified-sdk-bookkeeping", daemon=True)
            self._thread.start()

    def _idle(self) -> bool:
        return not self._incoming and not self._updates

    def _run(self) -> None:
        backlog: deque[dict[str, Any]] = deque()  # redacted rows, in order
        carried: dict[str, tuple[ConnectionUpdate, int]] = {}
        delay = 0.0
        while True:
            with self._cond:
                while self._idle() and not backlog and not carried and not self._stopping:
                    self._cond.wait()
                if self._idle() and not backlog and not carried:
                    return  # closing, and nothing left
                linger = not backlog and not self._stopping
            if linger and self._linger:
                time.sleep(self._linger)  # so the rows of a burst of calls share one transaction
            with self._cond:
                raw = list(self._incoming)
                self._incoming.clear()
                fresh, self._updates = self._updates, {}
            # Redact and truncate at once, so a backlog held through a long lock stays small.
            backlog.extend(self._build(raw))
            for cid, (update, count) in fresh.items():
                held = carried.get(cid)
                carried[cid] = (held[0].merge(update), held[1] + count) if held else (update, count)
            rows = [backlog[i] for i in range(min(self._batch, len(backlog)))]
            try:
                self._store.write_bookkeeping(
                    rows, {cid: u for cid, (u, _) in carried.items()}, busy_timeout=self._busy_timeout
                )
            except Exception as exc:
                error = exc if isinstance(exc, StorageError) else _unexpected(exc)
                if self._past_deadline():
                    self._drop_everything(backlog, carried, error)
                    carried = {}
                    continue
                if error.retryable:
                    delay = min(max(delay * 2, RETRY_BACKOFF[0]), RETRY_BACKOFF[1])
                    self._note_failure(error)
                    with self._cond:
                        self._retries += 1
                        self._cond.notify_all()
                    # New rows do not cut the backoff short; a flush or close does.
                    self._wake.wait(min(delay, self._time_left()))
                    self._wake.clear()
                    continue
                # Refused for good (a row the database will not take, a read-only file): drop this batch.
                self._drop(len(rows), carried, error)
                for _ in rows:
                    backlog.popleft()
                carried = {}
            else:
                for _ in rows:
                    backlog.popleft()
                with self._cond:
                    self._rows_written += len(rows)
                    self._rows_done += len(rows)
                    self._updates_written += len(carried)
                    self._updates_done += sum(n for _, n in carried.values())
                    self._cond.notify_all()
                carried = {}
                delay = 0.0
                if self._failing:
                    self._failing = False
                    stats = self.stats()
                    logger.warning(
                        "bookkeeping writes resumed (%d retries, %d rows dropped so far)",
                        stats.write_retries,
                        stats.call_logs_dropped,
                    )

    def _build(self, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
        built = []
        for fields in raw:
            try:
                built.append(build_row(**fields))
            except Exception:
                logger.exception("could not build a call-log row; it is dropped")
                with self._cond:
                    self._rows_dropped += 1
                    self._rows_done += 1
                    self._cond.notify_all()
        return built

    def _note_failure(self, exc: StorageError) -> None:
        with self._cond:
            self._last_error = exc.message
            self._last_error_exc = exc
        if not self._failing:
            self._failing = True
            logger.warning("bookkeeping write failed, retrying in the background (nothing is lost yet): %s", exc)

    def _drop(self, rows: int, carried: dict[str, tuple[ConnectionUpdate, int]], error: StorageError) -> None:
        with self._cond:
            self._last_error = error.message
            self._last_error_exc = error
            self._rows_dropped += rows
            self._rows_done += rows
            self._updates_dropped += len(carried)
            self._updates_done += sum(n for _, n in carried.values())
            self._cond.notify_all()
        logger.warning("dropped %d call-log rows and %d connection updates: %s", rows, len(carried), error)

    def _drop_everything(
        self, backlog: deque[dict[str, Any]], carried: dict[str, tuple[ConnectionUpdate, int]], error: StorageError
    ) -> None:
        # Closing ran out of time: what is still here (and still arriving) is lost, and said so.
        with self._cond:
            rows = len(backlog) + len(self._incoming)
            self._incoming.clear()
            for cid, (update, count) in self._updates.items():
                held = carried.get(cid)
                carried[cid] = (held[0].merge(update), held[1] + count) if held else (update, count)
            self._updates = {}
        backlog.clear()
        self._drop(rows, carried, error)

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _time_left(self) -> float:
        return max(self._deadline - time.monotonic(), 0.0) if self._deadline is not None else float("inf")

    # -- closing ------------------------------------------------------------------------------
    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Write everything pending (waiting at most ``timeout``), then stop the thread.

        What cannot be written in time is dropped, counted and logged.
        """
        thread = self._thread
        if thread is None or not thread.is_alive():
            with self._cond:
                if self._idle():
                    return
            self._ensure_thread()  # e.g. rows submitted after an earlier close
            thread = self._thread
            assert thread is not None
        with self._cond:
            self._stopping = True
            self._deadline = time.monotonic() + timeout
            self._cond.notify_all()
        self._wake.set()
        thread.join(timeout + 1.0)


def _unexpected(exc: Exception) -> StorageError:
    return StorageError(f"could not write call logs: {type(exc).__name__}: {exc}", details={"cause": "database"})
