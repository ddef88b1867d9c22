"""``classify``: Salesforce responses in unified terms.

Salesforce answers errors with a JSON array ``[{"message", "errorCode",
"fields"}]`` (the OAuth endpoints with ``{"error", "error_description"}``).
The ``errorCode`` decides the category where the status alone would mislead:
a spent daily allocation is 403 ``REQUEST_LIMIT_EXCEEDED`` (rate limited, not
a permission problem), a duplicate is 400 ``DUPLICATE_VALUE`` (a conflict), and a query the
database gave up on is 400 ``QUERY_TIMEOUT`` (a timeout: a listing retries it with a smaller page).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from unified_sdk import Category, HealthSignal, Outcome
from unified_sdk.errors import UnifiedError
from unified_sdk.provider import ProviderResponse, RateLimit, item_error

_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_RECORD_ID = re.compile(r"\b([a-zA-Z0-9]{3}[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?)\b")
_FIELD_IN_MESSAGE = re.compile(r"No such column '([^']+)'|field '([^']+)'|fields: ([A-Za-z0-9_]+)")
_MISSING_FIELDS = re.compile(r"Required fields are missing: \[([^\]]*)\]")

REAUTHORIZE = "re-authorize the Salesforce connection (the user must log in and allow access again)"

#: errorCode -> (category, hint). Codes not listed fall back to the HTTP status.
CODES: Mapping[str, tuple[Category, str]] = {
    "INVALID_SESSION_ID": (
        Category.AUTHENTICATION,
        "the Salesforce session expired or was revoked; it is refreshed once automatically, otherwise " + REAUTHORIZE,
    ),
    "INVALID_AUTH_HEADER": (Category.AUTHENTICATION, REAUTHORIZE),
    "REQUEST_LIMIT_EXCEEDED": (
        Category.RATE_LIMITED,
        "the org's rolling 24-hour API request allocation is used up; calls succeed again as earlier "
        "requests age out of the 24-hour window (see Sforce-Limit-Info and /limits), or ask the org's "
        "admin to raise the allocation; not retried automatically",
    ),
    "INSUFFICIENT_ACCESS_OR_READONLY": (
        Category.PERMISSION,
        "the Salesforce user's profile or permission sets do not allow this on the object or record; "
        "OAuth scopes are not per object in Salesforce, so an admin must grant the object permission",
    ),
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": (
        Category.PERMISSION,
        "the Salesforce user cannot access a record this one refers to (e.g. its account or owner)",
    ),
    "INVALID_TYPE": (
        Category.PERMISSION,
        "the object does not exist or the Salesforce user's profile does not give access to it; "
        "an admin must grant the object permission (Salesforce has no per-object OAuth scopes)",
    ),
    "API_DISABLED_FOR_ORG": (
        Category.PERMISSION,
        "REST API access is not enabled for this org or user (needs the 'API Enabled' permission "
        "and the 'api' OAuth scope)",
    ),
    "API_CURRENTLY_DISABLED": (Category.PERMISSION, "API access is disabled for this org or user"),
    "FUNCTIONALITY_NOT_ENABLED": (Category.PERMISSION, "the feature is not enabled in this org"),
    "NOT_FOUND": (Category.NOT_FOUND, "check the record id; it may have been deleted"),
    "ENTITY_IS_DELETED": (Category.NOT_FOUND, "the record was deleted (it may still be in the recycle bin)"),
    "MALFORMED_QUERY": (Category.VALIDATION, "the SOQL query is not valid"),
    "INVALID_FIELD": (
        Category.VALIDATION,
        "a field does not exist on the object or is not visible to the Salesforce user",
    ),
    "INVALID_FIELD_FOR_INSERT_UPDATE": (
        Category.VALIDATION,
        "a field is read-only, or not writable for the Salesforce user",
    ),
    "REQUIRED_FIELD_MISSING": (Category.VALIDATION, "set the required fields"),
    "MALFORMED_ID": (Category.VALIDATION, "a record id is malformed"),
    "INVALID_CROSS_REFERENCE_KEY": (Category.VALIDATION, "a referenced record id does not exist"),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": (Category.VALIDATION, "use one of the picklist's values"),
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": (Category.VALIDATION, "an org validation rule rejected the record"),
    "STRING_TOO_LONG": (Category.VALIDATION, "a value is longer than its field allows"),
    "JSON_PARSER_ERROR": (Category.VALIDATION, "a value has the wrong type for its field"),
    "INVALID_QUERY_LOCATOR": (
        Category.VALIDATION,
        "the query cursor expired (15 minutes idle, or too many open cursors); start the listing again",
    ),
    "INVALID_TYPE_FOR_OPERATION": (Category.VALIDATION, "this object does not allow that operation"),
    "DUPLICATE_VALUE": (Category.CONFLICT, "a record with this unique value already exists; update it instead"),
    "DUPLICATES_DETECTED": (Category.CONFLICT, "the org's duplicate rules matched an existing record"),
    "UNABLE_TO_LOCK_ROW": (Category.CONFLICT, "another transaction holds the record; retry shortly"),
    "STORAGE_LIMIT_EXCEEDED": (Category.REQUEST_FAILED, "the org's data storage is full"),
    "METHOD_NOT_ALLOWED": (Category.METHOD_NOT_ALLOWED, "this resource does not allow the method"),
    # Salesforce's own "page too big or too slow": the database gave up on the query (a 400, yet no
    # fault of the request's form). A timeout, so it is retried and a listing asks again for a smaller page.
    "QUERY_TIMEOUT": (
        Category.TIMEOUT,
        "the SOQL query ran too long in Salesforce (a page over many records, or filters on unindexed "
        "fields); ask for smaller pages or narrow the listing with filters such as updated_after",
    ),
    "SERVER_UNAVAILABLE": (Category.PROVIDER_ERROR, "Salesforce is temporarily unavailable; retry later"),
    "UNKNOWN_EXCEPTION": (Category.PROVIDER_ERROR, "Salesforce failed; retry later"),
}

#: OAuth token-endpoint errors (``error_description``) -> hint; all are authentication failures.
TOKEN_ERRORS: Mapping[str, str] = {
    "expired access/refresh token": "the refresh token expired or was revoked; " + REAUTHORIZE,
    "inactive user": "the Salesforce user who authorized the connection is inactive; re-authorize with an active user",
    "inactive organization": "the Salesforce org is inactive; re-authorize with an active org",
    "user hasn't approved this consumer": "the user has not approved the connected app; " + REAUTHORIZE,
    "invalid code verifier": "the PKCE verifier did not match; start the authorization again",
    "authentication failure": REAUTHORIZE,
}


def classify(response: ProviderResponse, fallback: Any) -> Outcome:
    """Read one Salesforce response. ``fallback`` is the core's status-based classifier."""
    status = response.status
    if status < 300:
        return Outcome.success(status)
    body = response.json_or_none()
    if status == 300:
        return _multiple_choices(response, body)
    if isinstance(body, dict) and "error" in body:
        return _token_error(status, body)
    error = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else None
    if error is None:
        outcome: Outcome = fallback(response)
        return outcome
    code = str(error.get("errorCode") or "")
    message = str(error.get("message") or "").strip()
    fields = [str(f) for f in error.get("fields") or []]
    known = CODES.get(code)
    if known is not None:
        category, hint = known
    else:
        fallback_outcome: Outcome = fallback(response)
        category = fallback_outcome.category or Category.PROVIDER_ERROR
        hint = fallback_outcome.hint or f"Salesforce answered {code or status}"
    details: dict[str, Any] = {}
    if category in (Category.VALIDATION, Category.CONFLICT):
        hint = _describe(category, hint, message, fields, _unified_names(response), details)
    elif category == Category.RATE_LIMITED:
        limit = parse_rate_limit(response.headers)
        if limit is not None and limit.limit is not None:
            details["api_usage"] = limit.limit - (limit.remaining or 0)
            details["daily_limit"] = limit.limit
        details["limit"] = "daily_api_requests"
    health = None
    if status == 401 and category == Category.AUTHENTICATION:
        health = HealthSignal.UNHEALTHY
    return Outcome.failure(
        category,
        health=health,
        status=status,
        provider_code=code or None,
        provider_message=_one_line(message),
        hint=hint,
        details=details,
    )


