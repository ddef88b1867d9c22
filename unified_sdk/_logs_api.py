"""``client.logs``: search and read the call logs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from unified_sdk._drivers import AsyncRunner, blocking
from unified_sdk._logs import CallLog

if TYPE_CHECKING:
    from unified_sdk._runtime import Runtime


class Logs:
    """``client.logs``: the call logs, newest first."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def list(
        self,
        *,
        connection_id: str | None = None,
        status_min: int | None = None,
        status_max: int | None = None,
        category: str | None = None,
        since: datetime | float | None = None,
        limit: int = 100,
    ) -> list[CallLog]:
        """Call-log rows matching the filters; every call made before this one is included."""
        self._runtime.logs.flush()
        since_ts = since.timestamp() if isinstance(since, datetime) else since
        rows = self._runtime.store.list_call_logs(
            connection_id=connection_id,
            status_min=status_min,
            status_max=status_max,
            category=category,
            since=since_ts,
            limit=limit,
        )
        return [CallLog.from_row(r) for r in rows]

    def get(self, log_id: str) -> CallLog | None:
        """One call-log row by id, or ``None``; every call made before this one is included."""
        self._runtime.logs.flush()
        row = self._runtime.store.get_call_log(log_id)
        return CallLog.from_row(row) if row else None


class AsyncLogs:
    """``client.logs`` of :class:`~unified_sdk.AsyncClient`: the flush and the read run in a worker thread.

    Example::

        logs = await client.logs.list(connection_id=conn.id, status_min=400)
    """

    def __init__(self, runtime: Runtime, run: AsyncRunner) -> None:
        self._sync = Logs(runtime)
        self._run = run

    async def list(
        self,
        *,
        connection_id: str | None = None,
        status_min: int | None = None,
        status_max: int | None = None,
        category: str | None = None,
        since: datetime | float | None = None,
        limit: int = 100,
    ) -> list[CallLog]:
        """See :meth:`Logs.list`."""
        return await self._run(
            blocking(
                lambda: self._sync.list(
                    connection_id=connection_id,
                    status_min=status_min,
                    status_max=status_max,
                    category=category,
                    since=since,
                    limit=limit,
                )
            )
        )

    async def get(self, log_id: str) -> CallLog | None:
        """See :meth:`Logs.get`."""
        return await self._run(blocking(lambda: self._sync.get(log_id)))
