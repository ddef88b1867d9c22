"""Provider plugin discovery through the ``unified_sdk.providers`` entry-point group.

Names are listed from package metadata without importing anything; a plugin
is imported (through stevedore) the first time it is used. A plugin that
fails to load is reported by name with its error, and the others keep working.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from typing import Any

from unified_sdk.errors import ConfigurationError, UnknownProviderError
from unified_sdk.provider import Provider

NAMESPACE = "unified_sdk.providers"
logger = logging.getLogger("unified_sdk.providers")


class ProviderRegistry:
    """Finds provider plugins and loads each once, on first use.

    ``providers`` builds a registry from given classes instead of installed
    entry points (for tests, like stevedore's ``make_test_instance``).
    """

    def __init__(self, providers: dict[str, type[Provider]] | None = None) -> None:
        self._fixed = providers
        self._loaded: dict[str, Provider] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Installed provider names, sorted, without importing any plugin."""
        if self._fixed is not None:
            return sorted(self._fixed)
        return sorted({ep.name for ep in entry_points(group=NAMESPACE)})

    @property
    def errors(self) -> dict[str, str]:
        """Plugins that failed to load: name -> error."""
        return dict(self._errors)

    def get(self, name: str) -> Provider:
        """The loaded plugin ``name``; :class:`UnknownProviderError` if none is installed."""
        found = self._loaded.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._loaded.get(name)
            if found is None:
                found = self._load(name)
                self._loaded[name] = found
        return found

    def load_all(self) -> list[Provider]:
        """Every plugin that loads; the failures are kept in :attr:`errors`."""
        loaded = []
        for name in self.names():
            try:
                loaded.append(self.get(name))
            except ConfigurationError:
                continue
        return loaded

    def _load(self, name: str) -> Provider:
        if self._fixed is not None:
            if name not in self._fixed:
                raise self._unknown(name)
            return self._instantiate(name, self._fixed[name])
        if name not in self.names():
            raise self._unknown(name)
        from stevedore import DriverManager, ExtensionManager

        # stevedore keeps the entry points it saw first for the life of the process;
        # drop them so a plugin installed (or removed) since then loads as listed.
        ExtensionManager.ENTRY_POINT_CACHE.pop(NAMESPACE, None)
        failure: list[BaseException] = []

        def on_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
            failure.append(exc)

        try:
            manager = DriverManager(
                NAMESPACE,
                name,
                invoke_on_load=False,
                on_load_failure_callback=on_failure,
            )
            plugin = manager.driver
        except Exception as exc:
            failure.append(exc)
            plugin = None
        if plugin is None or failure:
            cause = failure[0] if failure else RuntimeError("no plugin class")
            return self._fail(name, f"{type(cause).__name__}: {cause}", cause)
        return self._instantiate(name, plugin)

    def _instantiate(self, name: str, plugin: Any) -> Provider:
        if not (isinstance(plugin, type) and issubclass(plugin, Provider)):
            return self._fail(name, f"entry point does not name a Provider subclass (got {plugin!r})")
        try:
            instance = plugin()
        except Exception as exc:
            return self._fail(name, f"{type(exc).__name__}: {exc}", exc)
        if getattr(instance, "name", None) != name:
            return self._fail(name, f"plugin class says its name is {getattr(plugin, 'name', None)!r}")
        return instance

    def _fail(self, name: str, why: str, exc: BaseException | None = None) -> Provider:
        self._errors[name] = why
        logger.warning("provider plugin %r failed to load: %s", name, why)
        raise ConfigurationError(
            f"provider plugin {name!r} failed to load: {why}",
            provider=name,
            hint=f"reinstall or fix the package that provides {name!r}; other providers still work",
        ) from exc

    def _unknown(self, name: str) -> UnknownProviderError:
        installed = ", ".join(self.names()) or "none"
        return UnknownProviderError(
            f"no provider plugin named {name!r} is installed (installed: {installed})",
            provider=name,
            hint=f"install unified-sdk-{name}, or use one of: {installed}",
        )
