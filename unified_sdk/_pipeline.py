"""The call pipeline, written once as sans-I/O generators.

A flow yields *effects* and receives their results: :class:`Send` (an HTTP
request → ``httpx2.Response`` or the transport exception), :class:`Sleep`,
and :class:`Blocking` (a storage call the async driver runs in a worker
thread). ``Client`` and ``AsyncClient`` drive the same flows (see
``_drivers.py``), so the logic exists once:

    credentials → (refresh if expiring) → throttle → send → classify (plugin)
    → response action (policy) → call log → health → events → return, retry or raise
"""

from __future__ import annotations

import gc
import logging
import re
import secrets as _secrets
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx2

from unified_sdk._actions import Decision, ResponseAction
from unified_sdk._limits import ResponseTooLarge, deadline_after, time_left
from unified_sdk._outcome import Category, HealthSignal, Outcome
from unified_sdk._paths import check_path
from unified_sdk._redact import redact_text, redact_url, redact_value
from unified_sdk._retry import may_have_been_sent, retry_delay
from unified_sdk._runtime import check_call_limits
from unified_sdk.errors import (
    OutcomeUnknownError,
    ProviderError,
    ProviderTimeoutError,
    UnifiedError,
    ValidationError,
    error_class_for,
)
from unified_sdk.provider import (
    AuthType,
    Credentials,
    MalformedBodyError,
    OperationContext,
    Provider,
    ProviderRequest,
    ProviderResponse,
)

if TYPE_CHECKING:
    from unified_sdk._connections import ConnectionRecord
    from unified_sdk._runtime import Runtime

T = TypeVar("T")

