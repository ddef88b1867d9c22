"""Clients and OAuth connections against a local fake, in one call each.

Every fake shares one API (``.config``, ``.oauth_client_id``,
``.oauth_client_secret``, ``.approve(url, ...)``), so one helper makes an OAuth
connection to any of them: configure the integration, build the authorization
URL, consent as the user would, complete the callback.

Example::

    from unified_sdk.testing import authorize, sqlite_client
    from unified_sdk_sandbox.fake import SandboxServer

    def test_deals(tmp_path):
        with SandboxServer(deals=5) as fake, sqlite_client(tmp_path) as client:
            conn = authorize(client, fake, "sandbox", ["crm_deal_read"])
            assert len(client.crm.deals.list(connection_id=conn.id).data) == 5
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

if TYPE_CHECKING:
    from unified_sdk._client import AsyncClient, Client
    from unified_sdk._connections import Connection
    from unified_sdk._oauth import Integration

    AnyClient = TypeVar("AnyClient", Client, AsyncClient)

__all__ = [
    "DEFAULT_REDIRECT_URI",
    "OAuthFake",
    "authorize",
    "authorize_async",
    "configure_integration",
    "configure_integration_async",
    "set_clock",
    "set_jitter",
    "sqlite_client",
]

#: The redirect URI :func:`configure_integration` registers unless told otherwise. Nothing is
#: served there: the fakes' ``approve`` returns the callback URL instead of following it.
DEFAULT_REDIRECT_URI = "https://app.example.com/oauth/callback"


class OAuthFake(Protocol):
    """What these helpers need of a fake: the part of the common fake API about OAuth."""

    @property
    def config(self) -> Mapping[str, Any]:
        """Integration config pointing a plugin at the fake (``base_url`` and OAuth endpoints)."""

    @property
    def oauth_client_id(self) -> str:
        """The client id of the app the fake has registered."""

    @property
    def oauth_client_secret(self) -> str:
        """That app's client secret."""

    def approve(self, authorization_url: str, *args: Any, **kwargs: Any) -> str:
        """Consent to ``authorization_url`` as the user; the callback URL, not followed."""


def _no_jitter() -> float:
    return 0.0


@overload
def sqlite_client(
    directory: str | os.PathLike[str], *, filename: str = ..., random_backoff: bool = ..., **options: Any
) -> Client: ...


@overload
def sqlite_client(
    directory: str | os.PathLike[str],
    kind: type[AnyClient],
    *,
    filename: str = ...,
    random_backoff: bool = ...,
    **options: Any,
) -> AnyClient: ...


def sqlite_client(
    directory: str | os.PathLike[str],
    kind: type[Any] | None = None,
    *,
    filename: str = "sdk.db",
    random_backoff: bool = False,
    **options: Any,
) -> Any:
    """A :class:`~unified_sdk.Client` (or ``kind``, e.g. ``AsyncClient``) on the SQLite file ``directory/filename``.

    Backoff between retries waits its base delay without the random factor, so a test
    that retries waits the same every time; ``random_backoff=True`` keeps the random
    factor. Other ``options`` go to the client (``timeout``, ``providers``, ``secret_key``…).
    Close it when done (both clients are context managers).

    Example::

        client = sqlite_client(tmp_path, timeout=5.0)
        aclient = sqlite_client(tmp_path, AsyncClient, filename="async.db")
    """
    if kind is None:
        from unified_sdk._client import Client

        kind = Client
    client = kind(database_url=f"sqlite:///{Path(directory) / filename}", **options)
    if not random_backoff:
        set_jitter(client, _no_jitter)
    return client


def set_jitter(client: Client | AsyncClient, jitter: Callable[[], float | None]) -> None:
    """Pin the random factor of ``client``'s backoff (``lambda: 0.0``: the shortest waits; ``None``: random).

    The seam for tests that count retries or measure waits; ``with_options`` copies share it.
    """
    client._runtime.jitter = jitter


def set_clock(client: Client | AsyncClient, clock: Callable[[], float]) -> None:
    """Replace ``client``'s wall clock (seconds since the epoch), e.g. to age tokens without waiting."""
    client._runtime.clock = clock


def configure_integration(
    client: Client, fake: OAuthFake, provider: str, *, redirect_uri: str = DEFAULT_REDIRECT_URI
) -> Integration:
    """Register the fake's OAuth app as ``provider``'s integration on ``client`` (replacing any).

    The integration's config is ``fake.config``, so authorization URLs, token requests and
    API calls of connections made through it all go to the fake. For an ``AsyncClient``
    use :func:`configure_integration_async`.

    Example::

        configure_integration(client, fake, "hubspot")
        request = client.auth.authorization_url("hubspot", scopes=["crm_deal_read"])
    """
    return client.integrations.configure(
        provider,
        client_id=fake.oauth_client_id,
        client_secret=fake.oauth_client_secret,
        redirect_uri=redirect_uri,
        config=fake.config,
    )


async def configure_integration_async(
    client: AsyncClient, fake: OAuthFake, provider: str, *, redirect_uri: str = DEFAULT_REDIRECT_URI
) -> Integration:
    """:func:`configure_integration` for an :class:`~unified_sdk.AsyncClient`.

    Example::

        await configure_integration_async(aclient, fake, "hubspot")
    """
    return await client.integrations.configure(
        provider,
        client_id=fake.oauth_client_id,
        client_secret=fake.oauth_client_secret,
        redirect_uri=redirect_uri,
        config=fake.config,
    )


def authorize(
    client: Client,
    fake: OAuthFake,
    provider: str,
    scopes: Sequence[str],
    *,
    external_id: str | None = None,
    connection_id: str | None = None,
    configure: bool = True,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
    **consent: Any,
) -> Connection:
    """An OAuth connection through the whole flow against ``fake``, as a user would make it.

    Configures the integration (:func:`configure_integration`; ``configure=False`` keeps
    the one already configured), asks for the authorization URL for the unified
    ``scopes``, consents with ``fake.approve(url, **consent)`` and completes the callback.
    ``consent`` is the fake's own consent options, e.g. ``grant_scopes=[...]`` (the user
    unticks scopes) or ``deny=True`` (then ``client.auth.complete`` raises, as it would
    for a real refusal). With ``connection_id``, re-authorizes that connection.

    Example::

        conn = authorize(client, fake, "sandbox", ["crm_deal_read"], external_id="customer-42")
        assert conn.scopes == ["crm_deal_read"]
    """
    if configure:
        configure_integration(client, fake, provider, redirect_uri=redirect_uri)
    request = client.auth.authorization_url(
        provider, scopes=scopes, external_id=external_id, connection_id=connection_id
    )
    return client.auth.complete(fake.approve(request.url, **consent))


async def authorize_async(
    client: AsyncClient,
    fake: OAuthFake,
    provider: str,
    scopes: Sequence[str],
    *,
    external_id: str | None = None,
    connection_id: str | None = None,
    configure: bool = True,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
    **consent: Any,
) -> Connection:
    """:func:`authorize` for an :class:`~unified_sdk.AsyncClient`.

    Example::

        conn = await authorize_async(aclient, fake, "salesforce", ["crm_deal_read"])
    """
    if configure:
        await configure_integration_async(client, fake, provider, redirect_uri=redirect_uri)
    request = await client.auth.authorization_url(
        provider, scopes=scopes, external_id=external_id, connection_id=connection_id
    )
    return await client.auth.complete(fake.approve(request.url, **consent))
