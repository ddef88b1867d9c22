"""Helpers for the sandbox tests: drive adapter flows by hand over real HTTP, and make clients."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from unified_sdk_sandbox import SandboxProvider
from unified_sdk_sandbox.fake import SandboxServer

from unified_sdk import AsyncClient, Client, Connection
from unified_sdk.errors import error_class_for
from unified_sdk.provider import OperationContext, ProviderRequest, ProviderResponse
from unified_sdk.testing import authorize, configure_integration, sqlite_client

T = TypeVar("T")
C = TypeVar("C", Client, AsyncClient)

PROVIDER = SandboxProvider()


def ctx(server: SandboxServer, operation: str = "test") -> OperationContext:
    return OperationContext("conn_test", "sandbox", server.config, operation)


def send(http: httpx2.Client, request: ProviderRequest) -> ProviderResponse:
    """Send one plugin request to the server the way the core would (without retries)."""
    response = http.request(
        request.method, request.path, params=request.params, json=request.json, headers=dict(request.headers or {})
    )
    return ProviderResponse(response.status_code, response.headers, response.content, request)


def drive(flow: Generator[ProviderRequest, ProviderResponse, T], http: httpx2.Client) -> tuple[T, int]:
    """Run an operation flow: send each request, classify, raise the unified error inside it.

    Returns the flow's result and how many requests it sent.
    """
    sent = 0
    try:
        request = next(flow)
        while True:
            response = send(http, request)
            sent += 1
            outcome = PROVIDER.classify(response)
            if outcome.ok:
                request = flow.send(response)
            else:
                assert outcome.category is not None
                error = error_class_for(outcome.category)(
                    outcome.provider_message or "failed",
                    category=outcome.category,
                    status=outcome.status,
                    provider_code=outcome.provider_code,
                    details=outcome.details,
                )
                request = flow.throw(error)
    except StopIteration as stop:
        return stop.value, sent


def api_client(server: SandboxServer, **headers: str) -> httpx2.Client:
    return httpx2.Client(base_url=server.url, headers={"X-Api-Key": server.api_key, **headers})


def oauth_token(server: SandboxServer, http: httpx2.Client, scopes: str) -> dict[str, Any]:
    """Tokens for ``scopes`` (space-separated sandbox scopes) by hand: consent, then the code exchange."""
    url = (
        f"{server.url}/oauth/authorize?response_type=code&client_id={server.oauth_client_id}"
        f"&redirect_uri=http://127.0.0.1:9/cb&scope={scopes.replace(' ', '+')}"
    )
    code = server.approve(url).split("code=")[1].split("&")[0]
    r = http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/cb",
            "client_id": server.oauth_client_id,
            "client_secret": server.oauth_client_secret,
        },
    )
    assert r.status_code == 200, r.text
    token: dict[str, Any] = r.json()
    return token


def new_client(tmp_path: Path, kind: type[C] = Client) -> C:  # type: ignore[assignment]
    return sqlite_client(tmp_path, kind, filename="sandbox.db", timeout=5.0)


def connect_api_key(client: Client, server: SandboxServer) -> Connection:
    return client.connections.create(provider="sandbox", credentials={"api_key": server.api_key}, config=server.config)


REDIRECT = "http://127.0.0.1:9/oauth/callback"


def configure_oauth(client: Client, server: SandboxServer) -> None:
    configure_integration(client, server, "sandbox", redirect_uri=REDIRECT)


def connect_oauth(client: Client, server: SandboxServer, scopes: list[str], **approve: Any) -> Connection:
    return authorize(client, server, "sandbox", scopes, redirect_uri=REDIRECT, **approve)
