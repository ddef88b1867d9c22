"""The per-item results of a batch write (``create_many`` / ``update_many``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from unified_sdk.errors import UnifiedError

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class BatchItem(Generic[M]):
    """What became of one input of a batch write: its record, or its error."""

    index: int
    """The input's position in the ``data`` given to ``create_many`` / ``update_many``."""
    record: M | None = None
    """The created or updated record (``None`` when the item failed)."""
    error: UnifiedError | None = None
    """Why the item failed: a :class:`~unified_sdk.errors.ValidationError` for bad input (nothing
    was sent for it), or the provider's error for this item or for the request that carried it."""

    @property
    def ok(self) -> bool:
        """Whether the item was written."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class BatchResult(Generic[M]):
    """The result of a batch write: one :class:`BatchItem` per input, in input order.

    A bad item never stops the others: check :attr:`failed`. Example::

        result = client.crm.contacts.create_many(connection_id=cid, data=rows)
        for item in result.failed:
            print(item.index, item.error)
    """

    items: list[BatchItem[M]]

    @property
    def succeeded(self) -> list[BatchItem[M]]:
        """The items written, in input order."""
        return [item for item in self.items if item.ok]

    @property
    def failed(self) -> list[BatchItem[M]]:
        """The items not written, in input order."""
        return [item for item in self.items if not item.ok]

    @property
    def records(self) -> list[M]:
        """The records written, in input order."""
        return [item.record for item in self.items if item.record is not None]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[BatchItem[M]]:
        return iter(self.items)
