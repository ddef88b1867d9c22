"""No API key reaches a log row, an exception, a repr or the database file."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
import sqlalchemy as sa

from tests.toy.oauth_server import OAuthToyServer
from tests.toy.server import ToyServer
from tests.toy.toy_plugin import OAuthToyProvider, ToyProvider
from unified_sdk import AsyncClient, Client
from unified_sdk._crypto import OAUTH_STATE, bind
from unified_sdk._redact import REDACTED, redact_headers, redact_text, redact_url, redact_value
from unified_sdk._storage import oauth_states
from unified_sdk.errors import AuthenticationError, ValidationError
from unified_sdk.provider import Credentials, ProviderRequest
from unified_sdk.testing import authorize, set_jitter

API_KEY = "sk_live_9f8e7d6c5b4a3210"


def test_redaction_rules() -> None:
    assert redact_url("https://h/x?api_key=abc&page=2&access_token=t") == (
        f"https://h/x?api_key={REDACTED}&page=2&access_token={REDACTED}"
    )
    assert redact_url("https://user:pw@h/x") == f"https://{REDACTED}@h/x"
    assert redact_headers({"Authorization": "Bearer x", "X-Api-Key": "k", "Accept": "json"}) == {
        "Authorization": REDACTED,
        "X-Api-Key": REDACTED,
        "Accept": "json",
    }
    body = '{"access_token": "abc", "refresh_token": "def", "name": "deal"}'
    assert redact_text(body) == f'{{"access_token": "{REDACTED}", "refresh_token": "{REDACTED}", "name": "deal"}}'
    assert redact_text("grant_type=refresh_token&refresh_token=r1&code=c1&client_secret=s") == (
        f"grant_type=refresh_token&refresh_token={REDACTED}&code={REDACTED}&client_secret={REDACTED}"
    )
    assert redact_text("echo: my-secret-value", ["my-secret-value"]) == f"echo: {REDACTED}"


def test_api_key_never_leaks(toy_client: Client, toy_server: ToyServer, db_url: str) -> None:
    conn = toy_client.connections.create(
        provider="toy", credentials={"api_key": API_KEY}, config={"base_url": toy_server.url}
    )
    toy_client.crm.deals.list(connection_id=conn.id, limit=2)
    # The provider echoes the key back in its error body: it must still be redacted.
    toy_server.inject(status=401, body={"error": f"invalid key {API_KEY}"})
    with pytest.raises(AuthenticationError) as info:
        toy_client.crm.deals.list(connection_id=conn.id)
    record = toy_client._runtime.connections_store.record(conn.id)
    texts = [str(info.value), repr(info.value), repr(conn), repr(record.credentials), repr(record)]
    texts += [str(info.value.provider_message)]
    for log in toy_client.logs.list(connection_id=conn.id):
        texts += [repr(log), log.as_curl(), str(log.response_body)]
    assert any("invalid key" in t for t in texts)
    for text in texts:
        assert API_KEY not in text
    toy_client.close()
    db = Path(db_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    assert API_KEY.encode() not in raw


# -- error details ----------------------------------------------------------------------------------------
SANDBOX_KEY = "sk_sandbox_canary_1f2e3d4c5b6a"
FOREIGN_TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.4f6c1a9b"


@pytest.fixture
def sandbox() -> Iterator[Any]:
    fake = pytest.importorskip("unified_sdk_sandbox.fake")
    with fake.SandboxServer(deals=5, contacts=2, companies=1, api_key=SANDBOX_KEY) as server:
        yield server


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    c = Client(database_url=db_url, timeout=2.0)
    set_jitter(c, lambda: 0.0)
    yield c
    c.close()


def test_error_details_are_redacted_like_the_message(client: Client, sandbox: Any) -> None:
    conn = client.connections.create(provider="sandbox", credentials={"api_key": SANDBOX_KEY}, config=sandbox.config)
    echo = {
        "error": {
            "type": "validation_failed",
            "message": f"bad request for key {SANDBOX_KEY}",
            "param": SANDBOX_KEY,
            "existing_id": f"dup-{SANDBOX_KEY}",
            "fields": [
                {"field": "title", "message": f"'{SANDBOX_KEY}' is not a title"},
                {"field": "owner", "message": f"sent with Authorization: Bearer {FOREIGN_TOKEN}"},
                {"field": "source", "message": f"from https://h/cb?access_token={FOREIGN_TOKEN}&page=2"},
            ],
        }
    }
    sandbox.inject(status=422, body=echo, path="/v1/deals")
    with pytest.raises(ValidationError) as info:
        client.crm.deals.list(connection_id=conn.id)
    error = info.value
    dumped = json.dumps(error.details)
    assert SANDBOX_KEY not in dumped and FOREIGN_TOKEN not in dumped
    # The structure is kept; only the secret text is replaced.
    assert error.details["param"] == REDACTED
    assert error.details["existing_id"] == f"dup-{REDACTED}"
    assert [f["field"] for f in error.details["fields"]] == ["title", "owner", "source"]
    assert error.details["fields"][0]["message"] == f"'{REDACTED}' is not a title"
    assert error.details["fields"][2]["message"] == f"from https://h/cb?access_token={REDACTED}&page=2"
    for text in (str(error), repr(error), error.message, str(error.provider_message), str(error.hint)):
        assert SANDBOX_KEY not in text and FOREIGN_TOKEN not in text


def test_redact_value_walks_dicts_and_lists() -> None:
    value = {"a": ["x secret-1 y", {"b": ("secret-1",)}], "access_token": "t0k3n-value", "n": 3, "ok": True}
    assert redact_value(value, ["secret-1"]) == {
        "a": [f"x {REDACTED} y", {"b": [REDACTED]}],
        "access_token": REDACTED,
        "n": 3,
        "ok": True,
    }
    assert redact_text(f"Authorization: Bearer {FOREIGN_TOKEN}") == f"Authorization: Bearer {REDACTED}"
    # Prose that merely mentions a bearer token is left alone.
    assert redact_text("Send an API key or an OAuth bearer token.") == "Send an API key or an OAuth bearer token."
    assert redact_text("GET https://h/x?api_key=abc&page=2") == f"GET https://h/x?api_key={REDACTED}&page=2"


# -- absolute URLs are locked to the connection's API host -------------------------------------------------
class FilesToyProvider(ToyProvider):
    """A toy whose files live on a second host, declared through ``allowed_hosts``."""

    name = "filestoy"

    def allowed_hosts(self, config: Mapping[str, Any]) -> set[str]:
        return {str(config["files_url"])}


def _escapes(other: ToyServer) -> list[str]:
    host = other.url.removeprefix("http://")
    return [
        f"{other.url}/items",
        f"HTTP://{host}/items",
        f"http:/{host}/items",
        f"//{host}/items",
        f"\\\\{host}/items",
        f"/\\{host}/items",
        f"http:\\\\{host}\\items",
        f"https://{host}/items",
        f"http://user@{host}/items",
    ]


def test_passthrough_refuses_other_hosts_before_sending(toy_client: Client, toy_server: ToyServer) -> None:
    conn = toy_client.connections.create(
        provider="toy", credentials={"api_key": API_KEY}, config={"base_url": toy_server.url}
    )
    with ToyServer() as other:
        for url in _escapes(other):
            with pytest.raises(ValidationError) as info:
                toy_client.passthrough.request(conn.id, "GET", url)
            assert info.value.hint is not None and "nothing was sent" in info.value.hint
        assert other.hits == {}
        assert "127.0.0.1" in str(info.value)
    # The connection's own host is fine, as an absolute URL too.
    response = toy_client.passthrough.request(conn.id, "GET", f"{toy_server.url}/items", params={"n": 1})
    assert response is not None and response.status == 200
    assert toy_server.hits == {"GET /items": 1}
    assert not toy_client.logs.list(connection_id=conn.id, status_min=400)


async def test_async_passthrough_refuses_other_hosts(db_url: str, toy_server: ToyServer) -> None:
    async with AsyncClient(database_url=db_url, providers={"toy": ToyProvider}, timeout=2.0) as aclient:
        conn = await aclient.connections.create(
            provider="toy", credentials={"api_key": API_KEY}, config={"base_url": toy_server.url}
        )
        with ToyServer() as other:
            for url in _escapes(other):
                with pytest.raises(ValidationError):
                    await aclient.passthrough.request(conn.id, "GET", url)
            assert other.hits == {}


def test_provider_declares_more_hosts(db_url: str, toy_server: ToyServer) -> None:
    with ToyServer() as files, ToyServer() as other:
        client = Client(database_url=db_url, providers={"filestoy": FilesToyProvider}, timeout=2.0)
        with client:
            conn = client.connections.create(
                provider="filestoy",
                credentials={"api_key": API_KEY},
                config={"base_url": toy_server.url, "files_url": files.url},
            )
            response = client.passthrough.request(conn.id, "GET", f"{files.url}/items", params={"n": 1})
            assert response is not None and response.status == 200
            with pytest.raises(ValidationError):
                client.passthrough.request(conn.id, "GET", f"{other.url}/items")
        assert files.hits == {"GET /items": 1}
        assert other.hits == {}


# -- no log record holds a secret ---------------------------------------------------------------------------
class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        out = []
        formatter = logging.Formatter("%(name)s %(message)s")
        for record in self.records:
            out += [record.getMessage(), repr(record.args), formatter.format(record)]
        return out


@pytest.fixture
def captured() -> Iterator[_Capture]:
    root = logging.getLogger()
    handler = _Capture()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _leaks(handler: _Capture, canaries: Sequence[str]) -> list[str]:
    return [t for t in handler.texts() for c in canaries if c and c in t]


def test_no_log_record_holds_a_secret(client: Client, sandbox: Any, captured: _Capture) -> None:
    canaries: list[str] = [SANDBOX_KEY, sandbox.oauth_client_secret]
    conn = client.connections.create(provider="sandbox", credentials={"api_key": SANDBOX_KEY}, config=sandbox.config)
    client.crm.deals.list(connection_id=conn.id, limit=2)
    # A key in the query string, under a secret-looking name and under a plain one.
    client.passthrough.request(conn.id, "GET", "/v1/deals", params={"api_key": SANDBOX_KEY, "limit": 1})
    client.passthrough.request(conn.id, "GET", "/v1/deals", params={"k": SANDBOX_KEY, "limit": 1})
    sandbox.inject(status=401, body={"error": {"type": "invalid_api_key", "message": f"bad {SANDBOX_KEY}"}})
    with pytest.raises(AuthenticationError):
        client.crm.deals.list(connection_id=conn.id)

    # OAuth: authorize, complete (code exchange, introspection, health check), refresh, revoke.
    client.integrations.configure(
        "sandbox",
        client_id=sandbox.oauth_client_id,
        client_secret=sandbox.oauth_client_secret,
        redirect_uri="http://127.0.0.1:9/callback",
        config=sandbox.config,
    )
    request = client.auth.authorization_url("sandbox", scopes=["crm_deal_read"])
    callback = sandbox.approve(request.url)
    canaries.append(parse_qs(urlsplit(callback).query)["code"][0])
    with client._runtime.store.read() as c:
        state_hash, payload = c.execute(sa.select(oauth_states.c.state_hash, oauth_states.c.payload)).one()
    canaries.append(
        client._runtime.connections_store.box.decrypt(payload, bind=bind(OAUTH_STATE, state_hash))["verifier"]
    )
    oauth_conn = client.auth.complete(callback)
    first = client._runtime.connections_store.record(oauth_conn.id, fresh=True).credentials
    client.crm.deals.list(connection_id=oauth_conn.id, limit=1)
    sandbox.expire_access_tokens()
    client.crm.deals.list(connection_id=oauth_conn.id, limit=1)
    second = client._runtime.connections_store.record(oauth_conn.id, fresh=True).credentials
    assert sandbox.token_requests == {"authorization_code": 1, "refresh_token": 1}
    client.connections.delete(oauth_conn.id)
    client.logs.list()
    canaries += [*first.secret_values(), *second.secret_values()]

    assert len(set(canaries)) == 8 and all(len(c) >= 8 for c in canaries)
    names = {r.name for r in captured.records}
    assert "httpx2" in names and any(n.startswith("httpcore2") for n in names)
    assert _leaks(captured, canaries) == []


async def test_async_no_log_record_holds_a_secret(db_url: str, sandbox: Any, captured: _Capture) -> None:
    async with AsyncClient(database_url=db_url, timeout=2.0) as aclient:
        conn = await aclient.connections.create(
            provider="sandbox", credentials={"api_key": SANDBOX_KEY}, config=sandbox.config
        )
        await aclient.passthrough.request(conn.id, "GET", "/v1/deals", params={"k": SANDBOX_KEY, "limit": 1})
        sandbox.inject(status=401, body={"error": {"type": "invalid_api_key", "message": f"bad {SANDBOX_KEY}"}})
        with pytest.raises(AuthenticationError):
            await aclient.crm.deals.list(connection_id=conn.id)
    assert any(r.name == "httpx2" for r in captured.records)
    assert _leaks(captured, [SANDBOX_KEY]) == []


class QueryIntrospectionToy(OAuthToyProvider):
    """A provider whose introspection request carries the token in its URL (the plugin builds it)."""

    name = "queryintrospect"
    oauth = dataclasses.replace(OAuthToyProvider.oauth, introspect_url="https://toy.invalid/oauth/introspect")

    def introspection_request(
        self, url: str, credentials: Credentials, client_id: str, client_secret: str | None
    ) -> ProviderRequest:
        return ProviderRequest("GET", url, params={"t": credentials.access_token or ""}, authenticated=False)


def test_plugin_built_oauth_requests_are_redacted_in_log_records(db_url: str, captured: _Capture) -> None:
    # Without a scope in the token response, the core asks the introspection endpoint.
    def no_scope(body: dict[str, Any], info: Any) -> dict[str, Any]:
        return {k: v for k, v in body.items() if k != "scope"}

    with (
        OAuthToyServer(token_response=no_scope) as server,
        Client(database_url=db_url, providers={"queryintrospect": QueryIntrospectionToy}) as c,
    ):
        conn = authorize(c, server, "queryintrospect", ["crm_deal_read"], redirect_uri=server.redirect_uri)
        token = c._runtime.connections_store.record(conn.id, fresh=True).credentials.access_token
    assert token and any(r.name == "httpx2" and "/oauth/introspect" in r.getMessage() for r in captured.records)
    assert _leaks(captured, [token]) == []


def test_the_apps_own_httpx2_records_are_left_alone(sandbox: Any, captured: _Capture) -> None:
    # Outside the SDK's calls the filter changes nothing (it is scoped to the SDK's own requests).
    Client(database_url="sqlite://").close()
    with httpx2.Client() as http:
        http.get(f"{sandbox.url}/v1/deals", params={"token": "app-owned-value"})
    assert any("token=app-owned-value" in r.getMessage() for r in captured.records if r.name == "httpx2")


# -- file permissions ---------------------------------------------------------------------------------------
def test_database_wal_and_key_files_are_private(tmp_path: Path, toy_server: ToyServer) -> None:
    db = tmp_path / "private" / "sdk.db"
    with Client(database_url=f"sqlite:///{db}", providers={"toy": ToyProvider}) as client:
        conn = client.connections.create(
            provider="toy", credentials={"api_key": API_KEY}, config={"base_url": toy_server.url}
        )
        client.crm.deals.list(connection_id=conn.id, limit=1)
        client.logs.list()
        files = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in db.parent.iterdir()}
    assert {"sdk.db", "sdk.db-wal", "sdk.db-shm", "sdk.db.key"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)
