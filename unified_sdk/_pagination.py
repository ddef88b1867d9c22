"""Pages of results: ``data`` is this page; iterating walks every following page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from unified_sdk.errors import ValidationError

T = TypeVar("T")


def check_page_size(limit: object, maximum: int) -> None:
    """Refuse a page ``limit`` that is not a whole number from 1 to ``maximum`` (``None``: the default)."""
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise ValidationError(
            f"limit must be a whole number from 1 to {maximum}, got {limit!r}",
            hint=f"pass limit between 1 and {maximum} (this provider's largest page), or leave it out; "
            "nothing was sent",
            details={"fields": ["limit"], "maximum": maximum},
        )


class Page(Generic[T]):
    """One page of a list. ``for item in page`` fetches the following pages lazily.

    Example::

        page = client.crm.deals.list(connection_id=conn.id, limit=100)
        page.data          # this page's items
        for deal in page:  # every deal, page after page
            ...
    """

    def __init__(self, data: list[T], next_cursor: str | None, fetch: Callable[[str], Page[T]]) -> None:
        self.data = data
        self.next_cursor = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self.next_cursor is not None

    def get_next_page(self) -> Page[T] | None:
        return self._fetch(self.next_cursor) if self.next_cursor is not None else None

    def iter_pages(self) -> Iterator[Page[T]]:
        page: Page[T] | None = self
        while page is not None:
            yield page
            page = page.get_next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.data

    def __repr__(self) -> str:
        return f"Page(items={len(self.data)}, next_cursor={self.next_cursor!r})"


class AsyncPage(Generic[T]):
    """One page of an async list. ``async for item in page`` fetches the following pages lazily."""

    def __init__(self, data: list[T], next_cursor: str | None, fetch: Callable[[str], Awaitable[AsyncPage[T]]]) -> None:
        self.data = data
        self.next_cursor = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self.next_cursor is not None

    async def get_next_page(self) -> AsyncPage[T] | None:
        return await self._fetch(self.next_cursor) if self.next_cursor is not None else None

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        page: AsyncPage[T] | None = self
        while page is not None:
            yield page
            page = await page.get_next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item

    def __repr__(self) -> str:
        return f"AsyncPage(items={len(self.data)}, next_cursor={self.next_cursor!r})"
