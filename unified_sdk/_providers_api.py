"""``client.providers``: the installed provider plugins and what each offers."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from unified_sdk._capabilities import capabilities
from unified_sdk.provider import Provider, ResourceCapabilities, ScopeMapping

if TYPE_CHECKING:
    from unified_sdk._runtime import Runtime


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What an installed provider offers (``client.providers.list()``)."""

    name: str
    display_name: str
    categories: frozenset[str]
    auth_types: frozenset[str]
    unified_scopes: list[str]
    scopes: Mapping[str, ScopeMapping]
    """Unified scope → the provider scopes it needs (required and optional)."""
    resources: list[str]
    version: str
    capabilities: Mapping[str, ResourceCapabilities]
    """Resource (``crm.deals``) → its operations, filters, sorts and writable fields, as the plugin declares them.

    Example::

        client.providers.get("hubspot").capabilities["crm.deals"].filters
    """

    @classmethod
    def of(cls, provider: Provider) -> ProviderInfo:
        return cls(
            name=provider.name,
            display_name=provider.display_name,
            categories=frozenset(provider.categories),
            auth_types=frozenset(a.value for a in provider.auth_types),
            unified_scopes=sorted(provider.scopes),
            scopes=dict(provider.scopes),
            resources=sorted(provider.adapters),
            version=provider.version,
            capabilities=capabilities(provider),
        )


class Providers:
    """``client.providers``: the installed provider plugins.

    Synchronous on both clients: it does no storage or network I/O, only reads the
    installed entry points and imports plugins (a one-off cost at first use).
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def list(self) -> builtins.list[ProviderInfo]:
        """Every provider that loads; broken plugins are listed in :attr:`errors`."""
        return [ProviderInfo.of(p) for p in self._runtime.registry.load_all()]

    def names(self) -> builtins.list[str]:
        """Installed provider names, without importing any plugin."""
        return self._runtime.registry.names()

    def get(self, name: str) -> ProviderInfo:
        return ProviderInfo.of(self._runtime.registry.get(name))

    @property
    def errors(self) -> dict[str, str]:
        """Plugins that failed to load: name → error."""
        return self._runtime.registry.errors
