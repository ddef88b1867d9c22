"""HubSpot provider plugin for unified-sdk.

Importing this package loads only the provider class; adapters are imported on
first use and the local fake lives in :mod:`unified_sdk_hubspot.fake`.
"""

from unified_sdk_hubspot._provider import HubSpotProvider

__all__ = ["HubSpotProvider"]
