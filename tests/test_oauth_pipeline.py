"""Every OAuth request goes through the pipeline: the client's ``http_client`` sees it (RFC 9207 too).

Real HTTP to the sandbox fake; a transport subclass counts what the user's HTTP client sent, and
the fake's authorization server counts what arrived.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx2
import pytest
from unified_sdk_sandbox import SandboxProvider
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import AsyncClient, Client
from unified_sdk.errors import AuthorizationError, ProviderError
from unified_sdk.testing import (
    authorize,
    authorize_async,
    configure_integration,
    configure_integration_async,
    set_jitter,
)

PROVIDERS = {"sandbox": SandboxProvider}


class CountingTransport(httpx2.HTTPTransport):
    """A real transport that counts the requests it sends, by method and path."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: Counter[tuple[str, str]] = Counter()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent[(request.method, request.url.path)] += 1
        return super().handle_request(request)


class AsyncCountingTransport(httpx2.AsyncHTTPTransport):
    """The async twin of :class:`CountingTransport`."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: Counter[tuple[str, str]] = Counter()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent[(request.method, request.url.path)] += 1
        return await super().handle_async_request(request)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox whose token responses carry no ``scope`` (so grants come from introspection),
    counting the introspection and revocation requests its authorization server handles."""
    with SandboxServer(deals=5, contacts=0, companies=0) as s:
        s.oauth.token_response = lambda body, info: {k: v for k, v in body.items() if k != "scope"}
        s.handled = Counter()  # type: ignore[attr-defined]
        for name in ("introspect", "revoke"):
            real = getattr(s.oauth, name)

            def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                s.handled[_name] += 1  # type: ignore[attr-defined]
                return _real(*args, **kwargs)

            monkeypatch.setattr(s.oauth, name, counted)
        yield s


EXPECTED = {
    ("POST", "/oauth/token"): 2,  # the code exchange, then the refresh
    ("POST", "/oauth/introspect"): 1,  # the grant, learned after the exchange
    ("GET", "/v1/me"): 1,  # the post-callback health check
    ("GET", "/v1/deals"): 2,  # refused with the expired token, then sent again after the refresh
    ("POST", "/oauth/revoke"): 2,  # the refresh token, then the access token
}


def _check_the_fake_saw(server: SandboxServer) -> None:
    assert server.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert server.handled == {"introspect": 1, "revoke": 2}  # type: ignore[attr-defined]
    assert server.count("GET", "/v1/me") == 1 and server.count("GET", "/v1/deals") == 2


def test_the_users_http_client_sees_every_oauth_request(db_url: str, server: SandboxServer) -> None:
    transport = CountingTransport()
    with (
        httpx2.Client(transport=transport, timeout=10) as http,
        Client(database_url=db_url, providers=PROVIDERS, http_client=http) as client,
    ):
        conn = authorize(client, server, "sandbox", ["crm_deal_read"])
        assert conn.scopes == ["crm_deal_read"]
        server.expire_access_tokens()
        assert len(client.crm.deals.list(connection_id=conn.id, limit=5).data) == 5
        client.connections.delete(conn.id)
    assert dict(transport.sent) == EXPECTED
    _check_the_fake_saw(server)


def test_the_async_clients_http_client_sees_every_oauth_request(db_url: str, server: SandboxServer) -> None:
    transport = AsyncCountingTransport()

    async def main() -> None:
        async with (
            httpx2.AsyncClient(transport=transport, timeout=10) as http,
            AsyncClient(database_url=db_url, providers=PROVIDERS, http_client=http) as client,
        ):
            await configure_integration_async(client, server, "sandbox")
            conn = await authorize_async(client, server, "sandbox", ["crm_deal_read"], configure=False)
            assert conn.scopes == ["crm_deal_read"]
            server.expire_access_tokens()
            assert len((await client.crm.deals.list(connection_id=conn.id, limit=5)).data) == 5
            await client.connections.delete(conn.id)

    asyncio.run(main())
    assert dict(transport.sent) == EXPECTED
    _check_the_fake_saw(server)


def test_oauth_requests_are_in_the_call_log_once_each(db_url: str, server: SandboxServer) -> None:
    with Client(database_url=db_url, providers=PROVIDERS) as client:
        conn = authorize(client, server, "sandbox", ["crm_deal_read"])
        client._runtime.logs.flush()  # rows are written off the request path
        operations = [log.operation for log in reversed(client.logs.list(connection_id=conn.id))]
    assert operations == ["oauth.code_exchange", "oauth.introspect", "health_check"]


def test_revocation_is_sent_again_after_a_503_but_a_refresh_is_not(db_url: str, server: SandboxServer) -> None:
    transport = CountingTransport()
    with (
        httpx2.Client(transport=transport, timeout=10) as http,
        Client(database_url=db_url, providers=PROVIDERS, http_client=http) as client,
    ):
        set_jitter(client, lambda: 0.0)
        conn = authorize(client, server, "sandbox", ["crm_deal_read"])
        server.expire_access_tokens()
        server.inject(status=503, path="/oauth/token")
        with pytest.raises(ProviderError):
            client.crm.deals.list(connection_id=conn.id, limit=5)
        # A refresh token may be spent by a request the provider processed: it is never re-sent.
        assert transport.sent[("POST", "/oauth/token")] == 2  # the code exchange and one refresh
        server.inject(status=503, path="/oauth/revoke")
        client.connections.delete(conn.id)
    # Revocation is harmless to repeat: the refused one is sent again, then the access token's.
    assert transport.sent[("POST", "/oauth/revoke")] == 3
    assert server.handled["revoke"] == 2  # type: ignore[attr-defined]


def _with_iss(callback: str, iss: str | None) -> str:
    parts = urlsplit(callback)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "iss"] + ([("iss", iss)] if iss is not None else [])
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_the_sandbox_callback_names_its_issuer(db_url: str, server: SandboxServer) -> None:
    with Client(database_url=db_url, providers=PROVIDERS) as client:
        configure_integration(client, server, "sandbox")
        request = client.auth.authorization_url("sandbox", scopes=["crm_deal_read"])
        callback = server.approve(request.url)
        assert dict(parse_qsl(urlsplit(callback).query))["iss"] == server.url
        # The browser's way: the authorization endpoint's redirect names it too.
        answer = httpx2.get(request.url + "&auto_approve=1")
        assert answer.status_code == 302
        assert dict(parse_qsl(urlsplit(answer.headers["location"]).query))["iss"] == server.url


@pytest.mark.parametrize("iss", ["http://127.0.0.1:1", None], ids=["other_issuer", "no_iss"])
def test_a_callback_from_another_issuer_is_refused_before_the_token_endpoint(
    db_url: str, server: SandboxServer, iss: str | None
) -> None:
    transport = CountingTransport()
    with (
        httpx2.Client(transport=transport, timeout=10) as http,
        Client(database_url=db_url, providers=PROVIDERS, http_client=http) as client,
    ):
        configure_integration(client, server, "sandbox")
        request = client.auth.authorization_url("sandbox", scopes=["crm_deal_read"])
        with pytest.raises(AuthorizationError) as info:
            client.auth.complete(_with_iss(server.approve(request.url), iss))
        assert "RFC 9207" in str(info.value)
        assert client.connections.list() == []
    assert server.token_requests == {}
    assert transport.sent[("POST", "/oauth/token")] == 0
