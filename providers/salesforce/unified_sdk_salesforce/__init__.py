"""Salesforce for unified-sdk: the provider plugin (``salesforce``) and, in ``.fake``, a local Salesforce.

Importing this package loads neither the adapters nor the fake.
"""

from unified_sdk_salesforce._provider import DEFAULT_API_VERSION, SalesforceProvider, login_endpoints

__all__ = ["DEFAULT_API_VERSION", "SalesforceProvider", "login_endpoints"]
