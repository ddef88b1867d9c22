"""Checks every provider plugin must pass against its local fake (the start of the conformance kit).

Each check drives the public client surface against a running fake and fails
with a message that says what to fix in the plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from unified_sdk.errors import NotSupportedError, ValidationError

if TYPE_CHECKING:
    from unified_sdk._client import Client

__all__ = ["HOSTILE_IDS", "CountingFake", "check_hostile_ids_refused"]

HOSTILE_IDS: tuple[str, ...] = (
    "../contacts/1",
    "..",
    ".",
    "a/b",
    "%2e%2e",
    "%2F",
    "1?x=1",
    "1#x",
    "a\\b",
    "\x00",
    "1\r\nX-Injected: 1",
    "",
    " 1",
    "x" * 10_000,
)
"""Record ids that must never reach a provider: each would address another object or another URL."""

CRM_RESOURCES = ("deals", "contacts", "companies", "pipelines", "users")


class CountingFake(Protocol):
    """A local fake that records the HTTP requests it received (every :class:`LocalServer` does)."""

    @property
    def received_requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request that reached the fake."""


def check_hostile_ids_refused(client: Client, connection_id: str, fake: CountingFake) -> int:
    """Every operation taking an id refuses :data:`HOSTILE_IDS` with ``ValidationError``, sending nothing.

    Runs ``get``, ``update`` and ``delete`` of every CRM resource on the
    connection (operations the plugin does not offer must raise
    ``NotSupportedError``, also without sending). Returns how many
    (operation, id) pairs were refused as invalid.
    """
    refused = 0
    for name in CRM_RESOURCES:
        resource: Any = getattr(client.crm, name)
        for operation in ("get", "update", "delete"):
            method: Callable[..., object] = getattr(resource, operation)
            for hostile in HOSTILE_IDS:
                before = len(fake.received_requests)
                try:
                    method(connection_id=connection_id, id=hostile, **({"data": {}} if operation == "update" else {}))
                except ValidationError as exc:
                    assert exc.details.get("fields") == ["id"], (
                        f"crm.{name}.{operation}(id={hostile[:20]!r}) raised ValidationError without naming "
                        f"the field id: {exc.details!r}"
                    )
                    refused += 1
                except NotSupportedError:
                    pass
                else:
                    raise AssertionError(
                        f"crm.{name}.{operation}(id={hostile[:20]!r}) did not raise ValidationError: "
                        "record ids must be checked before anything is built or sent"
                    )
                sent = fake.received_requests[before:]
                assert not sent, (
                    f"crm.{name}.{operation}(id={hostile[:20]!r}) sent {sent!r}; nothing may be sent for a bad id"
                )
    return refused