def _describe(
    category: Category,
    hint: str,
    message: str,
    fields: list[str],
    names: Callable[[str], str | None] | None,
    details: dict[str, Any],
) -> str:
    """The hint of a validation or conflict error, filling ``details`` with the fields or the existing record."""
    if category == Category.VALIDATION:
        fields = fields or _fields_from(message)
        if fields and names:
            # A write names unified fields: say which of those to set, the Salesforce name alongside.
            unified = [names(f) or f for f in fields]
            hint = f"{hint}: " + ", ".join(u if u == f else f"{u} ({f})" for u, f in zip(unified, fields, strict=True))
            details["fields"] = unified
            details["provider_fields"] = fields
        elif fields:
            hint = f"{hint}: {', '.join(fields)}"
            details["fields"] = fields
    elif category == Category.CONFLICT:
        existing = _RECORD_ID.findall(message.rsplit("id:", 1)[-1]) if "id:" in message else []
        if existing:
            details["existing_id"] = existing[-1]
            hint = f"{hint} (existing record {existing[-1]})"
    return hint


def record_error(sobject: str, errors: Any) -> UnifiedError:
    """The error of one record of an sObject Collections answer (``{"success": false, "errors": [...]}``).

    Each entry is ``{"statusCode", "message", "fields"}``; the first decides the category as
    :func:`classify` does for a single write, and its fields are named in unified terms.
    """
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], Mapping) else {}
    code = str(first.get("statusCode") or "")
    message = str(first.get("message") or "").strip()
    fields = [str(f) for f in first.get("fields") or []]
    # The request itself was accepted, so an unknown code is about the record's data, as a 400 would be.
    category, hint = CODES.get(code, (Category.VALIDATION, f"Salesforce refused the record ({code or 'no code'})"))
    details: dict[str, Any] = {}
    hint = _describe(category, hint, message, fields, unified_fields(sobject), details)
    return item_error(
        category,
        f"Salesforce {sobject}: {_one_line(message, 200) or code or 'the record was not saved'}",
        provider_code=code or None,
        provider_message=_one_line(message),
        details=details,
        hint=hint,
    )


