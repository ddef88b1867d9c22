"""The sandbox CRM server, a realistic local CRM for tests, demos and benchmarks.

Run it as its own process (prints one JSON line with its URL and credentials)::

    python -m unified_sdk_sandbox.fake --port 0 --deals 10000
"""

from unified_sdk_sandbox.fake._data import SCOPES, ApiError, SandboxData
from unified_sdk_sandbox.fake._server import ERROR_TYPES, SandboxServer, SeenRequest, error_body

__all__ = ["ERROR_TYPES", "SCOPES", "ApiError", "SandboxData", "SandboxServer", "SeenRequest", "error_body"]
