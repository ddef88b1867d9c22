"""The exact-paging check itself: it passes a correct listing and names what a broken one does wrong."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.toy.server import ToyServer
from unified_sdk import Client
from unified_sdk.testing import check_exact_paging


class ToyRecords:
    """The toy server's items as a :class:`PagingFake` (its listing pages by offset)."""

    def __init__(self, server: ToyServer) -> None:
        self.server = server
        self._keys = itertools.count(1000)

    def _new(self, n: int) -> list[dict[str, object]]:
        return [{"key": k, "label": f"item {k}"} for k in itertools.islice(self._keys, n)]

    def clear(self) -> None:
        self.server.items.clear()

    def seed(self, *, deals: int = 0, contacts: int = 0, companies: int = 0) -> None:
        self.server.items.extend(self._new(deals))

    def prepend(self, n: int) -> None:
        self.server.items[:0] = self._new(n)


@pytest.fixture
def toy(toy_server: ToyServer, toy_client: Client) -> Iterator[tuple[Client, ToyRecords, str]]:
    conn = toy_client.connections.create(
        provider="toy", credentials={"api_key": "k"}, config={"base_url": toy_server.url}
    )
    yield toy_client, ToyRecords(toy_server), conn.id


def test_a_correct_listing_passes(toy: tuple[Client, ToyRecords, str]) -> None:
    client, fake, cid = toy
    report = check_exact_paging(client, cid, fake, total=23, limit=5, add_during_walk=4)
    assert len(report.ids) == 23 and report.pages == 5
    assert len(report.added) == 4  # appended records come after the walk's position
    empty = check_exact_paging(client, cid, fake, total=0, limit=1)
    assert empty.ids == [] and empty.pages == 1


def test_offset_paging_under_inserts_is_caught(toy: tuple[Client, ToyRecords, str]) -> None:
    client, fake, cid = toy
    with pytest.raises(AssertionError, match="records repeated"):
        check_exact_paging(client, cid, fake, total=20, limit=5, add_during_walk=3, add=fake.prepend)


def test_bad_arguments_are_refused(toy: tuple[Client, ToyRecords, str]) -> None:
    client, fake, cid = toy
    with pytest.raises(ValueError):
        check_exact_paging(client, cid, fake, total=-1, limit=5)