def _multiple_choices(response: ProviderResponse, body: Any) -> Outcome:
    candidates: list[str] = []
    for item in body if isinstance(body, list) else []:
        text = (
            item if isinstance(item, str) else (item.get("url") or item.get("Id")) if isinstance(item, dict) else None
        )
        if isinstance(text, str):
            candidates.append(text.rstrip("/").rsplit("/", 1)[-1])
    return Outcome.failure(
        Category.CONFLICT,
        status=300,
        provider_code="MULTIPLE_CHOICES",
        provider_message=f"the external id matches {len(candidates)} records",
        hint="the external id is not unique: pick one of the candidate ids (details['candidate_ids'])",
        details={"candidate_ids": candidates},
    )


def _token_error(status: int, body: Mapping[str, Any]) -> Outcome:
    error = str(body.get("error"))
    description = str(body.get("error_description") or "")
    hint = TOKEN_ERRORS.get(description, REAUTHORIZE)
    if error in ("invalid_client_id", "invalid_client"):
        hint = "the connected app's consumer key or secret is wrong; check the integration's client credentials"
    return Outcome.failure(
        Category.AUTHENTICATION,
        status=status,
        provider_code=error,
        provider_message=description or None,
        hint=hint,
    )


def unified_fields(sobject: str) -> Callable[[str], str | None] | None:
    """Salesforce field -> the unified field a write sets it from, for the adapter of ``sobject``
    (``None``: no adapter writes it). The adapters' field maps are the one table."""
    from unified_sdk_salesforce.crm import companies, contacts, deals  # the adapters import this module

    for adapter in (deals.DealsAdapter, contacts.ContactsAdapter, companies.CompaniesAdapter):
        if adapter.sobject == sobject:
            return adapter.unified_field
    return None


_SOBJECT_WRITE = re.compile(r"/sobjects/([A-Za-z0-9_]+)(?:/[^/]+)?$")


def _unified_names(response: ProviderResponse) -> Callable[[str], str | None] | None:
    """The field names of the sObject a create or update wrote, or ``None`` for other requests."""
    request = response.request
    if request is None or request.method not in ("POST", "PATCH"):
        return None
    match = _SOBJECT_WRITE.search(request.path.split("?", 1)[0])
    return unified_fields(match.group(1)) if match else None


def _fields_from(message: str) -> list[str]:
    missing = _MISSING_FIELDS.search(message)
    if missing:
        return [f.strip() for f in missing.group(1).split(",") if f.strip()]
    found: list[str] = []
    for m in _FIELD_IN_MESSAGE.finditer(message):
        name = next(g for g in m.groups() if g)
        if name not in found:
            found.append(name)
    return found


def _one_line(message: str, limit: int = 500) -> str | None:
    text = " ".join(message.split())
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """The daily allocation from ``Sforce-Limit-Info: api-usage=n/m``.

    The window is a rolling 24 hours, so there is no reset time to report.
    """
    value = headers.get("sforce-limit-info") or headers.get("Sforce-Limit-Info")
    if not value:
        return None
    match = _LIMIT_INFO.search(value)
    if match is None:
        return None
    used, limit = int(match.group(1)), int(match.group(2))
    return RateLimit(remaining=max(limit - used, 0), limit=limit, reset_after=None, policy="rolling-24h")
