"""The registry of unified scopes and which operations need which."""

from __future__ import annotations

from collections.abc import Mapping

#: Every unified scope, with what it allows.
UNIFIED_SCOPES: Mapping[str, str] = {
    "crm_deal_read": "read deals",
    "crm_deal_write": "create, update and delete deals",
    "crm_contact_read": "read contacts",
    "crm_contact_write": "create, update and delete contacts",
    "crm_company_read": "read companies",
    "crm_company_write": "create, update and delete companies",
    "crm_pipeline_read": "read deal pipelines and stages",
    "crm_user_read": "read users (owners)",
    "webhook": "manage webhooks",
}

_RESOURCE_SCOPE = {
    "crm.deals": "crm_deal",
    "crm.contacts": "crm_contact",
    "crm.companies": "crm_company",
    "crm.pipelines": "crm_pipeline",
    "crm.users": "crm_user",
}


def scope_for(resource: str, operation: str) -> str | None:
    """The unified scope an operation needs (``crm.deals``, ``list`` → ``crm_deal_read``)."""
    stem = _RESOURCE_SCOPE.get(resource)
    if stem is None:
        return None
    return f"{stem}_read" if operation in ("list", "get") else f"{stem}_write"
