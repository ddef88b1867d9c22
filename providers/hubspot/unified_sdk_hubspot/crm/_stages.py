"""Deal stage labels: the deal pipelines fetched once and cached per connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from unified_sdk.errors import NotFoundError, PermissionDeniedError
from unified_sdk.provider import OperationContext, OperationFlow, ProviderRequest

PIPELINES_PATH = "/crm/v3/pipelines/deals"


@dataclass(frozen=True, slots=True)
class StageInfo:
    label: str
    pipeline_id: str
    pipeline_label: str
    closed: bool


@dataclass(frozen=True, slots=True)
class Stages:
    """Stage id -> its label and pipeline; pipeline id -> label."""

    stages: Mapping[str, StageInfo]
    pipelines: Mapping[str, str]
    fetched_at: float

    @classmethod
    def from_pipelines(cls, pipelines: Iterable[Mapping[str, Any]]) -> Stages:
        stages: dict[str, StageInfo] = {}
        labels: dict[str, str] = {}
        for p in pipelines:
            pid = str(p.get("id"))
            plabel = str(p.get("label") or pid)
            labels[pid] = plabel
            for s in p.get("stages") or ():
                closed = str((s.get("metadata") or {}).get("isClosed", "false")).lower() == "true"
                stages[str(s.get("id"))] = StageInfo(str(s.get("label") or s.get("id")), pid, plabel, closed)
        return cls(stages, labels, time.monotonic())


EMPTY = Stages({}, {}, 0.0)


class StageCache:
    """Pipelines per connection, refetched when older than ``ttl`` or when a deal names an unknown
    stage (a stage added since), at most once per ``min_refetch`` seconds."""

    def __init__(self, ttl: float = 300.0, min_refetch: float = 30.0) -> None:
        self.ttl = ttl
        self.min_refetch = min_refetch
        self._by_connection: dict[tuple[str, str], Stages] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._by_connection.clear()

    def stages(self, ctx: OperationContext, wanted: Iterable[str | None] = ()) -> OperationFlow[Stages]:
        """The stage map for ``ctx``'s connection, fetching the pipelines only when needed."""
        key = (ctx.connection_id, str(ctx.config.get("base_url") or ""))
        with self._lock:
            cached = self._by_connection.get(key)
        now = time.monotonic()
        if cached is not None:
            age = now - cached.fetched_at
            unknown = any(s and s not in cached.stages for s in wanted)
            if age < self.ttl and not (unknown and age >= self.min_refetch):
                return cached
        try:
            response = yield ProviderRequest("GET", PIPELINES_PATH)
        except (PermissionDeniedError, NotFoundError):
            # Without pipeline access deals still list; only their stage labels stay empty.
            fresh = Stages({}, {}, now)
        else:
            fresh = Stages.from_pipelines((response.json() or {}).get("results") or [])
        with self._lock:
            self._by_connection[key] = fresh
        return fresh
