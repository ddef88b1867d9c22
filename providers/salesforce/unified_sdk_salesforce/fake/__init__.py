"""A local Salesforce for tests: the REST API subset the plugin uses, OAuth, limits and errors.

Example::

    from unified_sdk_salesforce.fake import FakeSalesforce

    with FakeSalesforce() as sf:
        sf.seed(deals=3, companies=2)
        token = sf.session_token()            # a valid session without the OAuth dance
        httpx2.get(sf.url + "/services/data/v62.0/query", params={"q": "SELECT Id FROM Opportunity"},
                   headers={"Authorization": f"Bearer {token}"})

What it does, as Salesforce documents it: the OAuth 2 web-server flow with
PKCE (``instance_url`` in token responses, no ``expires_in``, refresh tokens
only for the ``refresh_token``/``offline_access`` scopes, optional rotation,
revocation); sessions that expire (``session_timeout``) and answer 401
``INVALID_SESSION_ID``; SOQL ``query`` with query locators (``nextRecordsUrl``,
``Sforce-Query-Options: batchSize``); ``sobjects`` create/get/update/delete
with 18-character ids, describe and external-id lookups (300 when several
records match); error arrays ``[{message, errorCode, fields}]``;
``Sforce-Limit-Info`` on every response and a daily allocation that ends in
403 ``REQUEST_LIMIT_EXCEEDED``. See ``providers/salesforce/README.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from unified_sdk.testing import (
    DEFAULT_REDIRECT_URI,
    SLOW_PAGE_ANSWERS,
    AuthorizationServer,
    Fault,
    LocalServer,
    OAuthError,
    TokenInfo,
    oauth_routes,
    pkce_challenge,
)
from unified_sdk_salesforce.fake._app import Api
from unified_sdk_salesforce.fake._org import SEED_EPOCH, STAGES, ApiError, Org

__all__ = ["SEED_EPOCH", "STAGES", "FakeSalesforce"]

#: Scopes the fake's authorization server knows (a subset of Salesforce's).
SCOPES = frozenset(
    {"api", "refresh_token", "offline_access", "full", "id", "profile", "email", "openid", "web", "chatter_api"}
)
_REFRESH_SCOPES = frozenset({"refresh_token", "offline_access", "full"})

#: The errorCode and message the fake answers an injected status with.
_INJECTED: Mapping[int, tuple[str, str]] = {
    400: ("MALFORMED_QUERY", "unexpected token: 'injected'"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id"),
    404: ("NOT_FOUND", "The requested resource does not exist"),
    405: ("METHOD_NOT_ALLOWED", "HTTP Method 'POST' not allowed. Allowed are GET,HEAD"),
    500: ("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable; try again later"),
}

#: How a page too big to serve in time can be answered (see :meth:`FakeSalesforce.slow_pages`).
_SLOW_PAGE_ANSWERS = SLOW_PAGE_ANSWERS | {"query_timeout"}


class FakeSalesforce(LocalServer):
    """A local Salesforce org (``/services/data`` and ``/services/oauth2``) on 127.0.0.1.

    Options: ``daily_limit`` (the org's 24-hour API request allocation),
    ``session_timeout`` (seconds an access token lives), ``rotate_refresh_tokens``
    (the connected-app setting; off by default, as in Salesforce),
    ``require_pkce``, ``callback_urls`` (the connected app's callback URLs: an authorization or code
    exchange naming another is refused, as Salesforce does; default: the test kit's
    ``DEFAULT_REDIRECT_URI``; add more with :meth:`allow_redirect_url`), ``max_open_locators``.
    """

    oauth_client_id = "3MVG9fakeSalesforceConsumerKey.unified.sdk.local.tests"

    def __init__(
        self,
        *,
        port: int = 0,
        daily_limit: int = 100_000,
        session_timeout: float = 7200.0,
        rotate_refresh_tokens: bool = False,
        require_pkce: bool = True,
        callback_urls: Iterable[str] = (DEFAULT_REDIRECT_URI,),
        max_open_locators: int = 10,
    ) -> None:
        super().__init__(port=port)
        self.org = Org(daily_limit=daily_limit, max_open_locators=max_open_locators)
        self.oauth_client_secret = "fake-sf-secret-" + secrets.token_hex(16)
        self.auth = AuthorizationServer(
            scopes=SCOPES,
            default_scopes=("api", "refresh_token"),
            access_token_ttl=session_timeout,
            refresh_token_ttl=None,
            code_ttl=900,
            rotate_refresh_tokens=rotate_refresh_tokens,
            require_pkce=require_pkce,
            allow_plain_pkce=False,
            subject=self.org.admin_id,
            token_prefix=self.org.org_id[:15] + "!",
            token_response=self._shape_token,
            error_response=self._shape_error,
        )
        self.auth.register_client(self.oauth_client_id, self.oauth_client_secret, redirect_uris=tuple(callback_urls))
        self._minted = 0

    # -- the app ---------------------------------------------------------------------------------
    def build_app(self) -> Any:
        api = Api(self.org, self.auth, self._user_active, stall=lambda: self.faults.timeout_delay)
        routes = [
            *oauth_routes(
                self.auth,
                authorize_path="/services/oauth2/authorize",
                token_path="/services/oauth2/token",
                revoke_path="/services/oauth2/revoke",
                introspect_path="/services/oauth2/introspect",
                title="Allow Access?",
            ),
            Route("/id/{org}/{user}", self._identity, methods=["GET"]),
            *api.routes(),
        ]
        app: Any = Starlette(routes=routes)
        return self.faults.middleware(
            app,
            self._error_body,
            only=lambda path: path.startswith("/services/data/"),
        )

    def _error_body(self, status: int, fault: Fault) -> tuple[Any, Mapping[str, str]]:
        headers = {"Sforce-Limit-Info": self.org.limit_info()}
        if status == 300:
            # UNCONFIRMED: the documented 300 body is "the list of matching records"; the fake sends their URLs.
            ids = list(self.org.records["Account"])[:2] or ["001000000000001AAA", "001000000000002AAA"]
            return [f"/services/data/v62.0/sobjects/Account/{i}" for i in ids], headers
        if status not in _INJECTED and status >= 500:
            # Salesforce's own errors are 500s; another 5xx (a gateway's) carries no Salesforce error code.
            return f"injected status {status}", headers
        code, message = _INJECTED.get(status, ("INVALID_OPERATION", f"injected status {status}"))
        return ApiError(status, code, message).body(), headers

    async def _identity(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        status = self.auth.check_access_token(header.partition(" ")[2].strip())
        if not status.active or status.info is None:
            return JSONResponse("Bad_OAuth_Token", status_code=403)
        user = self.org.records["User"].get(status.info.subject, {})
        return JSONResponse(
            {
                "id": f"{self.url}/id/{self.org.org_id}/{status.info.subject}",
                "user_id": status.info.subject,
                "organization_id": self.org.org_id,
                "username": user.get("Username"),
                "display_name": user.get("Name"),
                "email": user.get("Email"),
                "active": user.get("IsActive"),
            }
        )

    # -- OAuth shaping -----------------------------------------------------------------------------
    def _user_active(self, user_id: str) -> bool:
        user = self.org.records["User"].get(user_id)
        return bool(user and user.get("IsActive"))

    def _shape_token(self, body: dict[str, Any], info: TokenInfo) -> dict[str, Any]:
        if not self._user_active(info.subject):
            raise OAuthError("invalid_grant", "inactive user")
        # Salesforce sends no expires_in: the session timeout is an org setting the client cannot see.
        body.pop("expires_in", None)
        if not _REFRESH_SCOPES & set(info.scopes):
            body.pop("refresh_token", None)
        issued_at = str(int(info.issued_at * 1000))
        identity = f"{self.url}/id/{self.org.org_id}/{info.subject}"
        client = self.auth.client(info.client_id)
        key = (client.client_secret or "").encode() if client else b""
        signature = base64.b64encode(hmac.new(key, (identity + issued_at).encode(), hashlib.sha256).digest())
        body.update(
            instance_url=self.url,
            id=identity,
            issued_at=issued_at,
            signature=signature.decode(),
            token_type="Bearer",
        )
        return body

    def _shape_error(self, error: OAuthError, endpoint: str) -> tuple[int, Any] | None:
        if endpoint != "token":
            return None
        description = error.description or ""
        if error.error == "invalid_client":
            if "does not exist" in description:
                return 400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
        if "Code challenge failed" in description:
            # Per Salesforce's PKCE notes a wrong verifier is invalid_request, a missing one invalid_grant.
            return 400, {"error": "invalid_request", "error_description": "invalid code verifier"}
        if "code_verifier" in description:
            return 400, {"error": "invalid_grant", "error_description": "invalid code verifier"}
        if error.error == "invalid_grant":
            if description == "inactive user":
                return 400, {"error": "invalid_grant", "error_description": "inactive user"}
            if "refresh token" in description:
                return 400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
            if "redirect_uri" in description:
                return 400, {
                    "error": "redirect_uri_mismatch",
                    "error_description": "redirect_uri must match configuration",
                }
            return 400, {"error": "invalid_grant", "error_description": "invalid authorization code"}
        if error.error == "unsupported_grant_type":
            return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
        return 400, error.body()

    # -- the common fake API --------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, str]:
        """Connection config pointing the Salesforce plugin at this fake (API host and OAuth endpoints)."""
        return {
            "base_url": self.url,
            "authorize_url": self.url + "/services/oauth2/authorize",
            "token_url": self.url + "/services/oauth2/token",
            "revoke_url": self.url + "/services/oauth2/revoke",
            "introspect_url": self.url + "/services/oauth2/introspect",
        }

    def seed(self, *, deals: int = 0, contacts: int = 0, companies: int = 0) -> dict[str, list[str]]:
        """Add deterministic records; returns the new ids by sObject (``Opportunity``, ``Contact``, ``Account``).

        Seeded records are stamped one minute apart from :data:`SEED_EPOCH`
        (``CreatedDate`` = ``LastModifiedDate``), companies first, then contacts, then deals.
        """
        return self.org.seed(deals=deals, contacts=contacts, companies=companies)

    def clear(self) -> None:
        """Remove every deal, contact and company (Opportunity, Contact, Account); users, stages and sessions stay."""
        self.org.clear()

    def allow_redirect_url(self, url: str) -> None:
        """Add ``url`` to the connected app's callback URLs, as an admin does in its settings."""
        client = self.auth.client(self.oauth_client_id)
        assert client is not None
        if url not in client.redirect_uris:
            self.auth.register_client(
                self.oauth_client_id, self.oauth_client_secret, redirect_uris=(*client.redirect_uris, url)
            )

    def approve(self, authorization_url: str, *, deny: bool = False, user_id: str | None = None) -> str:
        """Log in and press *Allow* (or *Deny*) as a user would; return the callback URL, not followed."""
        return self.auth.approve(authorization_url, deny=deny, subject=user_id)

    @property
    def token_requests(self) -> dict[str, int]:
        """Token requests by grant type (not counting :meth:`issue_tokens`)."""
        counts = self.auth.token_requests
        if self._minted:
            counts["authorization_code"] = counts.get("authorization_code", 0) - self._minted
            if counts["authorization_code"] <= 0:
                del counts["authorization_code"]
        return counts

    def expire_access_tokens(self) -> int:
        """End every live session now (the next API call gets 401 ``INVALID_SESSION_ID``)."""
        return self.auth.expire_access_tokens()

    def revoke_all_tokens(self) -> None:
        """Revoke every session and refresh token (as an admin revoking the connected app would)."""
        self.auth.revoke_all()

    def issue_tokens(self, *, user_id: str | None = None, scope: str = "api refresh_token") -> dict[str, Any]:
        """A token response for ``user_id`` (default: the admin) without an HTTP OAuth dance."""
        verifier = secrets.token_urlsafe(48)
        client = self.auth.client(self.oauth_client_id)
        assert client is not None
        redirect_uri = client.redirect_uris[0] if client.redirect_uris else DEFAULT_REDIRECT_URI
        callback = self.auth.authorize(
            {
                "response_type": "code",
                "client_id": self.oauth_client_id,
                "redirect_uri": redirect_uri,
                "scope": scope,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            },
            subject=user_id,
        )
        code = dict(parse_qsl(urlsplit(callback).query))["code"]
        self._minted += 1
        return self.auth.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.oauth_client_id,
                "client_secret": self.oauth_client_secret,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            }
        )

    def session_token(self, *, user_id: str | None = None) -> str:
        """A valid access token (session id) for ``user_id`` (default: the admin)."""
        return str(self.issue_tokens(user_id=user_id)["access_token"])

    def slow_pages(self, larger_than: int | None, *, answer: str = "gateway_timeout", times: int | None = None) -> None:
        """From now on, query pages asking for more than ``larger_than`` records time out, as big pages
        do under load; smaller pages are served. ``None`` ends the rule.

        A query's page is its first batch: its ``LIMIT``, at most the ``Sforce-Query-Options`` batch size.
        ``answer``: ``gateway_timeout`` (504 with the gateway's HTML page), ``query_timeout`` (400
        ``QUERY_TIMEOUT``, "Your query request was running for too long.", Salesforce's own signal) or
        ``stall`` (no answer for ``faults.timeout_delay`` seconds, then a 504). ``times``: how many big
        pages time out before the rule ends (default: all).
        """
        self.org.slow_pages.set(larger_than, answer=answer, times=times, answers=_SLOW_PAGE_ANSWERS)

    def page_sizes(self, listing: str | None = None) -> list[int]:
        """The page size of every query that got past authentication and parsing, in arrival order (pages
        that timed out included); ``listing`` keeps one sObject's (``"Opportunity"``, ``"Contact"``…)."""
        return self.org.slow_pages.sizes(listing)

    # -- org controls ------------------------------------------------------------------------------------
    @property
    def admin_id(self) -> str:
        """The user every OAuth grant logs in as unless told otherwise."""
        return self.org.admin_id

    @property
    def api_usage(self) -> int:
        """API requests counted against today's allocation."""
        with self.org.lock:
            return self.org.api_usage

    @api_usage.setter
    def api_usage(self, value: int) -> None:
        with self.org.lock:
            self.org.api_usage = value

    @property
    def daily_limit(self) -> int:
        return self.org.daily_limit

    @daily_limit.setter
    def daily_limit(self, value: int) -> None:
        with self.org.lock:
            self.org.daily_limit = value

    def deactivate_user(self, user_id: str | None = None) -> None:
        """Deactivate a user (default: the admin): sessions stop working, refreshes fail ``inactive user``."""
        with self.org.lock:
            self.org.records["User"][user_id or self.org.admin_id]["IsActive"] = False

    def deny(self, sobject: str, *access: str) -> None:
        """Take object permissions away from every user: ``read``, ``create``, ``edit``, ``delete``."""
        with self.org.lock:
            self.org.denied.setdefault(sobject, set()).update(access or ("read", "create", "edit", "delete"))

    def allow_all(self) -> None:
        with self.org.lock:
            self.org.denied.clear()

    def records(self, sobject: str) -> list[dict[str, Any]]:
        """Copies of the stored records of ``sobject`` (Python values, canonical field names)."""
        with self.org.lock:
            return [dict(r) for r in self.org.records[sobject].values()]

    def record(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        with self.org.lock:
            found = self.org.resolve(sobject, record_id)
            return dict(found) if found is not None else None

    @property
    def queries(self) -> list[str]:
        """Every SOQL text received, in order."""
        with self.org.lock:
            return list(self.org.query_log)

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every authenticated REST request received, in order."""
        with self.org.lock:
            return list(self.org.request_log)
