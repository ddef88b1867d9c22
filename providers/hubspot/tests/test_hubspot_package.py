"""The package as the core sees it: a lazy entry point, scopes on display, adapters on demand."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

from unified_sdk_hubspot import HubSpotProvider

from unified_sdk import Client


def test_importing_the_plugin_loads_no_adapter_fake_or_server() -> None:
    code = (
        "import sys, json, unified_sdk_hubspot; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('uvicorn', 'starlette', 'unified_sdk_hubspot'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [
        "unified_sdk_hubspot",
        "unified_sdk_hubspot._errors",
        "unified_sdk_hubspot._provider",
        "unified_sdk_hubspot._ratelimit",
    ]


def test_registered_under_the_entry_point_group() -> None:
    (ep,) = [e for e in entry_points(group="unified_sdk.providers") if e.name == "hubspot"]
    assert ep.value == "unified_sdk_hubspot:HubSpotProvider"
    assert ep.load() is HubSpotProvider


def test_scopes_shown_by_the_client(client: Client) -> None:
    info = client.providers.get("hubspot")
    assert info.display_name == "HubSpot"
    assert {k: v.required for k, v in info.scopes.items()} == {
        "crm_deal_read": ("crm.objects.deals.read",),
        "crm_deal_write": ("crm.objects.deals.write",),
        "crm_contact_read": ("crm.objects.contacts.read",),
        "crm_contact_write": ("crm.objects.contacts.write",),
        "crm_company_read": ("crm.objects.companies.read",),
        "crm_company_write": ("crm.objects.companies.write",),
        "crm_user_read": ("crm.objects.owners.read",),
        "crm_pipeline_read": ("crm.objects.deals.read",),
    }
    assert info.resources == ["crm.companies", "crm.contacts", "crm.deals", "crm.pipelines", "crm.users"]
    oauth = HubSpotProvider.oauth
    assert oauth is not None
    assert oauth.token_url.endswith("/oauth/v3/token")
    assert oauth.optional_scope_param == "optional_scope" and oauth.always_scopes == ("oauth",)


def test_every_adapter_imports() -> None:
    provider = HubSpotProvider()
    for resource in HubSpotProvider.adapters:
        assert provider.adapter(resource) is not None
