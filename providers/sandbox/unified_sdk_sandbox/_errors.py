"""Classify sandbox responses: the sandbox's error types -> unified categories, codes, hints."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from unified_sdk.provider import (
    Category,
    HealthSignal,
    Outcome,
    Provider,
    ProviderResponse,
    category_for_status,
    parse_retry_after,
)

#: Every error ``type`` the sandbox documents, with its unified category.
ERROR_CATEGORIES: Mapping[str, Category] = {
    "invalid_request": Category.VALIDATION,
    "invalid_cursor": Category.VALIDATION,
    "invalid_json": Category.VALIDATION,
    "authentication_failed": Category.AUTHENTICATION,
    "authentication_required": Category.AUTHENTICATION,
    "invalid_api_key": Category.AUTHENTICATION,
    "invalid_token": Category.AUTHENTICATION,
    "token_expired": Category.AUTHENTICATION,
    "token_revoked": Category.AUTHENTICATION,
    "payment_required": Category.REQUEST_FAILED,
    "forbidden": Category.PERMISSION,
    "insufficient_scope": Category.PERMISSION,
    "not_found": Category.NOT_FOUND,
    "route_not_found": Category.NOT_FOUND,
    "method_not_allowed": Category.METHOD_NOT_ALLOWED,
    "conflict": Category.CONFLICT,
    "duplicate_record": Category.CONFLICT,
    "idempotency_key_reused": Category.CONFLICT,
    "validation_failed": Category.VALIDATION,
    "rate_limit_exceeded": Category.RATE_LIMITED,
    "internal_error": Category.PROVIDER_ERROR,
    "bad_gateway": Category.PROVIDER_ERROR,
    "service_unavailable": Category.PROVIDER_ERROR,
    "not_implemented": Category.NOT_IMPLEMENTED,
    "gateway_timeout": Category.TIMEOUT,
}

_HINTS: Mapping[str, str] = {
    "invalid_api_key": "the sandbox API key is wrong or was rotated; update the connection's api_key",
    "authentication_required": "the request carried no credentials; check the connection's auth type",
    "invalid_token": "the access token is not recognised; re-authorize the connection",
    "token_expired": "the access token expired; refresh it (automatic when a refresh token is stored)",
    "token_revoked": "the access token was revoked; re-authorize the connection",
    "payment_required": "the sandbox account's plan does not allow this; upgrade the plan",
    "invalid_cursor": "the cursor is stale or from another list; restart the listing without a cursor",
    "route_not_found": "the path does not exist in the sandbox API (check the /v1 path)",
    "duplicate_record": "a record with the same unique field exists; update it instead (see details.existing_id)",
    "idempotency_key_reused": "an Idempotency-Key was reused with a different request body",
    "service_unavailable": "the sandbox is temporarily unavailable; retry later",
    "not_implemented": "the sandbox does not implement this endpoint",
}


def classify_response(provider: Provider, response: ProviderResponse) -> Outcome:
    """The unified :class:`Outcome` of a sandbox response."""
    status = response.status
    header_id = response.headers.get("x-request-id")
    if status < 400:
        return Outcome.success(status, request_id=header_id)
    if response.looks_like_html:
        category = category_for_status(status) or Category.PROVIDER_ERROR
        if category not in (Category.RATE_LIMITED, Category.TIMEOUT):
            category = Category.PROVIDER_ERROR
        return Outcome.failure(
            category,
            health=HealthSignal.NEUTRAL,
            status=status,
            request_id=header_id,
            retry_after=parse_retry_after(response.headers),
            provider_message=f"HTTP {status} with an HTML page instead of a JSON error",
            hint="the sandbox answered with an HTML error page (an outage, or a proxy in between); retry later",
        )
    body = response.json_or_none()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        # Not a sandbox error body (e.g. a gateway's plain message): fall back on the status.
        outcome = Provider.classify(provider, response)
        return Outcome(
            category=outcome.category,
            health=outcome.health,
            status=status,
            provider_message=outcome.provider_message,
            retry_after=outcome.retry_after,
            request_id=header_id,
            hint=outcome.hint,
            details=outcome.details,
        )
    code = str(error.get("type") or "") or None
    message = error.get("message")
    category = ERROR_CATEGORIES.get(code or "") or category_for_status(status) or Category.PROVIDER_ERROR
    details: dict[str, Any] = {}
    hint = _HINTS.get(code or "")
    retry_after = parse_retry_after(response.headers)
    if category == Category.RATE_LIMITED and retry_after is None:
        retry_after = _number(error.get("retry_after"))
        if retry_after is None:
            retry_after = _number(response.headers.get("x-ratelimit-reset"))
    if code == "insufficient_scope":
        missing = [str(s) for s in error.get("required_scopes") or []]
        details["missing_scopes"] = missing
        if "granted_scopes" in error:
            details["granted_scopes"] = list(error["granted_scopes"])
        hint = (
            f"missing sandbox scopes: {', '.join(missing)}; re-authorize the connection with them"
            if missing
            else "the token lacks a scope this request needs; re-authorize the connection"
        )
    if isinstance(error.get("fields"), list):
        details["fields"] = error["fields"]
        names = [str(f.get("field")) for f in error["fields"] if isinstance(f, dict)]
        if names and hint is None:
            hint = f"fix the fields the sandbox rejected: {', '.join(names)}"
    if "existing_id" in error:
        details["existing_id"] = error["existing_id"]
    if "param" in error:
        details["param"] = error["param"]
    return Outcome.failure(
        category,
        status=status,
        provider_code=code,
        provider_message=str(message) if message is not None else None,
        request_id=str(error.get("request_id") or header_id or "") or None,
        retry_after=retry_after,
        hint=hint,
        details=details,
    )


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return max(number, 0.0) if math.isfinite(number) else None
