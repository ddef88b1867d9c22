"""Capabilities as data: exposed per provider, enforced before sending, typed keywords, the generated support matrix."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from mypy import api as mypy_api
from typer.testing import CliRunner

from unified_sdk import Client
from unified_sdk._capabilities import support_matrix_markdown
from unified_sdk.cli import app
from unified_sdk.errors import NotSupportedError
from unified_sdk.testing import sqlite_client

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / "docs" / "support-matrix.md"
BUILT_IN = ("sandbox", "hubspot", "salesforce")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with sqlite_client(tmp_path) as c:
        yield c


def test_capabilities_are_exposed_per_provider_and_resource(client: Client) -> None:
    deals = client.providers.get("sandbox").capabilities["crm.deals"]
    assert deals.operations == {"list", "get", "create", "update", "delete"}
    assert {"stage_id", "pipeline_id", "contact_id", "query", "updated_after"} <= deals.filters
    assert deals.sorts == {"created_at", "updated_at", "name"}
    assert "stage_id" in deals.writable_fields and "closing_at" in deals.writable_fields
    users = client.providers.get("sandbox").capabilities["crm.users"]
    assert users.operations == {"list", "get"} and users.writable_fields == frozenset()
    salesforce = client.providers.get("salesforce").capabilities["crm.deals"]
    assert "pipeline_id" not in salesforce.filters and "stage_id" in salesforce.filters
    hubspot = client.providers.get("hubspot").capabilities["crm.contacts"]
    assert "name" not in hubspot.sorts and "email" in hubspot.filters


def test_support_matrix_doc_is_generated_from_the_declarations(client: Client) -> None:
    providers = [client._runtime.registry.get(name) for name in BUILT_IN]
    expected = support_matrix_markdown(providers)
    assert MATRIX.read_text(encoding="utf-8") == expected, (
        "docs/support-matrix.md is stale; regenerate it: python -c 'from tests.test_capabilities import "
        "write_matrix; write_matrix()'"
    )
    assert "| `crm.deals` | filter `stage_id` | ✓ | ✓ | ✓ |" in expected  # HubSpot, Salesforce, Sandbox


def write_matrix() -> None:
    """Rewrite docs/support-matrix.md from the installed built-in providers' declarations."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, sqlite_client(tmp) as c:
        MATRIX.write_text(support_matrix_markdown([c._runtime.registry.get(n) for n in BUILT_IN]), encoding="utf-8")


def test_an_unsupported_filter_names_provider_and_filter_before_sending(tmp_path: Path) -> None:
    from unified_sdk_sandbox.fake import SandboxServer

    with SandboxServer(deals=3, contacts=1, companies=1) as server, sqlite_client(tmp_path) as client:
        conn = client.connections.create(
            provider="sandbox", credentials={"api_key": server.api_key}, config=server.config
        )
        before = server.count()
        with pytest.raises(NotSupportedError) as info:
            client.crm.users.list(connection_id=conn.id, updated_after=conn.created_at)
        assert info.value.provider == "sandbox" and info.value.connection_id == conn.id
        assert "sandbox cannot filter crm.users by updated_after" in info.value.message
        assert server.count() == before


def test_mypy_catches_a_misspelt_or_undeclared_filter(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        textwrap.dedent(
            """
            from unified_sdk import Client

            def run(client: Client) -> None:
                client.crm.deals.list(connection_id="c", stage_id="s", sort="name", order="desc")
                client.crm.deals.list(connection_id="c", limt=5)
                client.crm.deals.list(connection_id="c", stage="Demo")
                client.crm.contacts.list(connection_id="c", sort="amount")
            """
        )
    )
    out, _, status = mypy_api.run(["--strict", "--no-incremental", "--cache-dir=/dev/null", str(snippet)])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1
    assert [line.split(":")[1] for line in errors] == ["6", "7", "8"], out
    assert 'Unexpected keyword argument "limt"' in errors[0]
    assert 'Unexpected keyword argument "stage"' in errors[1]


def test_cli_providers_show_prints_the_capabilities(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sdk.db'}"
    result = CliRunner().invoke(app, ["--database-url", url, "--create", "providers", "show", "sandbox", "--json"])
    assert result.exit_code == 0, result.output
    caps = json.loads(result.stdout)["capabilities"]
    assert caps["crm.deals"]["operations"] == ["list", "get", "create", "update", "delete"]
    assert "stage_id" in caps["crm.deals"]["filters"]
    assert caps["crm.deals"]["sorts"] == ["created_at", "name", "updated_at"]
    table = CliRunner().invoke(app, ["--database-url", url, "--create", "providers", "show", "hubspot"])
    assert table.exit_code == 0 and "crm.contacts" in table.stdout
    listed = CliRunner().invoke(app, ["--database-url", url, "--create", "providers", "--json"])
    assert listed.exit_code == 0 and "sandbox" in {row["name"] for row in json.loads(listed.stdout)}


def test_cli_filter_maps_to_declared_keywords_and_refuses_others(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sdk.db'}"
    result = CliRunner().invoke(
        app, ["--database-url", url, "--create", "crm", "deals", "list", "-c", "conn_x", "--filter", "stage=Demo"]
    )
    assert result.exit_code != 0 and "deals has no such filter" in result.output
