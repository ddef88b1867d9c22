"""Response actions: what the pipeline does with each outcome, as data.

The default table is keyed by category (and optionally by HTTP status).
Plugins add provider defaults, keyed by ``"code:<provider code>"``, status
(``"429"``) or category; users override per provider, per connection and per
operation. The most specific rule wins; at equal specificity a provider-code
rule beats a status rule, which beats a category rule.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from unified_sdk._outcome import Category, Outcome


class ResponseAction(StrEnum):
    """What to do with a response."""

    FAIL = "fail"
    """Raise the unified error."""
    RETRY = "retry"
    """Back off (exponential, full jitter) and retry, if the request is safe to repeat."""
    WAIT_AND_RETRY = "wait_and_retry"
    """Wait for Retry-After or the rate-limit reset (bounded by ``max_wait``), then retry."""
    REFRESH_AND_RETRY = "refresh_and_retry"
    """Refresh the credentials once and retry once; fail when they cannot be refreshed."""
    SUCCEED = "succeed"
    """Treat the response as a success (e.g. 404 on a delete)."""


@dataclass(frozen=True, slots=True)
class ActionRule:
    """One row of the action table."""

    action: ResponseAction
    max_retries: int = 0
    max_wait: float = 60.0
    """WAIT_AND_RETRY: fail at once when the provider asks for a longer wait than this."""
    retry_non_idempotent: bool = False
    """Allow re-sending a POST/PATCH the provider may have processed (only with idempotency keys)."""


#: The defaults of DESIGN.md's error table.
DEFAULT_ACTIONS: Mapping[str, ActionRule] = {
    Category.AUTHENTICATION: ActionRule(ResponseAction.REFRESH_AND_RETRY, max_retries=1),
    Category.PERMISSION: ActionRule(ResponseAction.FAIL),
    Category.NOT_FOUND: ActionRule(ResponseAction.FAIL),
    Category.VALIDATION: ActionRule(ResponseAction.FAIL),
    Category.CONFLICT: ActionRule(ResponseAction.FAIL),
    Category.REQUEST_FAILED: ActionRule(ResponseAction.FAIL),
    Category.METHOD_NOT_ALLOWED: ActionRule(ResponseAction.FAIL),
    Category.RATE_LIMITED: ActionRule(ResponseAction.WAIT_AND_RETRY, max_retries=4, max_wait=60.0),
    Category.PROVIDER_ERROR: ActionRule(ResponseAction.RETRY, max_retries=2),
    Category.TIMEOUT: ActionRule(ResponseAction.RETRY, max_retries=2),
    Category.NOT_IMPLEMENTED: ActionRule(ResponseAction.FAIL),
    Category.NETWORK: ActionRule(ResponseAction.RETRY, max_retries=2),
}


@dataclass(frozen=True, slots=True)
class Override:
    """A user's rule, scoped to any of provider, connection and operation."""

    rule: ActionRule
    status: int | None = None
    category: Category | None = None
    provider_code: str | None = None
    provider: str | None = None
    connection_id: str | None = None
    operation: str | None = None

    @property
    def specificity(self) -> float:
        score = 4 * (self.operation is not None) + 2 * (self.connection_id is not None)
        score += 1 * (self.provider is not None)
        if self.provider_code is not None:
            return score + 0.75
        return score + (0.5 if self.status is not None else 0.0)

    def matches(self, outcome: Outcome, provider: str, connection_id: str | None, operation: str) -> bool:
        if self.status is not None and self.status != outcome.status:
            return False
        if self.category is not None and self.category != outcome.category:
            return False
        if self.provider_code is not None and self.provider_code != outcome.provider_code:
            return False
        if self.provider is not None and self.provider != provider:
            return False
        if self.connection_id is not None and self.connection_id != connection_id:
            return False
        return self.operation is None or self.operation == operation

    def describe(self) -> str:
        scope = [
            f"{k}={v}"
            for k, v in (
                ("provider", self.provider),
                ("connection", self.connection_id),
                ("operation", self.operation),
            )
            if v
        ]
        if self.provider_code is not None:
            what = f"code={self.provider_code}"
        elif self.status is not None:
            what = f"status={self.status}"
        else:
            what = f"category={self.category}"
        return f"override({', '.join([*scope, what])})"


@dataclass(frozen=True, slots=True)
class Decision:
    """The rule chosen for an outcome and why (recorded in the call log)."""

    rule: ActionRule
    reason: str

    @property
    def action(self) -> ResponseAction:
        return self.rule.action


_SUCCESS = Decision(ActionRule(ResponseAction.SUCCEED), "success")


@dataclass
class ActionPolicy:
    """The action table with its overrides; ``client.actions``.

    Example — retry a 401 for one provider, and treat a 404 on one operation
    as success::

        client.actions.set("retry", status=401, provider="sandbox", max_retries=1)
        client.actions.set("succeed", category="not_found", operation="crm.contacts.delete")
    """

    defaults: Mapping[str, ActionRule] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    _overrides: list[Override] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(
        self,
        action: ResponseAction | str,
        *,
        status: int | None = None,
        category: Category | str | None = None,
        provider_code: str | None = None,
        provider: str | None = None,
        connection_id: str | None = None,
        operation: str | None = None,
        max_retries: int | None = None,
        max_wait: float | None = None,
        retry_non_idempotent: bool = False,
    ) -> None:
        """Add an override. Give one of ``status``, ``category`` or ``provider_code``, and any scope."""
        if sum(x is not None for x in (status, category, provider_code)) != 1:
            raise ValueError("give exactly one of status=, category= or provider_code=")
        action = ResponseAction(action)
        retries = (
            max_retries
            if max_retries is not None
            else (0 if action in (ResponseAction.FAIL, ResponseAction.SUCCEED) else 1)
        )
        rule = ActionRule(action, retries, 60.0 if max_wait is None else max_wait, retry_non_idempotent)
        override = Override(
            rule, status, Category(category) if category else None, provider_code, provider, connection_id, operation
        )
        with self._lock:
            self._overrides = [o for o in self._overrides if replace(o, rule=rule) != override] + [override]

    def clear(self) -> None:
        with self._lock:
            self._overrides = []

    def decide(
        self,
        outcome: Outcome,
        *,
        provider: str,
        connection_id: str | None,
        operation: str,
        provider_defaults: Mapping[str, ActionRule] | None = None,
    ) -> Decision:
        """The rule for ``outcome``, most specific first."""
        overrides = self._overrides
        if overrides:
            best: Override | None = None
            for o in overrides:
                if o.matches(outcome, provider, connection_id, operation) and (
                    best is None or o.specificity >= best.specificity
                ):
                    best = o
            if best is not None:
                return Decision(best.rule, best.describe())
        if outcome.category is None:
            return _SUCCESS
        status_key = str(outcome.status) if outcome.status is not None else None
        if provider_defaults:
            code_key = f"code:{outcome.provider_code}" if outcome.provider_code else None
            if code_key is not None and code_key in provider_defaults:
                return Decision(provider_defaults[code_key], f"provider({provider}, {code_key})")
            if status_key is not None and status_key in provider_defaults:
                return Decision(provider_defaults[status_key], f"provider({provider}, status={status_key})")
            if outcome.category in provider_defaults:
                return Decision(
                    provider_defaults[outcome.category], f"provider({provider}, category={outcome.category})"
                )
        if status_key is not None and status_key in self.defaults:
            return Decision(self.defaults[status_key], f"default(status={status_key})")
        return Decision(self.defaults[outcome.category], f"default(category={outcome.category})")
