"""The retry budget: the token bucket's arithmetic, and a 503 storm against the sandbox."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from unified_sdk import Client
from unified_sdk._retry_budget import RetryBudget, RetryBudgets
from unified_sdk.errors import ProviderError

pytest.importorskip("unified_sdk_sandbox.fake")
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk.testing import set_jitter


class TestBucket:
    def test_retries_spend_until_the_bucket_cannot_pay(self) -> None:
        budgets = RetryBudgets(RetryBudget(capacity=30, retry_cost=10, timeout_retry_cost=20))
        assert budgets.acquire("p") == 10
        assert budgets.acquire("p", timeout=True) == 20
        assert budgets.acquire("p") == 0  # 0 left
        assert budgets.available("other") == 30  # one bucket per provider

    def test_successes_refill_and_a_retried_success_gives_back_its_cost(self) -> None:
        budgets = RetryBudgets(RetryBudget(capacity=30, retry_cost=10, success_refill=1))
        cost = budgets.acquire("p")
        budgets.succeeded("p", cost)
        assert budgets.available("p") == 30
        budgets.acquire("p")
        budgets.succeeded("p")
        assert budgets.available("p") == 21
        for _ in range(50):
            budgets.succeeded("p")
        assert budgets.available("p") == 30  # never above capacity

    def test_threads_never_overspend(self) -> None:
        budgets = RetryBudgets(RetryBudget(capacity=1000, retry_cost=10))
        paid: list[int] = []

        def spend() -> None:
            for _ in range(50):
                paid.append(budgets.acquire("p"))

        threads = [threading.Thread(target=spend) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(paid) == 1000 and budgets.available("p") == 0


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    c = Client(database_url=db_url, timeout=10.0)
    set_jitter(c, lambda: 0.0)
    yield c
    c.close()


def test_a_503_storm_adds_at_most_ten_percent_attempts(client: Client) -> None:
    with SandboxServer(deals=5, contacts=0, companies=0) as server:
        conn = client.connections.create(
            provider="sandbox", credentials={"api_key": server.api_key}, config=server.config
        )
        server.inject(status=503, times=100_000, path="/v1/deals")
        errors: list[ProviderError] = []
        for _ in range(200):
            with pytest.raises(ProviderError) as info:
                client.crm.deals.list(connection_id=conn.id, limit=1)
            errors.append(info.value)
        attempts = server.count("GET", "/v1/deals")
    assert attempts <= 220  # the unbudgeted client made 600 (3 per call)
    last = errors[-1]
    assert last.status == 503 and last.retryable
    assert last.details["retry_budget_exhausted"] is True
    assert "retry budget" in (last.hint or "") and "exhausted" in (last.hint or "")
    (log,) = client.logs.list(connection_id=conn.id, limit=1)
    assert (log.id, log.attempt, log.action) == (last.log_id, 1, "fail")
