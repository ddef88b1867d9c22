"""Translate HubSpot's error bodies into unified outcomes.

HubSpot's error body: ``status``, ``message``, ``correlationId``, ``category``,
``subCategory``, ``errors[]`` (``message``, ``in``, ``code``, ``context``),
``context``, ``links``; 429s carry ``errorType: RATE_LIMIT`` and ``policyName``.
Every field is treated as optional. The token endpoint answers with a
``status`` code such as ``BAD_REFRESH_TOKEN``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from unified_sdk.provider import Category, HealthSignal, Outcome, ProviderResponse, ScopeMapping, parse_retry_after

_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)", re.IGNORECASE)
_EMBEDDED = re.compile(r"(\[\s*\{.*\}\s*\])\s*$", re.DOTALL)
_FIELD_IN_MESSAGE = re.compile(r'"name"\s*:\s*"([^"]+)"')

#: Token-endpoint ``status`` codes that mean the grant is gone: the user must authorize again.
_REAUTHORIZE = {"BAD_REFRESH_TOKEN", "BAD_AUTH_CODE", "BAD_GRANT"}
#: Token-endpoint ``status`` codes that mean the app's own credentials are wrong.
_BAD_CLIENT = {"BAD_CLIENT_ID", "BAD_CLIENT_SECRET", "BAD_REDIRECT_URI"}


def _seconds_until_utc_midnight(now: datetime | None = None) -> float:
    current = now or datetime.now(UTC)
    tomorrow = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - current).total_seconds()


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _fields(body: Mapping[str, Any]) -> list[str]:
    """The request fields a validation error names, from ``errors[]`` and HubSpot's embedded JSON."""
    found: list[str] = []
    for err in body.get("errors") or []:
        if not isinstance(err, Mapping):
            continue
        where = err.get("in")
        if isinstance(where, str) and where:
            found.append(where)
        context = err.get("context")
        if isinstance(context, Mapping):
            for key in ("propertyName", "propertyNames", "name"):
                names = context.get(key)
                if isinstance(names, str):
                    found.append(names)
                elif isinstance(names, list):
                    found.extend(str(n) for n in names)
    message = body.get("message")
    if isinstance(message, str) and "[" in message:
        # "Property values were not valid: [{...,"name":"amount",...}]": results as embedded JSON.
        embedded = _EMBEDDED.search(message)
        parsed: Any = None
        if embedded is not None:
            try:
                parsed = json.loads(embedded.group(1))
            except ValueError:
                parsed = None
        if isinstance(parsed, list):
            found.extend(str(p["name"]) for p in parsed if isinstance(p, Mapping) and p.get("name"))
        else:
            found.extend(_FIELD_IN_MESSAGE.findall(message))
    return list(dict.fromkeys(found))


def _embedded_problem_codes(message: str) -> list[str]:
    embedded = _EMBEDDED.search(message)
    if embedded is None:
        return []
    try:
        parsed = json.loads(embedded.group(1))
    except ValueError:
        return []
    return [str(p["error"]) for p in parsed if isinstance(p, Mapping) and p.get("error")]


def unified_scopes_for(missing: Iterable[str], scopes: Mapping[str, ScopeMapping]) -> list[str]:
    """The unified scopes whose HubSpot scopes include any of ``missing``."""
    wanted = set(missing)
    return [name for name, mapping in scopes.items() if wanted & set(mapping.required)]


