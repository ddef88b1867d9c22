"""``FakeHubSpot``: a local HubSpot account served on 127.0.0.1, with the common fake API."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable
from typing import Any

from unified_sdk.testing import DEFAULT_REDIRECT_URI, SLOW_PAGE_ANSWERS, Fault, LocalServer, SlowPages
from unified_sdk_hubspot.fake._app import HubSpotApp
from unified_sdk_hubspot.fake._errors import error_body, rate_limit_body
from unified_sdk_hubspot.fake._oauth import HubSpotAuth
from unified_sdk_hubspot.fake._store import OBJECT_TYPES, Store

#: Every scope the fake knows; private-app tokens get all of them unless told otherwise.
ALL_SCOPES: tuple[str, ...] = (
    "oauth",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.owners.read",
    "crm.schemas.deals.read",
)

#: How a page too big to serve in time can be answered (see :meth:`FakeHubSpot.slow_pages`).
_SLOW_PAGE_ANSWERS = SLOW_PAGE_ANSWERS | {"gateway_timeout_html"}


class FakeHubSpot(LocalServer):
    """A local HubSpot: CRM v3 objects, search, owners, pipelines, OAuth v3 and rate limits.

    Use it as a context manager; it serves on ``127.0.0.1`` on a free port::

        with FakeHubSpot() as hubspot:
            hubspot.seed(deals=50, contacts=20, companies=5)
            headers = {"Authorization": f"Bearer {hubspot.api_key}"}
            httpx2.get(hubspot.url + "/crm/v3/objects/deals", headers=headers)

    Args:
        ten_second_limit: requests allowed in any rolling ``interval_ms`` window per app
            (HubSpot: 100 per 10 seconds for most accounts and OAuth apps).
        interval_ms: the rolling window's length, sent as ``X-HubSpot-RateLimit-Interval-Milliseconds``.
        search_limit_per_second: CRM search requests allowed per token per second (``None``: unlimited).
        daily_limit: requests per day for private-app tokens (OAuth apps have no daily limit).
        search_ceiling: the most results one search query can page through (HubSpot: 10,000).
        access_token_ttl: OAuth access-token lifetime in seconds (HubSpot: 30 minutes).
        rotate_refresh_tokens: issue a new refresh token on every refresh (HubSpot does not
            promise either way; clients must persist whichever they get).
        api_key_scopes: the scopes of the private-app token in :attr:`api_key`.
        api_key: the private-app token to accept (random by default).
        grantable_scopes: the scopes an OAuth authorization may ask for (default: :data:`ALL_SCOPES`);
            others are refused with ``invalid_scope``.
        redirect_urls: the app's redirect URLs (its settings); an authorization or code exchange naming
            another is refused, as HubSpot does (default: the test kit's ``DEFAULT_REDIRECT_URI``; add
            more with :meth:`allow_redirect_url`).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        ten_second_limit: int = 100,
        interval_ms: int = 10_000,
        search_limit_per_second: int | None = 4,
        daily_limit: int = 500_000,
        search_ceiling: int = 10_000,
        access_token_ttl: float = 1800.0,
        rotate_refresh_tokens: bool = False,
        api_key_scopes: Iterable[str] = ALL_SCOPES,
        api_key: str | None = None,
        grantable_scopes: Iterable[str] | None = None,
        seed: int = 4,
        redirect_urls: Iterable[str] = (DEFAULT_REDIRECT_URI,),
    ) -> None:
        super().__init__(port=port)
        self.oauth_client_id = "fake-client-" + secrets.token_hex(4)
        self.oauth_client_secret = "fake-secret-" + secrets.token_hex(12)
        self.store = Store(seed=seed)
        self.auth = HubSpotAuth(
            client_id=self.oauth_client_id,
            client_secret=self.oauth_client_secret,
            scopes=ALL_SCOPES if grantable_scopes is None else grantable_scopes,
            access_token_ttl=access_token_ttl,
            rotate_refresh_tokens=rotate_refresh_tokens,
            redirect_urls=redirect_urls,
        )
        self.api_key = api_key or "pat-na1-" + secrets.token_hex(16)
        self.auth.private_tokens[self.api_key] = tuple(api_key_scopes)
        self._slow_pages = SlowPages()
        self.app = HubSpotApp(
            self.store,
            self.auth,
            ten_second_limit=ten_second_limit,
            interval_ms=interval_ms,
            search_limit_per_second=search_limit_per_second,
            daily_limit=daily_limit,
            search_ceiling=search_ceiling,
            slow_pages=self._slow_pages,
            stall=lambda: self.faults.timeout_delay,
        )

    def build_app(self) -> Any:
        app: Any = self.app.build()
        return self.faults.middleware(app, self._fault_body, only=lambda path: not path.startswith("/oauth"))

    @staticmethod
    def _fault_body(status: int, fault: Fault) -> tuple[Any, dict[str, str]]:
        body = error_body(status)
        return body, {"X-HubSpot-Correlation-Id": body["correlationId"]}

    # -- the common fake API --------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, str]:
        """Connection/integration config pointing the plugin at this fake."""
        url = self.url
        return {
            "base_url": url,
            "authorize_url": f"{url}/oauth/authorize",
            "token_url": f"{url}/oauth/v3/token",
            "revoke_url": f"{url}/oauth/v3/token/revoke",
            "introspect_url": f"{url}/oauth/v3/token/introspect",
        }

    def seed(self, *, deals: int = 0, contacts: int = 0, companies: int = 0) -> None:
        """Add generated deals, contacts and companies (deals associated with the others)."""
        self.store.seed(deals=deals, contacts=contacts, companies=companies)

    def clear(self) -> None:
        """Remove every deal, contact and company; owners, pipelines, properties and tokens stay."""
        self.store.clear()

    def approve(self, authorization_url: str, *, deny: bool = False, grant_optional: bool = True) -> str:
        """Consent to ``authorization_url`` as the installing user; returns the redirect (callback) URL.

        ``grant_optional=False`` leaves out the ``optional_scope`` scopes (an account without them);
        ``deny=True`` declines. Raises :class:`~unified_sdk_hubspot.fake.AuthorizeError` where HubSpot
        would show an error page instead of redirecting (unknown client, bad redirect URI).
        """
        return self.auth.approve(authorization_url, deny=deny, grant_optional=grant_optional)

    def allow_redirect_url(self, url: str) -> None:
        """Add ``url`` to the app's redirect URLs, as a developer does in the app's settings."""
        self.auth.allow_redirect_url(url)

    @property
    def token_requests(self) -> dict[str, int]:
        """Token-endpoint calls by ``grant_type`` (``authorization_code``, ``refresh_token``)."""
        return self.auth.token_requests

    def expire_access_tokens(self) -> None:
        """Make every OAuth access token issued so far expired (the API answers EXPIRED_AUTHENTICATION)."""
        self.auth.expire_access_tokens()

    def slow_pages(self, larger_than: int | None, *, answer: str = "gateway_timeout", times: int | None = None) -> None:
        """From now on, listing pages asking for more than ``larger_than`` records time out, as big pages
        do under load; smaller pages are served. ``None`` ends the rule.

        ``answer``: ``gateway_timeout`` (504 with HubSpot's JSON error body), ``gateway_timeout_html``
        (504 with an HTML page, as HubSpot's edge sends) or ``stall`` (no answer for ``faults.timeout_delay``
        seconds, then a 504). ``times``: how many big pages time out before the rule ends (default: all).
        Applies to ``GET /crm/v3/objects/{type}`` (its ``limit``) and ``POST …/search`` (the body's ``limit``).
        """
        self._slow_pages.set(larger_than, answer=answer, times=times, answers=_SLOW_PAGE_ANSWERS)

    def page_sizes(self, listing: str | None = None) -> list[int]:
        """The ``limit`` of every listing page that got past authentication, in arrival order (pages that
        timed out included); ``listing`` keeps one: ``"deals"`` (the list endpoint) or ``"deals/search"``."""
        return self._slow_pages.sizes(listing)

    # -- HubSpot-specific helpers ------------------------------------------------------------------------
    def inject_rate_limit(
        self,
        policy: str = "TEN_SECONDLY_ROLLING",
        *,
        times: int = 1,
        retry_after: float | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` API requests with HubSpot's 429 for ``policy``
        (``TEN_SECONDLY_ROLLING``, ``SECONDLY`` or ``DAILY``)."""
        self.inject(status=429, times=times, retry_after=retry_after, path=path, body=rate_limit_body(policy))

    def private_app_token(self, scopes: Iterable[str]) -> str:
        """A new private-app access token with only ``scopes``."""
        return self.auth.add_private_token(scopes)

    def add_property(
        self, object_type: str, name: str, type: str = "string", options: Iterable[str] | None = None
    ) -> None:
        """Define a custom property on ``deals``, ``contacts`` or ``companies``."""
        self.store.add_property(object_type, name, type, options=options)

    def records(self, object_type: str) -> list[dict[str, Any]]:
        """Every live record of ``object_type`` as ``{"id", "properties", "associations"}``."""
        if object_type not in OBJECT_TYPES:
            raise ValueError(f"unknown object type {object_type!r}")
        return [
            {
                "id": str(r.id),
                "properties": dict(r.properties),
                "associations": {k: [str(i) for i in v] for k, v in r.associations.items()},
            }
            for r in self.store.live(object_type)
        ]

    @property
    def status_counts(self) -> Counter[int]:
        """API responses by HTTP status (injected faults not included)."""
        return self.app.status_counts

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every API request answered by a route."""
        return self.app.requests
