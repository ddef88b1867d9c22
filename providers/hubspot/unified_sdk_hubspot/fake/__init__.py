"""A local HubSpot for tests: ``FakeHubSpot`` (see providers/hubspot/README.md)."""

from unified_sdk_hubspot.fake._fake import ALL_SCOPES, FakeHubSpot
from unified_sdk_hubspot.fake._oauth import AuthorizeError

__all__ = ["ALL_SCOPES", "AuthorizeError", "FakeHubSpot"]