def classify(
    response: ProviderResponse,
    scopes: Mapping[str, ScopeMapping],
    fallback: Callable[[ProviderResponse], Outcome],
    *,
    now: datetime | None = None,
) -> Outcome:
    """The unified :class:`Outcome` of one HubSpot response."""
    status = response.status
    headers = response.headers
    header_id = headers.get("x-hubspot-correlation-id")
    if status < 400:
        return Outcome.success(status, request_id=header_id)
    body = response.json_or_none()
    if not isinstance(body, Mapping):
        base = fallback(response)
        return _with(base, request_id=header_id) if header_id else base
    request_id = body.get("correlationId") or header_id
    message = body.get("message") if isinstance(body.get("message"), str) else None
    category = body.get("category") if isinstance(body.get("category"), str) else None
    code = body.get("status") if isinstance(body.get("status"), str) and body.get("status") != "error" else None
    sub = body.get("subCategory") if isinstance(body.get("subCategory"), str) else None
    provider_code = code or category
    common: dict[str, Any] = {
        "status": status,
        "provider_message": message,
        "request_id": request_id,
    }

    # -- the token endpoint (400 with a status code) ----------------------------------------------------
    if code in _REAUTHORIZE:
        return Outcome.failure(
            Category.AUTHENTICATION,
            provider_code=code,
            hint="HubSpot refused the refresh token or code (revoked, uninstalled or already used); "
            "re-authorize the connection",
            details={"reauthorize": True},
            **common,
        )
    if code in _BAD_CLIENT:
        return Outcome.failure(
            Category.AUTHENTICATION,
            provider_code=code,
            hint="HubSpot rejected the app's OAuth client id, secret or redirect URI; "
            "check the integration's credentials in the HubSpot developer account",
            **common,
        )

    # -- rate limits -----------------------------------------------------------------------------------
    policy = body.get("policyName") if isinstance(body.get("policyName"), str) else None
    if status == 429 or body.get("errorType") == "RATE_LIMIT":
        return _rate_limited(response, policy, common, now)

    # -- authentication and permission -----------------------------------------------------------------
    if status == 401 or category in ("EXPIRED_AUTHENTICATION", "INVALID_AUTHENTICATION"):
        expired = category == "EXPIRED_AUTHENTICATION"
        return Outcome.failure(
            Category.AUTHENTICATION,
            provider_code=provider_code,
            hint=(
                "the HubSpot access token expired; it is refreshed once automatically, re-authorize if that fails"
                if expired
                else "HubSpot did not accept the token (revoked, uninstalled or mistyped); "
                "re-authorize the connection or replace the private-app token"
            ),
            details={"expired": expired},
            **common,
        )
    if category == "MISSING_SCOPES" or (status == 403 and _required_scopes(body)):
        missing = _required_scopes(body)
        unified = unified_scopes_for(missing, scopes)
        hint = "missing HubSpot scopes: " + (", ".join(missing) if missing else "unknown")
        if unified:
            hint += f"; request unified scopes {', '.join(unified)} and re-authorize"
        else:
            hint += "; add them to the app (or private app) and re-authorize"
        return Outcome.failure(
            Category.PERMISSION,
            provider_code=provider_code or "MISSING_SCOPES",
            hint=hint,
            details={"missing_scopes": missing, "unified_scopes": unified},
            **common,
        )

    # -- request errors ---------------------------------------------------------------------------------
    if status == 409 or category == "CONFLICT":
        existing = _EXISTING_ID.search(message or "")
        existing_id = existing.group(1) if existing else None
        return Outcome.failure(
            Category.CONFLICT,
            provider_code=provider_code,
            hint=(
                f"the record already exists in HubSpot (existing id {existing_id}); update that record instead"
                if existing_id
                else "the record conflicts with an existing one or was changed concurrently; re-read it"
            ),
            details={"existing_id": existing_id} if existing_id else {},
            **common,
        )
    # HubSpot labels most 4xx bodies VALIDATION_ERROR; a status with its own meaning (402, 408, 410…) keeps it.
    if (category == "VALIDATION_ERROR" and fallback(response).category == Category.VALIDATION) or (
        status in (400, 422) and category is None
    ):
        fields = _fields(body)
        problems = _embedded_problem_codes(message or "")
        hint = (
            f"HubSpot rejected field(s) {', '.join(fields)}; fix their values"
            if fields
            else "HubSpot rejected the request; see provider_message for the reason"
        )
        return Outcome.failure(
            Category.VALIDATION,
            provider_code=provider_code or "VALIDATION_ERROR",
            hint=hint,
            details={
                "fields": fields,
                **({"problems": problems} if problems else {}),
                **({"sub_category": sub} if sub else {}),
            },
            **common,
        )
    if status == 404 or category == "OBJECT_NOT_FOUND":
        return Outcome.failure(
            Category.NOT_FOUND,
            provider_code=provider_code,
            hint="no such HubSpot record (deleted, merged or a wrong id)",
            **common,
        )

    # -- the rest by status (5xx -> provider error) -------------------------------------------------------
    base = fallback(response)
    if base.category is None:
        return base
    return _with(
        base, provider_code=provider_code, provider_message=message or base.provider_message, request_id=request_id
    )


def _with(outcome: Outcome, **changes: Any) -> Outcome:
    from dataclasses import replace

    return replace(outcome, **changes)


def _required_scopes(body: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for err in body.get("errors") or []:
        context = err.get("context") if isinstance(err, Mapping) else None
        if isinstance(context, Mapping):
            for key in ("requiredScopes", "requiredGranularScopes"):
                values = context.get(key)
                if isinstance(values, list):
                    found.extend(str(v) for v in values)
    context = body.get("context")
    if isinstance(context, Mapping) and isinstance(context.get("requiredScopes"), list):
        found.extend(str(v) for v in context["requiredScopes"])
    return list(dict.fromkeys(found))


def _rate_limited(
    response: ProviderResponse, policy: str | None, common: dict[str, Any], now: datetime | None
) -> Outcome:
    headers = response.headers
    retry_after = parse_retry_after(headers)
    if policy is None:
        if headers.get("x-hubspot-ratelimit-daily-remaining") == "0":
            policy = "DAILY"
        elif headers.get("x-hubspot-ratelimit-secondly-remaining") == "0":
            policy = "SECONDLY"
        else:
            policy = "TEN_SECONDLY_ROLLING"
    if policy == "DAILY":
        # UNCONFIRMED: HubSpot resets the daily limit at midnight in the account's time zone,
        # which the plugin does not know; midnight UTC is the earliest it could be, so the
        # wait below is a lower bound and the default action fails rather than waits.
        wait = max(retry_after or 0.0, _seconds_until_utc_midnight(now))
        return Outcome.failure(
            Category.RATE_LIMITED,
            health=HealthSignal.HEALTHY,
            provider_code="DAILY",
            retry_after=wait,
            hint="HubSpot's daily API limit for this account is used up; calls succeed again after "
            "midnight in the account's time zone (OAuth apps have no daily limit)",
            details={"policy": "DAILY", "daily": True},
            **common,
        )
    if retry_after is None:
        # HubSpot sends no Retry-After; the rolling window frees a slot within one interval.
        if policy == "SECONDLY":
            retry_after = 1.0
        else:
            interval = _as_int(headers.get("x-hubspot-ratelimit-interval-milliseconds"))
            retry_after = (interval / 1000.0) if interval else 10.0
    return Outcome.failure(
        Category.RATE_LIMITED,
        health=HealthSignal.HEALTHY,
        provider_code=policy,
        retry_after=retry_after,
        hint=f"HubSpot {policy} rate limit reached; slow down (the SDK waits and retries)",
        details={"policy": policy, "daily": False},
        **common,
    )
