"""HubSpot's documented error bodies, built in one place for every route and injected fault.

Shape (HubSpot "API error responses"): ``status``, ``message``, ``correlationId``,
``category``, optional ``subCategory``, ``errors[]`` (``message``, ``in``, ``code``,
``context``), ``context`` and ``links``. Rate-limit errors carry ``errorType``,
``policyName`` and ``groupName`` instead of ``category``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

SCOPES_LINK = "https://developers.hubspot.com/scopes"

_DEFAULT_CATEGORY: Mapping[int, tuple[str, str]] = {
    400: ("VALIDATION_ERROR", "Invalid input (details will vary based on the error)"),
    401: ("INVALID_AUTHENTICATION", "Authentication credentials not found."),
    403: ("MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call."),
    404: ("OBJECT_NOT_FOUND", "resource not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    409: ("CONFLICT", "The request conflicts with an existing record."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
    423: ("LOCKED", "The record is locked by another request; try again shortly."),
    500: ("INTERNAL_ERROR", "Internal Error"),
    502: ("BAD_GATEWAY", "Bad Gateway"),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable"),
    504: ("TIMEOUT", "Gateway Timeout"),
}

RATE_LIMIT_MESSAGES: Mapping[str, str] = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(
    status: int,
    *,
    category: str | None = None,
    message: str | None = None,
    sub_category: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    links: Mapping[str, str] | None = None,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A HubSpot error body for ``status``; every field can be given, the rest are HubSpot's defaults."""
    if status == 429:
        return rate_limit_body("TEN_SECONDLY_ROLLING")
    default_category, default_message = _DEFAULT_CATEGORY.get(
        status, ("VALIDATION_ERROR" if status < 500 else "INTERNAL_ERROR", "Error")
    )
    body: dict[str, Any] = {
        "status": "error",
        "message": message or default_message,
        "correlationId": correlation_id(),
        "category": category or default_category,
    }
    if sub_category:
        body["subCategory"] = sub_category
    if errors:
        body["errors"] = [dict(e) for e in errors]
    if context:
        body["context"] = dict(context)
    if links:
        body["links"] = dict(links)
    if status == 403 and (category or default_category) == "MISSING_SCOPES" and not errors:
        body["errors"] = [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredScopes": ["crm.objects.deals.read"]},
            }
        ]
        body["links"] = {"scopes": SCOPES_LINK}
    return body


def rate_limit_body(policy: str, group: str = "publicapi:private-app-api-calls") -> dict[str, Any]:
    """The 429 body for ``policy`` (``TEN_SECONDLY_ROLLING``, ``SECONDLY`` or ``DAILY``)."""
    return {
        "status": "error",
        "message": RATE_LIMIT_MESSAGES.get(policy, f"You have reached your {policy.lower()} limit."),
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "groupName": f"{group}-{policy.lower().replace('_', '-')}",
    }


def missing_scopes_body(required_any_of: Sequence[str]) -> dict[str, Any]:
    return error_body(
        403,
        category="MISSING_SCOPES",
        message=(
            "This app hasn't been granted all required scopes to make this call. "
            f"Read more about required scopes here: {SCOPES_LINK}."
        ),
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredScopes": list(required_any_of)},
            }
        ],
        links={"scopes": SCOPES_LINK},
    )


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response; serialised compactly like HubSpot's API."""
    content = json.dumps(body, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=dict(headers or {}), media_type="application/json")


def error_response(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    extra = {"X-HubSpot-Correlation-Id": str(body.get("correlationId", ""))}
    extra.update(headers or {})
    return json_response(body, status, extra)