#: Retries, refreshes, throttle waits and (at DEBUG) each request; silent unless the app or
#: ``UNIFIED_SDK_LOG`` turns it on. Records name connections, operations and redacted URLs, never secrets.
logger = logging.getLogger("unified_sdk")


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Per-client (``with_options``) or per-call overrides of the client's call limits; ``None`` keeps the default.

    ``timeout`` bounds the whole call; ``max_retries`` replaces the retry count of every
    retrying response action; ``max_wait`` is the longest single wait (Retry-After, rate-limit
    reset or backoff) the SDK sleeps.
    """

    timeout: float | None = None
    max_retries: int | None = None
    max_wait: float | None = None

    def __post_init__(self) -> None:
        check_call_limits(timeout=self.timeout, max_retries=self.max_retries, max_wait=self.max_wait)

    def merged(
        self, *, timeout: float | None = None, max_retries: int | None = None, max_wait: float | None = None
    ) -> CallOptions:
        """These options with the given ones (those not ``None``) in their place."""
        return CallOptions(
            self.timeout if timeout is None else timeout,
            self.max_retries if max_retries is None else max_retries,
            self.max_wait if max_wait is None else max_wait,
        )


@dataclass(frozen=True, slots=True)
class Send:
    request: httpx2.Request
    secrets: tuple[str, ...] = ()
    """The connection's secrets, redacted from the HTTP libraries' log records of this send."""
    deadline: float | None = None
    """Monotonic time by which the response must be read whole (``None``: no bound)."""
    max_bytes: int | None = None
    """The largest body to read (decoded bytes)."""


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Blocking:
    fn: Callable[[], Any]


Effect = Send | Sleep | Blocking
Flow = Generator[Effect, Any, T]


class TreatedAsSuccess(Exception):
    """Thrown into an adapter when a response action turned an error into success."""

    def __init__(self, response: ProviderResponse | None) -> None:
        super().__init__("treated as success")
        self.response = response


def new_log_id() -> str:
    # time-ordered: 12 hex digits of milliseconds + 8 random hex digits
    return f"log_{int(time.time() * 1000):012x}{_secrets.token_hex(4)}"


@dataclass
class Call:
    """One unified operation on one connection.

    ``timeout`` (default: the client's) bounds the whole operation from its
    creation: connect, every attempt, retry and wait, and reading each body.
    ``max_retries`` (default: the client's; ``None``: the action table's) and
    ``max_wait`` (default: the client's) bound its retries and its longest wait.
    """

    runtime: Runtime
    conn: ConnectionRecord
    provider: Provider
    operation: str
    base_url: str = ""
    timeout: float | None = None
    max_retries: int | None = None
    max_wait: float | None = None
    ctx: OperationContext = field(init=False)
    writes: int = 0
    """Requests of this operation given an idempotency key so far."""
    deadline: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.base_url = self.provider.resolve_base_url(self.conn.config)
        self.ctx = OperationContext(self.conn.id, self.provider.name, self.conn.config, self.operation)
        self.timeout = self.runtime.timeout if self.timeout is None else self.timeout
        self.max_retries = self.runtime.max_retries if self.max_retries is None else self.max_retries
        self.max_wait = self.runtime.max_wait if self.max_wait is None else self.max_wait
        self.deadline = deadline_after(self.timeout)

    def use_idempotency_key(self, key: str) -> None:
        """Send this operation's writes with the caller's idempotency ``key`` (the adapter sees it in ``ctx``)."""
        self.ctx = replace(self.ctx, idempotency_key=key)

    def next_idempotency_key(self) -> str:
        """The key for the operation's next write: the caller's (``key``, then ``key:1``, ``key:2``…
        for an operation that writes more than once), or a new random one."""
        n, self.writes = self.writes, self.writes + 1
        key = self.ctx.idempotency_key
        if key is None:
            return "idem_" + _secrets.token_hex(16)
        return key if n == 0 else f"{key}:{n}"


# A scheme ("http:", "https:", any "x://"): the path is meant as an absolute URL.
_ABSOLUTE = re.compile(r"^\s*(?:https?:|[a-z][a-z0-9+.-]*://)", re.IGNORECASE)


def target_url(call: Call, path: str) -> str:
    """The URL a request ``path`` goes to: joined to the base URL, or an absolute URL on an allowed host.

    The connection's credentials go with every request, so an absolute URL may only
    name the API base URL's origin (scheme, host, port) or one the provider declares
    (:meth:`Provider.allowed_hosts`); anything else raises :class:`ValidationError`
    before a request is built.
    """
    if not _ABSOLUTE.match(path):
        if path.replace("\\", "/").startswith("//"):
            # "//host/x" (and "\\host\x", read the same by browsers) names another host.
            raise _refused(call, path, "a path must not start with // (a URL without its scheme)")
        # Joined after the base URL's own authority (a "/" always between), a path cannot change the host.
        return call.base_url + (path if path.startswith("/") else "/" + path)
    url = path.strip()
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL as exc:
        raise _refused(call, path, f"not a valid URL ({exc})") from None
    origin = _origin(parsed)
    if not origin or origin not in _allowed_origins(call) or parsed.userinfo or "\\" in url.split("?", 1)[0]:
        raise _refused(call, path, f"{origin or 'no host'} is not the connection's API host")
    return url


def _origin(url: httpx2.URL) -> str:
    if url.scheme not in ("http", "https") or not url.host:
        return ""
    default = 443 if url.scheme == "https" else 80
    return f"{url.scheme}://{url.host}:{url.port or default}"


def _allowed_origins(call: Call) -> set[str]:
    allowed = {call.base_url, *call.provider.allowed_hosts(call.conn.config)}
    origins = set()
    for entry in allowed:
        text = str(entry)
        try:
            origins.add(_origin(httpx2.URL(text if "://" in text else "https://" + text)))
        except httpx2.InvalidURL:
            continue
    origins.discard("")
    return origins


def _refused(call: Call, path: str, why: str) -> ValidationError:
    # The query is left out of the message: it may hold a secret.
    shown = redact_text(path.split("?", 1)[0][:200], call.conn.secrets)
    return ValidationError(
        f"{call.provider.name} refused to send a request to {shown!r}: {why}",
        provider=call.provider.name,
        connection_id=call.conn.id,
        hint="use a path relative to the connection's API base URL, or a URL on its API host; nothing was sent",
        details={"allowed_hosts": sorted(_allowed_origins(call))},
    )


def build_http_request(call: Call, preq: ProviderRequest, credentials: Credentials) -> httpx2.Request:
    url = target_url(call, preq.path)
    headers: dict[str, str] = {"accept": "application/json", "user-agent": call.runtime.user_agent}
    if preq.authenticated:
        headers.update(call.provider.auth_headers(credentials))
    if preq.headers:
        headers.update(preq.headers)
    return httpx2.Request(preq.method.upper(), url, params=preq.params, json=preq.json, data=preq.data, headers=headers)


def _error_from(
    call: Call,
    preq: ProviderRequest,
    outcome: Outcome,
    log_id: str,
    retryable: bool,
    *,
    outcome_unknown: bool = False,
    idempotency_key: str | None = None,
) -> UnifiedError:
    assert outcome.category is not None
    cls = error_class_for(outcome.category, outcome_unknown=outcome_unknown)
    where = preq.path.split("?", 1)[0]
    if where.startswith("http"):
        where = httpx2.URL(where).path
    status = f" {outcome.status}" if outcome.status else ""
    detail = f": {outcome.provider_message}" if outcome.provider_message else ""
    code = f" [{outcome.provider_code}]" if outcome.provider_code else ""
    secrets = call.conn.secrets
    unknown = ", outcome unknown" if outcome_unknown else ""
    message = redact_text(
        f"{call.provider.name} {preq.method.upper()} {where} failed{status} ({outcome.category.value}{unknown})"
        f"{code}{detail}",
        secrets,
    )
    details: dict[str, Any] = {**outcome.details}
    if outcome.retry_after:
        details["retry_after"] = outcome.retry_after
    hint = outcome.hint
    if outcome_unknown:
        details["may_have_succeeded"] = True
        hint = OutcomeUnknownError.default_hint
        if idempotency_key is not None:
            # The SDK's own key: re-sending with it is safe where a new call (with a new key) is not.
            details["idempotency_key"] = idempotency_key
            hint += ", or retry with idempotency_key=details['idempotency_key']"
    # Everything taken from the provider's answer is redacted like the message: bodies echo keys.
    return cls(
        message,
        category=outcome.category,
        status=outcome.status,
        provider=call.provider.name,
        connection_id=call.conn.id,
        provider_code=redact_text(outcome.provider_code, secrets) if outcome.provider_code else None,
        provider_message=redact_text(outcome.provider_message, secrets) if outcome.provider_message else None,
        retryable=retryable,
        log_id=log_id,
        request_id=outcome.request_id,
        hint=redact_text(hint, secrets) if hint else None,
        details=redact_value(details, secrets),
    )


def checked(call: Call, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a pre-send check, naming the call's provider and connection on the error it raises."""
    try:
        return check(*args, **kwargs)
    except UnifiedError as exc:
        exc.provider = exc.provider or call.provider.name
        exc.connection_id = exc.connection_id or call.conn.id
        raise


def _malformed(response: ProviderResponse) -> Outcome:
    return Outcome.failure(
        Category.PROVIDER_ERROR,
        health=HealthSignal.NEUTRAL,
        status=response.status,
        provider_message="the response body is not valid JSON (truncated or malformed)",
        hint="the provider sent a malformed body; retry, and report it to the provider if it persists",
    )


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while one page is parsed and mapped.

    A page builds thousands of short-lived containers (JSON, models); letting
    the collector scan the whole heap many times per page costs more than the
    mapping itself. The pause is bounded by one response, and a collection runs
    as usual right after it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _parse(response: ProviderResponse) -> Any:
    with gc_paused():
        return response.json_or_none()


def _expects_json(response: ProviderResponse) -> bool:
    return bool(response.content) and ("json" in response.content_type or response.content[:1] in (b"{", b"["))


def _html_instead_of_json(request: httpx2.Request, response: ProviderResponse) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept and "html" not in accept and response.looks_like_html


def _html_page(response: ProviderResponse) -> Outcome:
    return Outcome.failure(
        Category.PROVIDER_ERROR,
        health=HealthSignal.NEUTRAL,
        status=response.status,
        provider_message="the provider answered with an HTML page instead of JSON (a proxy or maintenance page?)",
        hint="the provider or a proxy in front of it failed; retry later",
    )


def _too_large(error: ResponseTooLarge) -> Outcome:
    return Outcome.failure(
        Category.PROVIDER_ERROR,
        health=HealthSignal.NEUTRAL,
        status=error.status,
        provider_message=str(error),
        hint="ask for less (a smaller page or fewer fields), or raise the client's max_response_bytes",
        details={"max_response_bytes": error.limit},
    )


#: What an adapter raises when a response body is not the shape it reads.
_UNREADABLE = (MalformedBodyError, KeyError, TypeError, ValueError, AttributeError, IndexError)


def _unreadable(call: Call, response: ProviderResponse, error: Exception) -> Outcome:
    if isinstance(error, MalformedBodyError):
        what = f"a body that is not JSON: {error}"
    else:
        what = f"a body the plugin could not read ({type(error).__name__}: {str(error)[:200]})"
    return Outcome.failure(
        Category.PROVIDER_ERROR,
        health=HealthSignal.NEUTRAL,
        status=response.status,
        provider_message=f"answered {call.operation} with {what}",
        hint="the provider's response is empty, malformed or of an unexpected shape; "
        "retry, and update the provider plugin if it persists",
    )


def _consume(call: Call, consume: Callable[[ProviderResponse], None], response: ProviderResponse) -> Outcome | None:
    """Hand the response to the adapter; the failure outcome when it cannot read the body."""
    try:
        consume(response)
    except _UNREADABLE as exc:
        return _unreadable(call, response, exc)
    return None


def _within_limits(call: Call, action: str, delay: float, outcome: Outcome) -> tuple[str, Outcome, int]:
    """Fail instead of a retry that would cross the call's deadline or that the retry budget cannot pay for.

    Returns ``(step, outcome, retry cost paid)``.
    """
    if action not in ("retry", "wait", "refresh"):
        return action, outcome, 0
    left = time_left(call.deadline)
    if left is not None and delay >= left:
        why = f"the call's timeout ({call.timeout:g} s) left no time to try again"
        return "fail", _explained(outcome, "deadline_exceeded", why), 0
    if action != "retry":
        return action, outcome, 0
    cost = call.runtime.retry_budgets.acquire(call.provider.name, timeout=outcome.category == Category.TIMEOUT)
    if not cost:
        why = f"the retry budget for {call.provider.name} is exhausted (too many recent failures), so no retry"
        return "fail", _explained(outcome, "retry_budget_exhausted", why), 0
    return action, outcome, cost


def _explained(outcome: Outcome, flag: str, why: str) -> Outcome:
    hint = f"{why}; retry later" + (f" ({outcome.hint})" if outcome.hint else "")
    return replace(outcome, hint=hint, details={**outcome.details, flag: True})


def _out_of_time(call: Call, wait: float) -> ProviderTimeoutError:
    return ProviderTimeoutError(
        f"{call.provider.name} {call.operation}: the rate limit resets in {wait:.1f} s, "
        f"after the call's timeout ({call.timeout:g} s)",
        provider=call.provider.name,
        connection_id=call.conn.id,
        retryable=True,
        hint="retry after the provider's rate-limit reset, or raise the timeout",
        details={"deadline_exceeded": True, "throttle_wait": wait},
    )


def send_flow(
    call: Call, preq: ProviderRequest, consume: Callable[[ProviderResponse], None] | None = None
) -> Flow[ProviderResponse]:
    """Send one provider request through auth, throttle, classify, actions, logs and health.

    ``consume`` hands a successful response to the adapter before the call is
    logged, so a body the adapter cannot read is logged and raised as a failure.
    """
    runtime = call.runtime
    provider = call.provider
    conn = call.conn
    checked(call, check_path, preq.path)
    target_url(call, preq.path)  # an absolute URL off the API host is refused before anything else
    attempt = 0
    retries = 0
    retry_cost = 0
    refreshed = False
    idempotent = preq.is_idempotent
    # Whether the app may repeat the whole call safely: a new call gets a new SDK key, not the caller's.
    repeatable = idempotent
    key: str | None = None
    if not idempotent and provider.idempotency_header and preq.method.upper() in ("POST", "PATCH"):
        # A key created once and reused across retries makes a re-send safe.
        key = call.next_idempotency_key()
        preq.headers = {**(preq.headers or {}), provider.idempotency_header: key}
        idempotent = True
        repeatable = call.ctx.idempotency_key is not None

    # (credentials_version 0: a connection being completed, not stored yet; its token is fresh)
    refreshable = bool(conn.credentials.refresh_token) and conn.credentials_version > 0
    if (
        preq.authenticated
        and refreshable
        and _expiring(conn.credentials, runtime.refresh_skew, provider, runtime.clock())
    ):
        conn = call.conn = yield from _refresh(call, "expiring")

    while True:
        attempt += 1
        wait = runtime.throttle.before_send(conn.id)
        if wait > 0:
            left = time_left(call.deadline)
            if left is not None and wait >= left:
                raise _out_of_time(call, wait)
            logger.info(
                "%s %s on connection %s: waiting %.2f s for the provider's rate limit",
                provider.name,
                call.operation,
                conn.id,
                wait,
            )
            yield Sleep(wait)
        request = build_http_request(call, preq, conn.credentials)
        log_id = new_log_id()
        started_at = time.time()
        t0 = time.perf_counter()
        result = yield Send(request, tuple(conn.secrets), call.deadline, runtime.max_response_bytes)
        duration = (time.perf_counter() - t0) * 1000
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s %s -> %s (%.0f ms, attempt %d)",
                provider.name,
                request.method,
                redact_url(str(request.url), conn.secrets),
                result.status_code if isinstance(result, httpx2.Response) else type(result).__name__,
                duration,
                attempt,
            )
        response: ProviderResponse | None = None
        sent = True
        unanswered = False  # sent, and no answer says what became of it
        if isinstance(result, ResponseTooLarge):
            outcome = _too_large(result)
        elif isinstance(result, Exception):
            outcome = provider.classify_transport_error(result)
            # The runtime, not the plugin, decides what may have reached the provider.
            sent = unanswered = may_have_been_sent(result)
            outcome = replace(outcome, details={**outcome.details, "sent": sent})
        else:
            response = ProviderResponse(result.status_code, result.headers, result.content, preq, duration / 1000)
            outcome = provider.classify(response)
            if outcome.ok and _expects_json(response) and _parse(response) is None:
                outcome = _malformed(response)
            elif outcome.ok and _html_instead_of_json(request, response):
                outcome = _html_page(response)
            limit = provider.parse_rate_limit(result.headers)
            if limit is not None:
                runtime.throttle.update(conn.id, limit)
                budgets = runtime.connections_store
                if conn.credentials_version > 0 and budgets.needs_rate_limit_write(
                    conn.id, limit, runtime.rate_limit_warning
                ):
                    yield Blocking(
                        partial(budgets.record_rate_limit, conn.id, provider.name, limit, runtime.rate_limit_warning)
                    )
            if outcome.category == Category.RATE_LIMITED or outcome.status == 408:
                sent = False  # a rate-limited request, or one the server timed out receiving, was not processed
            elif outcome.category == Category.TIMEOUT:
                unanswered = True  # a gateway gave up waiting for the provider, which may still have done it
        decision = runtime.actions.decide(
            outcome,
            provider=provider.name,
            connection_id=conn.id,
            operation=call.operation,
            provider_defaults=provider.response_actions,
        )
        action, delay, over = _next_step(call, decision, outcome, retries, refreshed, idempotent or not sent)
        if over is not None:
            outcome = _explained(outcome, "max_wait_exceeded", over)
        if isinstance(result, ResponseTooLarge):
            action = "fail"  # the same request would be as large again
        action, outcome, paid = _within_limits(call, action, delay, outcome)
        retry_cost = paid or retry_cost
        if action == "return" and consume is not None:
            assert response is not None
            unreadable = _consume(call, consume, response)
            if unreadable is not None:
                outcome, action = unreadable, "fail"
        # A rule that allows re-sending non-idempotent requests is the user saying a repeat is harmless.
        allowed_repeat = decision.rule.retry_non_idempotent
        outcome_unknown = action == "fail" and unanswered and not (repeatable or allowed_repeat)
        if outcome_unknown:
            decision = replace(
                decision, reason=f"{decision.reason}; outcome unknown: the provider may have processed it"
            )
        log_attempt(
            log_id=log_id,
            call=call,
            request=request,
            result=result,
            duration_ms=duration,
            outcome=outcome,
            decision=decision,
            applied=action,
            attempt=attempt,
            created_at=started_at,
        )
        if action == "return":
            runtime.retry_budgets.succeeded(provider.name, retry_cost)
            yield from _health(call, outcome, None)
            assert response is not None
            return response
        if action == "succeed":
            yield from _health(call, Outcome.success(outcome.status), None)
            raise TreatedAsSuccess(response)
        if action == "refresh":
            refreshed = True
            if not conn.credentials.refresh_token:
                action = "fail"
            else:
                try:
                    conn = call.conn = yield from _refresh(call, "rejected")
                except UnifiedError as exc:
                    if exc.category == Category.AUTHENTICATION:  # a token endpoint outage is not the 401's fault
                        yield from _health(call, outcome, None)
                    raise
                continue
        if action in ("retry", "wait"):
            retries += 1
            logger.info(
                "%s %s on connection %s: %s (%s), retry %d in %.2f s",
                provider.name,
                call.operation,
                conn.id,
                outcome.status or type(result).__name__,
                outcome.category.value if outcome.category else "ok",
                retries,
                delay,
            )
            yield Sleep(delay)
            continue
        # fail
        # Retrying later can help after retries or a wait ran out; not after a refusal, a dead credential
        # or a body over the size cap, nor when the provider may have processed a write not safe to repeat.
        retryable = decision.action in (ResponseAction.RETRY, ResponseAction.WAIT_AND_RETRY) and not isinstance(
            result, ResponseTooLarge
        )
        if (sent and not (idempotent or allowed_repeat)) or outcome_unknown:
            retryable = False
        error = _error_from(
            call, preq, outcome, log_id, retryable=retryable, outcome_unknown=outcome_unknown, idempotency_key=key
        )
        yield from _health(call, outcome, error.message)
        raise error


def _next_step(
    call: Call,
    decision: Decision,
    outcome: Outcome,
    retries: int,
    refreshed: bool,
    safe_to_repeat: bool,
) -> tuple[str, float, str | None]:
    """``(step, delay, why)``: return, succeed, refresh, retry, wait or fail; ``why`` explains a wait refused.

    The call's ``max_retries`` (when set) replaces the rule's retry count; its ``max_wait``
    caps the rule's: a provider asking for a longer wait fails the call at once, and the
    SDK's own backoff is shortened to it.
    """
    rule = decision.rule
    action = rule.action
    if action == ResponseAction.SUCCEED:
        return ("return", 0.0, None) if outcome.ok else ("succeed", 0.0, None)
    if outcome.ok and action == ResponseAction.FAIL:
        return "fail", 0.0, None
    if outcome.ok:
        return "return", 0.0, None
    if action == ResponseAction.FAIL:
        return "fail", 0.0, None
    if action == ResponseAction.REFRESH_AND_RETRY:
        creds = call.conn.credentials
        can_refresh = creds.type == AuthType.OAUTH2 and bool(creds.refresh_token) and call.conn.credentials_version > 0
        return ("refresh", 0.0, None) if (not refreshed and can_refresh) else ("fail", 0.0, None)
    max_retries = rule.max_retries if call.max_retries is None else call.max_retries
    if retries >= max_retries or not (safe_to_repeat or rule.retry_non_idempotent):
        return "fail", 0.0, None
    max_wait = rule.max_wait if call.max_wait is None else min(rule.max_wait, call.max_wait)
    if action == ResponseAction.WAIT_AND_RETRY:
        wait = outcome.retry_after
        if wait is None:
            wait = call.runtime.throttle.reset_after(call.conn.id)
        if wait is not None and wait > max_wait:
            return "fail", 0.0, f"the provider asked to wait {wait:g} s, longer than max_wait ({max_wait:g} s)"
        return "wait", min(retry_delay(retries + 1, wait, rand=call.runtime.jitter()), max_wait), None
    return "retry", min(retry_delay(retries + 1, None, rand=call.runtime.jitter()), max_wait), None


def _refresh(call: Call, reason: str) -> Flow[ConnectionRecord]:
    """Refresh the call's OAuth credentials (single-flight, in storage), logging start and end (never tokens)."""
    logger.info("refreshing the credentials of connection %s (%s)", call.conn.id, reason)
    conn: ConnectionRecord = yield from call.runtime.refresh_flow(call.conn, reason=reason)
    logger.info("refreshed the credentials of connection %s", call.conn.id)
    return conn


def _health(call: Call, outcome: Outcome, message: str | None) -> Generator[Effect, Any, None]:
    stores = call.runtime.connections_store
    if stores.needs_health_write(call.conn.id, call.conn.health, outcome.health):
        new = yield Blocking(lambda: stores.record_health(call.conn.id, outcome, message))
        if new is not None:
            call.conn.health = new


def _expiring(credentials: Credentials, skew: float, provider: Provider, now: float) -> bool:
    """Whether to refresh before sending: within the refresh margin of the expiry.

    The margin is the client's ``refresh_skew``, or the provider's ``refresh_margin`` when
    smaller, and never more than half the token's lifetime (a 45 s token must not look
    expiring the moment it is issued).
    """
    if credentials.type != AuthType.OAUTH2 or credentials.expires_at is None:
        return False
    margin = skew
    if provider.oauth is not None and provider.oauth.refresh_margin is not None:
        margin = min(margin, provider.oauth.refresh_margin)
    if credentials.issued_at is not None:
        margin = min(margin, max((credentials.expires_at - credentials.issued_at).total_seconds(), 0.0) / 2)
    return credentials.expires_at - timedelta(seconds=margin) <= datetime.fromtimestamp(now, UTC)


class _AdapterStep(Generic[T]):
    """Feeds one response to an adapter's generator and keeps what it answered.

    A body the adapter cannot read propagates (``send_flow`` makes it a logged
    failure); anything else the adapter raises is kept and re-raised after the
    response was logged as the success it was.
    """

    def __init__(self, flow: Generator[ProviderRequest, ProviderResponse, T]) -> None:
        self.flow = flow
        self.next: ProviderRequest | None = None
        self.done = False
        self.value: T | None = None
        self.error: Exception | None = None

    def feed(self, response: ProviderResponse) -> None:
        self.next, self.error = None, None
        # Pause the cyclic GC while the adapter maps the page (see gc_paused).
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            self.next = self.flow.send(response)
        except StopIteration as stop:
            self.done, self.value = True, stop.value
        except _UNREADABLE:
            raise
        except Exception as exc:
            self.error = exc
        finally:
            if paused:
                gc.enable()


def operation_flow(call: Call, adapter_flow: Generator[ProviderRequest, ProviderResponse, T]) -> Flow[T | None]:
    """Drive an adapter's operation: each request it yields goes through :func:`send_flow`."""
    step = _AdapterStep(adapter_flow)
    try:
        preq = next(adapter_flow)
        while True:
            try:
                yield from send_flow(call, preq, step.feed)
            except (UnifiedError, TreatedAsSuccess) as exc:
                preq = adapter_flow.throw(exc)
                continue
            if step.error is not None:
                raise step.error
            if step.done:
                return step.value
            assert step.next is not None
            preq = step.next
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    except TreatedAsSuccess:
        return None
    except UnifiedError:
        raise
    except MalformedBodyError as exc:
        raise ProviderError(
            f"{call.provider.name} sent a body that is not valid JSON",
            provider=call.provider.name,
            connection_id=call.conn.id,
            hint="the provider sent a malformed body; retry, and report it to the provider if it persists",
        ) from exc
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ProviderError(
            f"{call.provider.name} answered {call.operation} with a body the plugin could not read "
            f"({type(exc).__name__}: {redact_text(str(exc), call.conn.secrets)[:200]})",
            provider=call.provider.name,
            connection_id=call.conn.id,
            hint="the provider's response shape changed or is unexpected; update the provider plugin",
        ) from exc


def request_flow(call: Call, preq: ProviderRequest) -> Flow[ProviderResponse | None]:
    """A single request (passthrough), with treat-as-success giving ``None``."""
    try:
        return (yield from send_flow(call, preq))
    except TreatedAsSuccess as ok:
        return ok.response


def log_attempt(
    *,
    log_id: str,
    call: Call,
    request: httpx2.Request,
    result: httpx2.Response | Exception,
    duration_ms: float,
    outcome: Outcome,
    decision: Decision,
    applied: str,
    attempt: int,
    created_at: float,
) -> None:
    """Queue the call-log row of one attempt (redacted and written off the request path)."""
    runtime = call.runtime
    response = result if isinstance(result, httpx2.Response) else None
    runtime.logs.submit(
        log_id=log_id,
        connection_id=call.conn.id,
        provider=call.provider.name,
        operation=call.operation,
        method=request.method,
        url=str(request.url),
        request_headers=request.headers.multi_items(),
        request_body=request.content if runtime.log_bodies else None,
        status=response.status_code if response is not None else None,
        response_headers=response.headers.multi_items() if response is not None else None,
        response_body=response.content if (response is not None and runtime.log_bodies) else None,
        duration_ms=duration_ms,
        category=outcome.category.value if outcome.category else None,
        action=_APPLIED.get(applied, applied),
        action_reason=decision.reason,
        attempt=attempt,
        error=None if response is not None else f"{type(result).__name__}: {outcome.provider_message}",
        provider_request_id=outcome.request_id,
        created_at=created_at,
        secrets=call.conn.secrets,
    )


_APPLIED = {"return": "none", "succeed": "succeed", "refresh": "refresh_and_retry", "wait": "wait_and_retry"}
