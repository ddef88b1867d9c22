"""A minimal stand-in for the core's call pipeline, to drive the plugin's sans-I/O operations over
real HTTP against the fake while the core client is being written. It sends, classifies, raises
the unified error inside the operation, waits on rate limits and refreshes nothing."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
from unified_sdk.errors import error_class_for
from unified_sdk.provider import (
    AuthType,
    Credentials,
    OperationContext,
    Provider,
    ProviderRequest,
    ProviderResponse,
)

T = TypeVar("T")


@dataclass
class Driver:
    provider: Provider
    config: dict[str, Any]
    credentials: Credentials
    http: httpx2.Client = field(default_factory=lambda: httpx2.Client(timeout=30))
    throttle: bool = True
    retry_rate_limited: bool = True
    sent: int = 0
    statuses: list[int] = field(default_factory=list)
    _wait_until: float = 0.0

    @classmethod
    def for_api_key(cls, provider: Provider, config: dict[str, Any], api_key: str, **kw: Any) -> Driver:
        return cls(provider, config, Credentials(AuthType.API_KEY, api_key=api_key), **kw)

    def ctx(self, operation: str) -> OperationContext:
        return OperationContext("conn-test", self.provider.name, self.config, operation)

    def send(self, request: ProviderRequest) -> ProviderResponse:
        base = self.provider.resolve_base_url(self.config)
        url = request.path if request.path.startswith("http") else base + request.path
        headers = dict(self.provider.auth_headers(self.credentials))
        headers.update(request.headers or {})
        for _attempt in range(6):
            if self.throttle and self._wait_until > time.monotonic():
                time.sleep(self._wait_until - time.monotonic())
            r = self.http.request(request.method, url, params=request.params, json=request.json,
                                  data=request.data, headers=headers)
            self.sent += 1
            self.statuses.append(r.status_code)
            response = ProviderResponse(r.status_code, r.headers, r.content, request)
            limit = self.provider.parse_rate_limit(r.headers)
            if limit is not None and limit.remaining is not None and limit.remaining <= 0:
                self._wait_until = time.monotonic() + (limit.reset_after or 0)
            outcome = self.provider.classify(response)
            if outcome.ok:
                return response
            if outcome.category == "rate_limited" and self.retry_rate_limited and (outcome.retry_after or 0) < 15:
                time.sleep(outcome.retry_after or 0)
                continue
            raise _error(outcome)
        raise AssertionError("too many rate-limited retries")

    def run(self, flow: Generator[ProviderRequest, ProviderResponse, T]) -> T:
        try:
            request = next(flow)
            while True:
                try:
                    response = self.send(request)
                except Exception as exc:  # the unified error goes back into the operation
                    request = flow.throw(exc)
                else:
                    request = flow.send(response)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def _error(outcome: Any) -> Exception:
    cls = error_class_for(outcome.category)
    return cls(
        outcome.provider_message or str(outcome.category),
        status=outcome.status,
        provider="hubspot",
        provider_code=outcome.provider_code,
        provider_message=outcome.provider_message,
        request_id=outcome.request_id,
        hint=outcome.hint,
        details=outcome.details,
    )
