"""The exact-paging property every provider's listing must have, checked against its local fake.

A listing walked page by page (``next_cursor`` after ``next_cursor``) yields
every record exactly once, in a stable order, whatever the page size; records
added while the walk runs never make an existing record disappear or repeat.
Provider tests call :func:`check_exact_paging` from a hypothesis test that
generates the totals and page sizes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from unified_sdk._client import Client

__all__ = ["PagingFake", "PagingReport", "check_exact_paging"]


class PagingFake(Protocol):
    """A local fake whose CRM records a test can clear and seed (every built-in fake is one)."""

    def clear(self) -> None:
        """Remove every deal, contact and company."""

    def seed(self, *, deals: int = ..., contacts: int = ..., companies: int = ...) -> Any:
        """Create that many records (on a cleared fake)."""


@dataclass(frozen=True, slots=True)
class PagingReport:
    """What one :func:`check_exact_paging` run saw."""

    ids: list[str]
    """The record ids of the first walk, in listing order."""
    pages: int
    """How many pages the first walk fetched."""
    added: list[str]
    """Ids of records added during the second walk that it returned (it may return them or not)."""


def check_exact_paging(
    client: Client,
    connection_id: str,
    fake: PagingFake,
    *,
    resource: str = "deals",
    total: int,
    limit: int,
    add_during_walk: int = 0,
    add: Callable[[int], object] | None = None,
) -> PagingReport:
    """Seed ``total`` records of ``resource`` and check that listing them with ``limit`` is exact.

    The fake is cleared and seeded with ``total`` records, then the listing
    (``client.crm.<resource>.list(limit=limit)``) is walked twice, page by
    page through ``next_cursor``:

    1. the first walk returns exactly ``total`` distinct records in pages of
       at most ``limit`` (``ceil(total / limit)`` pages, one more at most, and
       the last page has no ``next_cursor``);
    2. the second walk returns every one of them exactly once again, in the
       same order, with nothing repeated, while ``add_during_walk`` records
       are added after its first page (``add(n)``; default
       ``fake.seed(<resource>=n)``, which must add to what is there).

    Raises ``AssertionError`` naming what broke. Example::

        @settings(max_examples=20, deadline=None)
        @given(total=st.integers(0, 1500), limit=st.integers(1, 100))
        def test_exact_paging(total: int, limit: int) -> None:
            check_exact_paging(client, conn.id, fake, total=total, limit=limit, add_during_walk=3)
    """
    if total < 0 or limit < 1 or add_during_walk < 0:
        raise ValueError("total and add_during_walk must be >= 0 and limit >= 1")
    adder: Callable[[int], object] = add if add is not None else (lambda n: fake.seed(**{resource: n}))
    fake.clear()
    if total:
        fake.seed(**{resource: total})
    listing: Any = getattr(client.crm, resource)
    where = f"crm.{resource}.list(limit={limit}) over {total} records"
    most_pages = math.ceil(total / limit) + 1

    def walk(after_first_page: Callable[[], object] | None) -> tuple[list[str], int]:
        ids: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = listing.list(connection_id=connection_id, limit=limit, cursor=cursor)
            pages += 1
            assert len(page.data) <= limit, f"{where}: page {pages} holds {len(page.data)} records"
            ids += [str(item.id) for item in page.data]
            if page.next_cursor is None:
                return ids, pages
            assert page.next_cursor != cursor, f"{where}: page {pages} repeats its own cursor"
            assert pages < most_pages + add_during_walk, (
                f"{where}: still offering a next page after {pages} pages (at most {most_pages} expected)"
            )
            if pages == 1 and after_first_page is not None:
                after_first_page()
            cursor = page.next_cursor

    first, pages = walk(None)
    repeated = sorted(i for i, n in Counter(first).items() if n > 1)
    assert not repeated, f"{where}: records returned more than once: {repeated[:10]}"
    assert len(first) == total, f"{where}: {len(first)} records returned, {total} expected"
    assert pages <= most_pages, f"{where}: {pages} pages for {total} records (at most {most_pages} expected)"

    second, _ = walk((lambda: adder(add_during_walk)) if add_during_walk else None)
    counts = Counter(second)
    repeated = sorted(i for i, n in counts.items() if n > 1)
    assert not repeated, f"{where}, {add_during_walk} added during the walk: records repeated: {repeated[:10]}"
    known = set(first)
    missing = [i for i in first if i not in counts]
    assert not missing, f"{where}, {add_during_walk} added during the walk: records lost: {missing[:10]}"
    assert [i for i in second if i in known] == first, f"{where}: the order changed between two walks"
    added = [i for i in second if i not in known]
    assert len(added) <= add_during_walk, f"{where}: {len(added)} unknown records returned, {add_during_walk} added"
    return PagingReport(first, pages, added)


def paging_cases(max_limit: int, *, max_total: int = 1500, max_pages: int = 25) -> Any:
    """A hypothesis strategy of ``(total, limit, added)`` for :func:`check_exact_paging`.

    ``limit`` runs from 1 to the provider's ``max_limit``; ``total`` up to ``max_total`` but at most
    ``max_pages`` pages (a walk stays fast); ``added`` records during the walk: none, one, a page,
    or two pages and one. Needs hypothesis (a test dependency)::

        @given(case=paging_cases(100))
        def test_paging(case): total, limit, added = case; ...
    """
    from hypothesis import strategies as st

    @st.composite
    def cases(draw: st.DrawFn) -> tuple[int, int, int]:
        limit = draw(st.integers(1, max_limit))
        total = draw(st.integers(0, min(max_total, max_pages * limit)))
        added = draw(st.sampled_from((0, 1, limit, 2 * limit + 1)))
        return total, limit, added

    return cases()
