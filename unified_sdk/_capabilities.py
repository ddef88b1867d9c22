"""Capabilities as data: what each provider's adapters declare, enforced before anything is sent.

Adapters declare :attr:`~unified_sdk.provider.ReadOnlyAdapter.filters`,
:attr:`~unified_sdk.provider.ReadOnlyAdapter.sorts` and
:attr:`~unified_sdk.provider.ReadOnlyAdapter.writable_fields`; operations follow from
:meth:`~unified_sdk.provider.ReadOnlyAdapter.supports`. This module turns them into
:class:`~unified_sdk.provider.ResourceCapabilities`, refuses what a provider cannot do, and writes
the docs' support matrix.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from unified_sdk.errors import NotSupportedError, ValidationError
from unified_sdk.provider import ListQuery, Provider, ReadOnlyAdapter, ResourceCapabilities

OPERATIONS = ("list", "get", "create", "update", "delete")

FILTERS: Mapping[str, tuple[str, ...]] = {
    "crm.deals": (
        "updated_after",
        "created_after",
        "stage_id",
        "pipeline_id",
        "user_id",
        "company_id",
        "contact_id",
        "query",
    ),
    "crm.contacts": ("updated_after", "email", "company_id", "user_id", "query"),
    "crm.companies": ("updated_after", "user_id", "query"),
    "crm.pipelines": ("updated_after",),
    "crm.users": ("updated_after",),
}
"""The unified list filters of each resource (the keyword arguments of its ``list``)."""

SORTS = ("created_at", "updated_at", "name")
"""The unified fields a ``list(sort=...)`` may name."""

ORDERS = ("asc", "desc")

MODELS: Mapping[str, str] = {
    "crm.deals": "Deal",
    "crm.contacts": "Contact",
    "crm.companies": "Company",
    "crm.pipelines": "Pipeline",
    "crm.users": "User",
}


def resource_capabilities(resource: str, adapter: Any) -> ResourceCapabilities:
    """The capabilities one adapter (class or instance) declares for ``resource``."""
    cls: type[ReadOnlyAdapter[Any]] = adapter if isinstance(adapter, type) else type(adapter)
    operations = frozenset(op for op in OPERATIONS if cls.supports(op))
    writes = operations & {"create", "update"}
    writable: frozenset[str] = frozenset()
    if writes:
        declared = cls.writable_fields
        writable = frozenset(declared) if declared is not None else _model_write_fields(resource)
    return ResourceCapabilities(
        operations=operations,
        filters=frozenset(cls.filters),
        sorts=frozenset(cls.sorts),
        writable_fields=writable,
    )


def capabilities(provider: Provider) -> dict[str, ResourceCapabilities]:
    """Every resource ``provider`` offers -> its capabilities (imports the adapters)."""
    out: dict[str, ResourceCapabilities] = {}
    for resource in sorted(provider.adapters):
        adapter = provider.adapter(resource)
        if adapter is not None:
            out[resource] = resource_capabilities(resource, adapter)
    return out


def _model_write_fields(resource: str) -> frozenset[str]:
    import unified_sdk.models
    from unified_sdk.models.crm import write_model

    name = MODELS.get(resource)
    if name is None:
        return frozenset()
    return frozenset(write_model(getattr(unified_sdk.models, name)).model_fields)


def check_list(provider: str, resource: str, adapter: Any, query: ListQuery) -> None:
    """Refuse, before anything is sent, a filter or sort the provider's adapter does not declare."""
    cls: type[ReadOnlyAdapter[Any]] = type(adapter)
    asked = [*(["updated_after"] if query.updated_after is not None else []), *query.filters]
    missing = [name for name in asked if name not in cls.filters]
    if missing:
        supported = sorted(cls.filters)
        raise NotSupportedError(
            f"{provider} cannot filter {resource} by {', '.join(missing)}; nothing was sent",
            provider=provider,
            details={"filters": missing, "supported": supported},
            hint=f"{provider} {resource} filters: {', '.join(supported) or 'none'} "
            f"(client.providers.get({provider!r}).capabilities)",
        )
    if query.order not in ORDERS:
        raise ValidationError(
            f"order must be 'asc' or 'desc', not {query.order!r}; nothing was sent",
            provider=provider,
            details={"fields": ["order"]},
        )
    if query.sort is None:
        return
    if query.sort not in SORTS:
        raise ValidationError(
            f"cannot sort by {query.sort!r}: sort by one of {', '.join(SORTS)}; nothing was sent",
            provider=provider,
            details={"fields": ["sort"]},
        )
    if query.sort not in cls.sorts:
        supported = sorted(cls.sorts)
        raise NotSupportedError(
            f"{provider} cannot sort {resource} by {query.sort}; nothing was sent",
            provider=provider,
            details={"sorts": [query.sort], "supported": supported},
            hint=f"{provider} {resource} sorts: {', '.join(supported) or 'none'}",
        )


def check_writable(provider: str, resource: str, adapter: Any, data: Mapping[str, Any]) -> None:
    """Refuse, before anything is sent, a write naming a field the provider cannot write."""
    declared: Collection[str] | None = type(adapter).writable_fields
    if declared is None:
        return
    refused = sorted(k for k in data if k not in declared)
    if refused:
        raise NotSupportedError(
            f"{provider} cannot write {resource} field(s) {', '.join(refused)}; nothing was sent",
            provider=provider,
            details={"fields": refused},
            hint=f"remove {', '.join(refused)} from the write",
        )


def support_matrix_markdown(providers: Iterable[Provider]) -> str:
    """The docs' support matrix (``docs/support-matrix.md``) from the providers' declarations."""
    found = sorted(providers, key=lambda p: p.name)
    caps = {p.name: capabilities(p) for p in found}
    head = "| resource | capability | " + " | ".join(p.display_name for p in found) + " |"
    rule = "| --- | --- | " + " | ".join(":---:" for _ in found) + " |"
    lines = [
        "# Support matrix",
        "",
        "<!-- Generated by unified_sdk._capabilities.support_matrix_markdown() from the plugins' declared",
        "     capabilities; tests/test_capabilities.py fails when this file is stale. Do not edit by hand. -->",
        "",
        "What each provider supports per unified resource, as its plugin declares it (the same data as",
        "`client.providers.get(name).capabilities` and `unified-sdk providers show NAME`). Anything not",
        "marked ✓ raises `NotSupportedError` before a request is sent; nothing is silently ignored.",
        "",
        head,
        rule,
    ]
    resources = sorted({r for c in caps.values() for r in c})

    def cell(name: str, resource: str, test: Any) -> str:
        found_caps = caps[name].get(resource)
        return "✓" if found_caps is not None and test(found_caps) else "—"

    for resource in resources:
        rows: list[tuple[str, Any]] = [(f"`{op}`", lambda c, op=op: op in c.operations) for op in OPERATIONS]
        rows += [(f"filter `{f}`", lambda c, f=f: f in c.filters) for f in FILTERS.get(resource, ())]
        if any(caps[p.name].get(resource) and caps[p.name][resource].sorts for p in found):
            rows += [(f"sort `{s}`", lambda c, s=s: s in c.sorts) for s in SORTS]
        for label, test in rows:
            cells = " | ".join(cell(p.name, resource, test) for p in found)
            lines.append(f"| `{resource}` | {label} | {cells} |")
    lines += ["", "## Writable fields", ""]
    for p in found:
        for resource, c in caps[p.name].items():
            if c.writable_fields:
                names = ", ".join(f"`{f}`" for f in sorted(c.writable_fields))
                lines.append(f"- {p.display_name} `{resource}`: {names}")
    return "\n".join(lines) + "\n"
