"""unified-sdk: one in-process Python SDK for many SaaS APIs (CRMs first).

Example::

    from unified_sdk import Client

    client = Client()
    conn = client.connections.create(provider="sandbox", credentials={"api_key": "..."})
    for deal in client.crm.deals.list(connection_id=conn.id):
        print(deal.name, deal.amount)

Names are imported on first use, so ``import unified_sdk`` stays cheap and
loads no provider plugin.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from unified_sdk._actions import ActionRule, ResponseAction
    from unified_sdk._batch import BatchItem, BatchResult
    from unified_sdk._bookkeeping import BookkeepingStats
    from unified_sdk._client import AsyncClient, Client
    from unified_sdk._connections import Connection
    from unified_sdk._events import Event, verify_webhook
    from unified_sdk._health import Health
    from unified_sdk._keys import KeyRotation
    from unified_sdk._logs import CallLog
    from unified_sdk._outcome import Category, HealthSignal, Outcome
    from unified_sdk._pagination import AsyncPage, Page
    from unified_sdk._providers_api import ProviderInfo
    from unified_sdk.errors import UnifiedError

_EXPORTS: dict[str, str] = {
    "ActionRule": "unified_sdk._actions",
    "AsyncClient": "unified_sdk._client",
    "AsyncPage": "unified_sdk._pagination",
    "BatchItem": "unified_sdk._batch",
    "BatchResult": "unified_sdk._batch",
    "BookkeepingStats": "unified_sdk._bookkeeping",
    "CallLog": "unified_sdk._logs",
    "Category": "unified_sdk._outcome",
    "Client": "unified_sdk._client",
    "Connection": "unified_sdk._connections",
    "Event": "unified_sdk._events",
    "Health": "unified_sdk._health",
    "HealthSignal": "unified_sdk._outcome",
    "KeyRotation": "unified_sdk._keys",
    "Outcome": "unified_sdk._outcome",
    "Page": "unified_sdk._pagination",
    "ProviderInfo": "unified_sdk._providers_api",
    "ResponseAction": "unified_sdk._actions",
    "UnifiedError": "unified_sdk.errors",
    "verify_webhook": "unified_sdk._events",
}

__all__ = [
    "ActionRule",
    "AsyncClient",
    "AsyncPage",
    "BatchItem",
    "BatchResult",
    "BookkeepingStats",
    "CallLog",
    "Category",
    "Client",
    "Connection",
    "Event",
    "Health",
    "HealthSignal",
    "KeyRotation",
    "Outcome",
    "Page",
    "ProviderInfo",
    "ResponseAction",
    "UnifiedError",
    "__version__",
    "verify_webhook",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'unified_sdk' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
