"""Sandbox CRM provider for unified-sdk: the plugin, and a realistic local CRM server to run it against.

Importing this package loads only the plugin class; the adapters are imported
by the core on first use, and :class:`SandboxServer` (which needs the
``fake`` extra: uvicorn, starlette) only when it is accessed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unified_sdk_sandbox._provider import SandboxProvider

if TYPE_CHECKING:
    from unified_sdk_sandbox.fake import SandboxServer

__all__ = ["SandboxProvider", "SandboxServer"]


def __getattr__(name: str) -> Any:
    if name == "SandboxServer":
        from unified_sdk_sandbox.fake import SandboxServer

        return SandboxServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
