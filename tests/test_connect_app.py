"""The web Connect example (examples/connect_app) driven by headless Chromium against the local HubSpot.

Everything is real: the app is served by uvicorn on 127.0.0.1, Chromium clicks through the
fake HubSpot's consent page, the SDK exchanges the code over HTTP and stores the connection in SQLite.
Chromium is Debian's (``make test`` installs it); Playwright only drives it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from unified_sdk_hubspot.fake import FakeHubSpot

from examples.connect_app import create_app
from unified_sdk import Client
from unified_sdk._oauth import manager
from unified_sdk.testing import LocalServer, configure_integration, sqlite_client

if os.environ.get("CI"):  # on CI a missing browser stack is a failed install, never a skip
    import playwright.sync_api as sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not os.environ.get("CI") and not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)", allow_module_level=True)

CALLBACK_PATH = "/oauth/callback"


class AppServer(LocalServer):
    """Serves an ASGI app set after start, once the URL (and so the redirect URI) is known."""

    app: Any = None

    def build_app(self) -> Any:
        async def dispatch(scope: Any, receive: Any, send: Any) -> None:
            await self.app(scope, receive, send)

        return dispatch


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        # Playwright passes --no-sandbox itself (chromiumSandbox defaults to off), which running as root needs.
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        fake.seed(deals=3)
        yield fake


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with sqlite_client(tmp_path) as c:
        yield c


@pytest.fixture
def app_url(client: Client, hubspot: FakeHubSpot) -> Iterator[str]:
    with AppServer() as server:
        redirect_uri = server.url + CALLBACK_PATH
        hubspot.allow_redirect_url(redirect_uri)
        configure_integration(client, hubspot, "hubspot", redirect_uri=redirect_uri)
        server.app = create_app(client, "hubspot", redirect_uri=redirect_uri)
        yield server.url


def connect_and_decide(page: Any, app_url: str, hubspot: FakeHubSpot, decision: str) -> str:
    """Open the app, click Connect, choose ``decision`` on HubSpot's consent page; the callback URL."""
    page.goto(app_url + "/")
    page.get_by_role("button", name="Connect HubSpot").click()
    page.wait_for_url(hubspot.url + "/oauth/authorize?**")
    with page.expect_request(lambda r: r.url.startswith(app_url + CALLBACK_PATH)) as callback:
        page.get_by_role("button", name=decision).click()
    page.wait_for_load_state()
    return str(callback.value.url)


def test_connect_approve_and_see_the_deals(
    page: Any, app_url: str, hubspot: FakeHubSpot, client: Client, tmp_path: Path
) -> None:
    name = '<b>Acme</b> & "Sons" <script>window.pwned = 1</script>'
    created = httpx2.post(
        hubspot.url + "/crm/v3/objects/deals",
        json={"properties": {"dealname": name}},
        headers={"Authorization": f"Bearer {hubspot.api_key}"},
    )
    assert created.status_code == 201, created.text
    deal_names = [r["properties"]["dealname"] for r in hubspot.records("deals")]
    assert len(deal_names) == 4

    page.goto(app_url + "/")
    page.get_by_role("button", name="Connect HubSpot").click()
    page.wait_for_url(hubspot.url + "/oauth/authorize?**")
    assert page.get_by_role("button", name="Allow").is_visible()
    assert "crm.objects.deals.read" in page.content()
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(app_url + "/connections/*")
    assert page.locator("h1").inner_text() == "HubSpot connected"
    assert page.locator("#health").inner_text() == "healthy"
    cells = page.locator("#deals tbody tr td:first-child").all_inner_texts()
    assert sorted(cells) == sorted(deal_names)  # the hostile name shown as text, not run as markup
    assert page.evaluate("typeof window.pwned") == "undefined"

    (connection,) = client.connections.list(provider="hubspot")
    assert page.url == f"{app_url}/connections/{connection.id}"
    assert connection.external_id == "customer-42" and connection.scopes == ["crm_deal_read"]
    assert hubspot.token_requests == {"authorization_code": 1}

    shot = tmp_path / "connected.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 1000

    page.goto(app_url + "/")  # the start page lists the new connection
    assert page.get_by_role("link", name=connection.id).is_visible()


