"""The unified exception tree.

Every error the SDK raises is a :class:`UnifiedError`::

    UnifiedError
    ├── ProviderCallError              a provider call failed (one subclass per category)
    │   ├── AuthenticationError        authentication   401, invalid_grant
    │   │   └── AuthorizationError     an OAuth authorization/callback was rejected
    │   ├── PermissionDeniedError      permission       403, missing scopes
    │   ├── NotFoundError              not_found        404
    │   ├── ValidationError            validation       400, 422
    │   ├── ConflictError              conflict         409
    │   ├── RequestFailedError         request_failed   402
    │   ├── MethodNotAllowedError      method_not_allowed 405
    │   ├── RateLimitedError           rate_limited     429 or the provider's own signal
    │   ├── ProviderError              provider_error   5xx, malformed bodies
    │   ├── ProviderTimeoutError       timeout          504, client timeouts
    │   ├── NotImplementedByProviderError not_implemented 501
    │   ├── NetworkError               network          connect/read errors
    │   └── OutcomeUnknownError        a write was sent and no answer came back: it may have been done
    │       ├── NetworkOutcomeUnknownError   network    (also a NetworkError)
    │       └── TimeoutOutcomeUnknownError   timeout    (also a ProviderTimeoutError)
    ├── NotSupportedError              the plugin lacks the operation (nothing sent)
    ├── UnknownProviderError           no installed plugin by that name
    ├── ConnectionNotFoundError        no stored connection with that id
    ├── ConfigurationError             bad SDK configuration or arguments
    └── StorageError                   the connection store failed or a key is wrong

Each carries ``category``, ``status``, ``provider``, ``connection_id``,
``provider_code``, ``provider_message``, ``retryable``, ``log_id``,
``request_id`` and a one-line ``hint`` with the remedy.

A write that is not safe to repeat (a POST or PATCH sent without an idempotency
key) and that may have reached the provider without an answer coming back (the
connection dropped after sending, a read timeout, a 504) raises an
:class:`OutcomeUnknownError`: the provider may have done it, so ``retryable`` is
``False`` and ``details["may_have_succeeded"]`` is ``True``. The concrete class
is also the category's class, so code written as ``except NetworkError`` or
``except ProviderTimeoutError`` still catches what it caught before::

    try:
        client.crm.deals.create(connection_id=cid, data=deal)
    except OutcomeUnknownError:
        ...  # look the record up before creating it again
    except NetworkError as exc:
        ...  # nothing reached the provider; exc.retryable is True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from unified_sdk._outcome import Category

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionNotFoundError",
    "MethodNotAllowedError",
    "NetworkError",
    "NetworkOutcomeUnknownError",
    "NotFoundError",
    "NotImplementedByProviderError",
    "NotSupportedError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProviderCallError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitedError",
    "RequestFailedError",
    "StorageError",
    "TimeoutOutcomeUnknownError",
    "UnifiedError",
    "UnknownProviderError",
    "ValidationError",
    "error_class_for",
]


class UnifiedError(Exception):
    """Base of every error the SDK raises."""

    default_category: ClassVar[Category | None] = None
    default_hint: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        category: Category | str | None = None,
        status: int | None = None,
        provider: str | None = None,
        connection_id: str | None = None,
        provider_code: str | None = None,
        provider_message: str | None = None,
        retryable: bool = False,
        log_id: str | None = None,
        request_id: str | None = None,
        hint: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category: Category | None = Category(category) if category else self.default_category
        self.status = status
        self.provider = provider
        self.connection_id = connection_id
        self.provider_code = provider_code
        self.provider_message = provider_message
        self.retryable = retryable
        self.log_id = log_id
        self.request_id = request_id
        self.hint = hint if hint is not None else self.default_hint
        self.details: Mapping[str, Any] = dict(details or {})

    def __str__(self) -> str:
        parts = [self.message]
        if self.hint:
            parts.append(f"hint: {self.hint}")
        ids = [f"{k}={v}" for k, v in (("log_id", self.log_id), ("request_id", self.request_id)) if v]
        if ids:
            parts.append(" ".join(ids))
        return " | ".join(parts)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={v!r}"
            for k, v in (
                ("category", self.category.value if self.category else None),
                ("status", self.status),
                ("provider", self.provider),
                ("provider_code", self.provider_code),
            )
            if v is not None
        )
        return f"{type(self).__name__}({self.message!r}{', ' if fields else ''}{fields})"


class ProviderCallError(UnifiedError):
    """A call to a provider failed; the subclass names the unified category."""


class AuthenticationError(ProviderCallError):
    default_category = Category.AUTHENTICATION
    default_hint = "re-authorize the connection or replace its credentials"


class AuthorizationError(AuthenticationError):
    """An OAuth authorization was refused or its callback is invalid."""

    default_hint = "start the authorization again with a new authorization URL"


class PermissionDeniedError(ProviderCallError):
    default_category = Category.PERMISSION
    default_hint = "grant the connection the missing permissions and re-authorize"


class NotFoundError(ProviderCallError):
    default_category = Category.NOT_FOUND
    default_hint = "check the record id; it may have been deleted"


class ValidationError(ProviderCallError):
    default_category = Category.VALIDATION
    default_hint = "fix the request fields the provider rejected"


class ConflictError(ProviderCallError):
    default_category = Category.CONFLICT
    default_hint = "the record already exists or was changed concurrently; re-read it"


class RequestFailedError(ProviderCallError):
    default_category = Category.REQUEST_FAILED
    default_hint = "the provider refused the request (e.g. plan or billing limits)"


class MethodNotAllowedError(ProviderCallError):
    default_category = Category.METHOD_NOT_ALLOWED
    default_hint = "the provider does not allow this method on this path"


class RateLimitedError(ProviderCallError):
    default_category = Category.RATE_LIMITED
    default_hint = "slow down; retry after the provider's Retry-After or reset time"


class ProviderError(ProviderCallError):
    default_category = Category.PROVIDER_ERROR
    default_hint = "the provider failed; retry later"


class ProviderTimeoutError(ProviderCallError):
    default_category = Category.TIMEOUT
    default_hint = "the provider did not answer in time; retry later or raise the timeout"


class NotImplementedByProviderError(ProviderCallError):
    default_category = Category.NOT_IMPLEMENTED
    default_hint = "the provider does not implement this"


class NetworkError(ProviderCallError):
    default_category = Category.NETWORK
    default_hint = "check network access to the provider's API host"


class OutcomeUnknownError(ProviderCallError):
    """A write may have reached the provider, and no answer came back: it may have been done.

    Raised for a request that is not safe to repeat (a POST or PATCH without an
    idempotency key) when the connection dropped after it was sent, the answer
    timed out, or a gateway answered 504. The SDK did not re-send it and
    ``retryable`` is ``False``: look the record up before trying again, or pass an
    ``idempotency_key=`` where the provider supports one. ``details`` holds
    ``may_have_succeeded`` (``True``), ``sent`` and, when the request carried
    one, the ``idempotency_key`` a retry can reuse safely.

    Catch it directly, or as :class:`NetworkError` / :class:`ProviderTimeoutError`:
    the classes raised are :class:`NetworkOutcomeUnknownError` and
    :class:`TimeoutOutcomeUnknownError`.
    """

    default_hint = (
        "the request may have been processed: look the record up (e.g. list with updated_after) before retrying"
    )


class NetworkOutcomeUnknownError(OutcomeUnknownError, NetworkError):
    """The connection failed after a write was sent (closed or reset before the answer)."""


class TimeoutOutcomeUnknownError(OutcomeUnknownError, ProviderTimeoutError):
    """A write was sent and its answer did not come in time (a read timeout or a 504)."""


class NotSupportedError(UnifiedError):
    """The provider plugin does not support this operation; nothing was sent."""

    default_category = Category.NOT_IMPLEMENTED
    default_hint = "this provider's plugin does not offer this operation"


class UnknownProviderError(UnifiedError):
    """No installed provider plugin has that name."""

    default_hint = "install the provider's plugin package (unified-sdk-<name>)"


class ConnectionNotFoundError(UnifiedError):
    """No stored connection has that id."""

    default_category = Category.NOT_FOUND
    default_hint = "list connections with client.connections.list()"


class ConfigurationError(UnifiedError):
    """The SDK, an integration or an argument is misconfigured."""


class StorageError(UnifiedError):
    """The connection store failed, or stored secrets cannot be decrypted."""


_BY_CATEGORY: Mapping[Category, type[ProviderCallError]] = {
    cls.default_category: cls
    for cls in (
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ValidationError,
        ConflictError,
        RequestFailedError,
        MethodNotAllowedError,
        RateLimitedError,
        ProviderError,
        ProviderTimeoutError,
        NotImplementedByProviderError,
        NetworkError,
    )
    if cls.default_category is not None
}


_OUTCOME_UNKNOWN: Mapping[Category, type[OutcomeUnknownError]] = {
    Category.NETWORK: NetworkOutcomeUnknownError,
    Category.TIMEOUT: TimeoutOutcomeUnknownError,
}


def error_class_for(category: Category, *, outcome_unknown: bool = False) -> type[ProviderCallError]:
    """The exception class raised for a failed call of ``category``.

    With ``outcome_unknown=True``, the :class:`OutcomeUnknownError` variant of a
    ``network`` or ``timeout`` failure (other categories have none: the provider answered).
    """
    if outcome_unknown and category in _OUTCOME_UNKNOWN:
        return _OUTCOME_UNKNOWN[category]
    return _BY_CATEGORY[category]
