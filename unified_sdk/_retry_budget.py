"""The retry budget: a token bucket per provider that caps retries while a provider keeps failing.

Adapted from botocore's standard retry mode (``botocore/retries/standard.py``,
``RetryQuotaChecker``): a retry costs tokens, a timeout retry costs more; a call
that succeeds at once puts one token back, and a call whose retry succeeded gives
back what that retry cost. When the bucket cannot pay for a retry, the call fails
at once instead of adding load to a provider that is already failing.

The numbers differ from botocore's (capacity 500, cost 5, refill 1). With those, a
storm of 200 failing calls may spend 100 retries: 50 % extra attempts. Our target
is at most 10 % extra attempts in a storm, so:

- a retry costs 10 tokens and a success refills 1, so while calls keep failing
  and succeeding in turn, retries can be paid for by at most 1 call in 10;
- the bucket holds 200 tokens (20 retries), so a storm that starts with a full
  bucket adds at most 20 attempts: 10 % of 200 calls, less for a longer storm;
- a timeout retry costs 20: a provider that hangs costs the caller the most time.

Rate-limit waits (``wait_and_retry``) are not charged: the provider paces those
itself with Retry-After or its reset time, and the throttle already honours it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

#: Tokens in a full bucket.
DEFAULT_CAPACITY = 200
#: Tokens one retry costs.
DEFAULT_RETRY_COST = 10
#: Tokens one retry after a timeout costs.
DEFAULT_TIMEOUT_RETRY_COST = 20
#: Tokens a call that succeeded without a retry puts back.
DEFAULT_SUCCESS_REFILL = 1


@dataclass(frozen=True, slots=True)
class RetryBudget:
    """The sizes of each provider's bucket."""

    capacity: int = DEFAULT_CAPACITY
    retry_cost: int = DEFAULT_RETRY_COST
    timeout_retry_cost: int = DEFAULT_TIMEOUT_RETRY_COST
    success_refill: int = DEFAULT_SUCCESS_REFILL


class RetryBudgets:
    """One token bucket per provider, shared by every thread and task of one client."""

    def __init__(self, budget: RetryBudget | None = None) -> None:
        self.budget = budget or RetryBudget()
        self._tokens: dict[str, int] = {}
        self._lock = threading.Lock()

    def available(self, provider: str) -> int:
        """Tokens left in ``provider``'s bucket."""
        with self._lock:
            return self._tokens.get(provider, self.budget.capacity)

    def acquire(self, provider: str, *, timeout: bool = False) -> int:
        """Pay for one retry: the tokens taken, or 0 when the bucket cannot pay (do not retry)."""
        cost = self.budget.timeout_retry_cost if timeout else self.budget.retry_cost
        with self._lock:
            tokens = self._tokens.get(provider, self.budget.capacity)
            if tokens < cost:
                return 0
            self._tokens[provider] = tokens - cost
            return cost

    def succeeded(self, provider: str, retry_cost: int = 0) -> None:
        """A call succeeded; ``retry_cost`` is what its last retry cost (0: it needed none)."""
        refill = retry_cost or self.budget.success_refill
        with self._lock:
            tokens = self._tokens.get(provider, self.budget.capacity)
            self._tokens[provider] = min(tokens + refill, self.budget.capacity)