def test_deny_shows_a_declined_page(page: Any, app_url: str, hubspot: FakeHubSpot, client: Client) -> None:
    callback = connect_and_decide(page, app_url, hubspot, "Deny")
    assert "error=access_denied" in callback

    assert page.locator("h1").inner_text() == "You declined to connect HubSpot"
    assert "try again and choose Allow" in page.locator("body").inner_text()
    assert client.connections.list() == []
    assert hubspot.token_requests == {}  # nothing was sent to the token endpoint

    page.get_by_role("link", name="Try again").click()
    page.wait_for_url(app_url + "/")
    assert page.get_by_role("button", name="Connect HubSpot").is_visible()


def test_reloaded_callback_says_already_used_and_connects_once(
    page: Any, app_url: str, hubspot: FakeHubSpot, client: Client
) -> None:
    callback = connect_and_decide(page, app_url, hubspot, "Allow")
    page.wait_for_url(app_url + "/connections/*")
    assert len(client.connections.list()) == 1

    response = page.goto(callback)  # what a reload or the back button does
    assert response.status == 400
    assert page.locator("h1").inner_text() == "This link was already used"
    assert page.get_by_role("link", name="Try again").get_attribute("href") == "/"
    assert len(client.connections.list()) == 1
    assert hubspot.token_requests == {"authorization_code": 1}


def test_callback_from_another_browser_is_refused_without_spending_it(
    browser: Any, page: Any, app_url: str, hubspot: FakeHubSpot, client: Client
) -> None:
    # The user approves, but the callback is opened in a browser that did not start the flow
    # (a link someone sent): the app refuses it before the SDK sees it.
    page.goto(app_url + "/")
    page.get_by_role("button", name="Connect HubSpot").click()
    page.wait_for_url(hubspot.url + "/oauth/authorize?**")
    callback = hubspot.approve(page.url)

    other = browser.new_context()
    try:
        stranger = other.new_page()
        stranger.goto(callback)
        assert stranger.locator("h1").inner_text() == "This link was started somewhere else"
    finally:
        other.close()
    assert client.connections.list() == []
    assert hubspot.token_requests == {}

    page.goto(callback)  # the browser that started the flow can still finish it
    page.wait_for_url(app_url + "/connections/*")
    assert len(client.connections.list()) == 1


def test_expired_link_says_so(page: Any, app_url: str, hubspot: FakeHubSpot, client: Client) -> None:
    manager(client._runtime).state_ttl = -1  # the user approves after the SDK's state (10 minutes) has lapsed
    callback = connect_and_decide(page, app_url, hubspot, "Allow")
    assert "code=" in callback

    assert page.locator("h1").inner_text() == "This link has expired"
    assert page.get_by_role("link", name="Try again").is_visible()
    assert client.connections.list() == []
    assert hubspot.token_requests == {}


def test_provider_failure_during_the_exchange_is_explained(
    page: Any, app_url: str, hubspot: FakeHubSpot, client: Client
) -> None:
    hubspot.inject(status=500, path="/oauth/v3/token", times=1)
    connect_and_decide(page, app_url, hubspot, "Allow")

    assert page.locator("h1").inner_text() == "HubSpot could not complete the connection"
    assert page.locator(".problem").inner_text().startswith("HubSpot answered: hubspot token request failed")
    assert page.locator(".advice").inner_text().startswith("The provider's token endpoint failed")
    assert hubspot.oauth_client_secret not in page.content()
    assert client.connections.list() == []
    assert [m for m, path in hubspot.received_requests if path == "/oauth/v3/token"] == ["POST"]

    page.get_by_role("link", name="Try again").click()  # a new attempt goes through
    page.get_by_role("button", name="Connect HubSpot").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(app_url + "/connections/*")
    assert len(client.connections.list()) == 1
