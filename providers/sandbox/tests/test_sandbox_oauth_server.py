"""The reusable OAuth 2 authorization server (unified_sdk.testing._oauth), over real HTTP."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from starlette.applications import Starlette

from unified_sdk.testing import LocalServer
from unified_sdk.testing._oauth import (
    AuthorizationServer,
    OAuthClient,
    OAuthError,
    TokenInfo,
    oauth_routes,
    pkce_challenge,
)

REDIRECT = "http://127.0.0.1:9/callback"
SCOPES = ("deals:read", "deals:write", "contacts:read")


class Clock:
    """A controllable time source, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class AuthOnly(LocalServer):
    def __init__(self, auth: AuthorizationServer) -> None:
        super().__init__()
        self.auth = auth

    def build_app(self) -> Any:
        return Starlette(routes=oauth_routes(self.auth))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(clock: Clock) -> AuthorizationServer:
    return AuthorizationServer(scopes=SCOPES, clock=clock)


@pytest.fixture
def server(auth: AuthorizationServer) -> Iterator[AuthOnly]:
    with AuthOnly(auth) as s:
        yield s


@pytest.fixture
def client(auth: AuthorizationServer) -> OAuthClient:
    return auth.register_client(redirect_uris=[REDIRECT])


@pytest.fixture
def http(server: AuthOnly) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.url) as c:
        yield c


def authorize_url(
    client: OAuthClient,
    *,
    scope: str = "deals:read deals:write",
    state: str = "st-1",
    verifier: str | None = None,
    method: str = "S256",
    **extra: str,
) -> str:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": state,
        **extra,
    }
    if verifier is not None:
        params["code_challenge"] = pkce_challenge(verifier, method)
        params["code_challenge_method"] = method
    return "http://fake/oauth/authorize?" + urlencode(params)


def callback_params(url: str) -> dict[str, str]:
    assert url.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def exchange(
    http: httpx2.Client, client: OAuthClient, code: str, verifier: str | None = None, **extra: str
) -> httpx2.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client.client_id,
        "client_secret": client.client_secret or "",
        **extra,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    return http.post("/oauth/token", data=form)


def refresh(http: httpx2.Client, client: OAuthClient, token: str, **extra: str) -> httpx2.Response:
    return http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": client.client_id,
            "client_secret": client.client_secret or "",
            **extra,
        },
    )


def introspect(http: httpx2.Client, client: OAuthClient, token: str) -> dict[str, Any]:
    r = http.post(
        "/oauth/introspect",
        data={"token": token, "client_id": client.client_id, "client_secret": client.client_secret or ""},
    )
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def new_verifier() -> str:
    return secrets.token_urlsafe(48)


def login(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> dict[str, Any]:
    verifier = new_verifier()
    code = callback_params(auth.approve(authorize_url(client, verifier=verifier)))["code"]
    r = exchange(http, client, code, verifier)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# -- authorization code + PKCE ---------------------------------------------------------------------


def test_pkce_s256_code_exchange(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    verifier = new_verifier()
    params = callback_params(auth.approve(authorize_url(client, verifier=verifier)))
    assert params["state"] == "st-1"
    r = exchange(http, client, params["code"], verifier)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "deals:read deals:write"
    assert auth.check_access_token(body["access_token"]).active
    assert auth.token_requests == {"authorization_code": 1}


def test_pkce_plain_code_exchange(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    verifier = new_verifier()
    code = callback_params(auth.approve(authorize_url(client, verifier=verifier, method="plain")))["code"]
    assert exchange(http, client, code, verifier).status_code == 200


@pytest.mark.parametrize("sent", ["wrong", "missing", "malformed"])
def test_pkce_failure(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient, sent: str) -> None:
    verifier = new_verifier()
    code = callback_params(auth.approve(authorize_url(client, verifier=verifier)))["code"]
    given = {"wrong": new_verifier(), "missing": None, "malformed": "short"}[sent]
    r = exchange(http, client, code, given)
    assert r.status_code == 400
    # authlib's CodeChallenge: a verifier that does not match is invalid_grant (RFC 7636 section 4.6),
    # one that is missing or malformed is invalid_request.
    assert r.json()["error"] == ("invalid_grant" if sent == "wrong" else "invalid_request")


def test_verifier_without_challenge_is_rejected(
    auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient
) -> None:
    code = callback_params(auth.approve(authorize_url(client)))["code"]
    assert exchange(http, client, code, new_verifier()).json()["error"] == "invalid_request"  # RFC 9700 section 4.8


def test_code_reuse_is_rejected_and_revokes_its_tokens(
    auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient
) -> None:
    verifier = new_verifier()
    code = callback_params(auth.approve(authorize_url(client, verifier=verifier)))["code"]
    first = exchange(http, client, code, verifier).json()
    second = exchange(http, client, code, verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert auth.check_access_token(first["access_token"]).reason == "revoked"
    assert introspect(http, client, first["refresh_token"]) == {"active": False}
    assert refresh(http, client, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_code_expires(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient, clock: Clock) -> None:
    code = callback_params(auth.approve(authorize_url(client)))["code"]
    clock.now += 61
    r = exchange(http, client, code)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_code_is_bound_to_client_and_redirect_uri(
    auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient
) -> None:
    other = auth.register_client()
    code = callback_params(auth.approve(authorize_url(client)))["code"]
    r = exchange(http, other, code)
    assert r.json()["error"] == "invalid_grant"
    code = callback_params(auth.approve(authorize_url(client)))["code"]
    r = exchange(http, client, code, redirect_uri="http://127.0.0.1:9/elsewhere")
    assert r.json()["error"] == "invalid_grant"
    assert exchange(http, client, "ac_unknown").json()["error"] == "invalid_grant"


# -- client authentication -----------------------------------------------------------------------


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_client_secret_basic(auth: AuthorizationServer, http: httpx2.Client) -> None:
    client = auth.register_client(redirect_uris=[REDIRECT], token_endpoint_auth_method="client_secret_basic")
    code = callback_params(auth.approve(authorize_url(client)))["code"]
    assert client.client_secret is not None
    r = http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers={"Authorization": _basic(client.client_id, client.client_secret)},
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("registered", ["client_secret_post", "client_secret_basic"])
def test_a_client_must_authenticate_the_way_it_registered(
    auth: AuthorizationServer, http: httpx2.Client, registered: str
) -> None:
    client = auth.register_client(redirect_uris=[REDIRECT], token_endpoint_auth_method=registered)
    assert client.client_secret is not None
    code = callback_params(auth.approve(authorize_url(client)))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if registered == "client_secret_post":  # the right secret, the wrong method
        r = http.post(
            "/oauth/token", data=form, headers={"Authorization": _basic(client.client_id, client.client_secret)}
        )
    else:
        r = http.post(
            "/oauth/token", data={**form, "client_id": client.client_id, "client_secret": client.client_secret}
        )
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    assert registered in r.json()["error_description"]
    r = http.post(
        "/oauth/revoke", data={"token": "x", "client_id": client.client_id, "client_secret": client.client_secret}
    )
    assert r.status_code == (200 if registered == "client_secret_post" else 401)
    with pytest.raises(ValueError):
        auth.register_client(public=True, token_endpoint_auth_method="client_secret_basic")


def test_bad_client_credentials(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    r = http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": _basic(client.client_id, "wrong")},
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic")
    r = refresh(http, client, "x", client_secret="wrong")
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    r = http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": client.client_id},
    )
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    assert client.client_secret is not None
    r = http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_secret": client.client_secret},
        headers={"Authorization": _basic(client.client_id, client.client_secret)},
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


def test_client_secret_never_in_repr(client: OAuthClient) -> None:
    assert client.client_secret is not None
    assert client.client_secret not in repr(client)


def test_public_client_needs_pkce(auth: AuthorizationServer, http: httpx2.Client) -> None:
    public = auth.register_client(redirect_uris=[REDIRECT], public=True)
    assert callback_params(auth.approve(authorize_url(public)))["error"] == "invalid_request"
    verifier = new_verifier()
    code = callback_params(auth.approve(authorize_url(public, verifier=verifier)))["code"]
    r = http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": public.client_id,
            "code_verifier": verifier,
        },
    )
    assert r.status_code == 200, r.text


# -- refresh tokens ---------------------------------------------------------------------------------


def test_refresh_rotation_and_reuse_detection(
    auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient
) -> None:
    first = login(auth, http, client)
    r = refresh(http, client, first["refresh_token"])
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert auth.check_access_token(first["access_token"]).active  # old access tokens live on
    # Presenting the retired refresh token again: an attacker (or a lost race) -> revoke the family.
    reused = refresh(http, client, first["refresh_token"])
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    assert refresh(http, client, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert auth.check_access_token(second["access_token"]).reason == "revoked"
    assert auth.check_access_token(first["access_token"]).reason == "revoked"
    assert auth.token_requests == {"authorization_code": 1, "refresh_token": 3}


def test_refresh_reuse_grace_period(
    auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient, clock: Clock
) -> None:
    auth.refresh_token_reuse_grace = 30
    first = login(auth, http, client)
    lost = refresh(http, client, first["refresh_token"]).json()  # the client never saw this answer
    clock.now += 29
    again = refresh(http, client, first["refresh_token"])  # within the grace: served again
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] not in (lost["refresh_token"], first["refresh_token"])
    # The token it had been rotated into is retired (never used, so the family lives on).
    assert refresh(http, client, lost["refresh_token"]).json()["error"] == "invalid_grant"
    assert auth.check_access_token(again.json()["access_token"]).active
    # The successor was used: the token before it is not served again, even within the grace.
    assert refresh(http, client, again.json()["refresh_token"]).status_code == 200
    assert refresh(http, client, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert auth.check_access_token(again.json()["access_token"]).reason == "revoked"


def test_refresh_reuse_after_the_grace_period(
    auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient, clock: Clock
) -> None:
    auth.refresh_token_reuse_grace = 30
    first = login(auth, http, client)
    second = refresh(http, client, first["refresh_token"]).json()
    clock.now += 31  # past the grace: reuse revokes the family as without one
    assert refresh(http, client, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert auth.check_access_token(second["access_token"]).reason == "revoked"


def test_refresh_without_rotation(clock: Clock) -> None:
    auth = AuthorizationServer(scopes=SCOPES, rotate_refresh_tokens=False, clock=clock)
    client = auth.register_client(redirect_uris=[REDIRECT])
    with AuthOnly(auth) as server, httpx2.Client(base_url=server.url) as http:
        first = login(auth, http, client)
        for _ in range(3):
            r = refresh(http, client, first["refresh_token"])
            assert r.status_code == 200
            assert r.json()["refresh_token"] == first["refresh_token"]
        assert auth.token_requests == {"authorization_code": 1, "refresh_token": 3}


def test_refresh_scope_narrowing(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    first = login(auth, http, client)
    r = refresh(http, client, first["refresh_token"], scope="deals:read")
    assert r.json()["scope"] == "deals:read"
    r = refresh(http, client, r.json()["refresh_token"], scope="deals:read contacts:read")
    assert (r.status_code, r.json()["error"]) == (400, "invalid_scope")


def test_refresh_token_bound_to_client(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    first = login(auth, http, client)
    other = auth.register_client()
    assert refresh(http, other, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_refresh_token_ttl(clock: Clock) -> None:
    auth = AuthorizationServer(refresh_token_ttl=100, clock=clock)
    client = auth.register_client(redirect_uris=[REDIRECT])
    with AuthOnly(auth) as server, httpx2.Client(base_url=server.url) as http:
        first = login(auth, http, client)
        clock.now += 101
        assert refresh(http, client, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_access_token_lifetime_and_expiry(
    auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient, clock: Clock
) -> None:
    token = login(auth, http, client)["access_token"]
    clock.now += 3599
    assert auth.check_access_token(token).active
    clock.now += 1
    status = auth.check_access_token(token)
    assert (status.active, status.reason) == (False, "expired")
    assert auth.check_access_token("at_nope").reason == "unknown"


def test_expire_access_tokens(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    tokens = login(auth, http, client)
    assert auth.expire_access_tokens() == 1
    assert auth.check_access_token(tokens["access_token"]).reason == "expired"
    r = refresh(http, client, tokens["refresh_token"])
    assert auth.check_access_token(r.json()["access_token"]).active


# -- revocation and introspection ------------------------------------------------------------------


def test_revoke_access_token(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    tokens = login(auth, http, client)
    r = http.post(
        "/oauth/revoke",
        data={
            "token": tokens["access_token"],
            "client_id": client.client_id,
            "client_secret": client.client_secret or "",
        },
    )
    assert r.status_code == 200
    assert introspect(http, client, tokens["access_token"]) == {"active": False}
    assert introspect(http, client, tokens["refresh_token"])["active"] is True
    assert refresh(http, client, tokens["refresh_token"]).status_code == 200


def test_revoke_refresh_token_revokes_family(
    auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient
) -> None:
    tokens = login(auth, http, client)
    r = http.post(
        "/oauth/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": client.client_id,
            "client_secret": client.client_secret or "",
        },
    )
    assert r.status_code == 200
    assert introspect(http, client, tokens["access_token"]) == {"active": False}
    assert refresh(http, client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoke_unknown_token_and_auth(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    r = http.post(
        "/oauth/revoke",
        data={
            "token": "whatever",
            "client_id": client.client_id,
            "client_secret": client.client_secret or "",
        },
    )
    assert r.status_code == 200
    r = http.post("/oauth/revoke", data={"token": "whatever"})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    tokens = login(auth, http, client)
    other = auth.register_client()
    r = http.post(
        "/oauth/revoke",
        data={
            "token": tokens["access_token"],
            "client_id": other.client_id,
            "client_secret": other.client_secret or "",
        },
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")  # the token is not this client's
    assert auth.check_access_token(tokens["access_token"]).active


def test_introspection(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient, clock: Clock) -> None:
    tokens = login(auth, http, client)
    body = introspect(http, client, tokens["access_token"])
    assert body == {
        "active": True,
        "scope": "deals:read deals:write",
        "client_id": client.client_id,
        "token_type": "Bearer",
        "sub": "user_1",
        "iat": int(clock.now),
        "exp": int(clock.now) + 3600,
    }
    assert introspect(http, client, tokens["refresh_token"])["token_type"] == "refresh_token"
    assert introspect(http, client, "nope") == {"active": False}
    r = http.post("/oauth/introspect", data={"token": tokens["access_token"]})
    assert r.status_code == 401


# -- the token endpoint's request checks ------------------------------------------------------------


def test_token_request_errors(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    secret = client.client_secret or ""
    r = http.post(
        "/oauth/token",
        data={"grant_type": "password", "client_id": client.client_id, "client_secret": secret},
    )
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_grant_type")
    r = http.post("/oauth/token", data={"client_id": client.client_id, "client_secret": secret})
    assert r.json()["error"] == "invalid_request"
    r = http.post("/oauth/token", json={"grant_type": "refresh_token"})
    assert r.json()["error"] == "invalid_request"
    r = http.post(
        "/oauth/token",
        content=b"grant_type=refresh_token&grant_type=refresh_token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.json()["error"] == "invalid_request"
    r = http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "client_id": client.client_id, "client_secret": secret},
    )
    assert (r.json()["error"], r.json()["error_description"]) == ("invalid_request", "Missing 'code' in request.")
    # Bodies that are not a well-formed form never reach the grant logic and are not counted.
    assert auth.token_requests == {"password": 1, "<missing>": 1, "authorization_code": 1}


def test_token_requests_are_counted_under_concurrency(clock: Clock) -> None:
    auth = AuthorizationServer(rotate_refresh_tokens=False, clock=clock)
    client = auth.register_client(redirect_uris=[REDIRECT])
    with AuthOnly(auth) as server, httpx2.Client(base_url=server.url) as http:
        tokens = login(auth, http, client)
        statuses: list[int] = []

        def work() -> None:
            with httpx2.Client(base_url=server.url) as own:
                for _ in range(5):
                    statuses.append(refresh(own, client, tokens["refresh_token"]).status_code)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses == [200] * 30
    assert auth.token_requests == {"authorization_code": 1, "refresh_token": 30}


# -- the authorization endpoint -------------------------------------------------------------------


def test_consent_grants_a_subset(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    url = auth.approve(
        authorize_url(client, scope="deals:read deals:write contacts:read"),
        grant_scopes=["deals:read", "webhooks:manage"],
    )
    r = exchange(http, client, callback_params(url)["code"])
    assert r.json()["scope"] == "deals:read"


def test_denied_consent(auth: AuthorizationServer, client: OAuthClient) -> None:
    params = callback_params(auth.approve(authorize_url(client, state="s-9"), deny=True))
    assert params == {
        "error": "access_denied",
        "error_description": "The resource owner or authorization server denied the request",
        "state": "s-9",
    }


def test_authorize_request_errors(auth: AuthorizationServer, client: OAuthClient) -> None:
    assert callback_params(auth.approve(authorize_url(client, scope="deals:read nope:read")))["error"] == (
        "invalid_scope"
    )
    assert callback_params(auth.approve(authorize_url(client, response_type="token")))["error"] == (
        "unsupported_response_type"
    )
    bad_method = authorize_url(client, verifier=new_verifier(), method="S256").replace("S256", "S512")
    assert callback_params(auth.approve(bad_method))["error"] == "invalid_request"
    with pytest.raises(OAuthError) as caught:
        auth.approve(
            authorize_url(client).replace(
                REDIRECT.replace(":", "%3A").replace("/", "%2F"), "http%3A%2F%2Fevil.example%2Fcb"
            )
        )
    assert caught.value.error == "invalid_request"
    assert caught.value.redirect_uri is None
    with pytest.raises(OAuthError) as caught:
        auth.approve("http://fake/oauth/authorize?response_type=code&client_id=unknown")
    assert caught.value.error == "invalid_client"


def test_authorize_over_http(auth: AuthorizationServer, http: httpx2.Client, client: OAuthClient) -> None:
    query = urlsplit(authorize_url(client, verifier=new_verifier())).query
    page = http.get("/oauth/authorize?" + query)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post"' in page.text and 'value="deals:write"' in page.text
    auto = http.get("/oauth/authorize?" + query + "&auto_approve=1")
    assert auto.status_code == 302
    assert "code" in callback_params(auto.headers["location"])
    # Posting the consent form with one box ticked grants that scope only.
    form = {k: v[0] for k, v in parse_qs(query).items()}
    posted = http.post("/oauth/authorize", data={**form, "grant_scope": "deals:read", "decision": "allow"})
    assert posted.status_code == 302
    code = callback_params(posted.headers["location"])["code"]
    assert code
    denied = http.post("/oauth/authorize", data={**form, "decision": "deny"})
    assert callback_params(denied.headers["location"])["error"] == "access_denied"
    unknown = http.get("/oauth/authorize?response_type=code&client_id=nobody&redirect_uri=" + REDIRECT)
    assert unknown.status_code == 400
    assert "invalid_client" in unknown.text


def test_optional_scope_param(clock: Clock) -> None:
    auth = AuthorizationServer(scopes=SCOPES, optional_scope_param="optional_scope", clock=clock)
    client = auth.register_client(redirect_uris=[REDIRECT])
    url = authorize_url(client, scope="deals:read", optional_scope="contacts:read")
    with AuthOnly(auth) as server, httpx2.Client(base_url=server.url) as http:
        r = exchange(http, client, callback_params(auth.approve(url))["code"])
        assert r.json()["scope"] == "deals:read contacts:read"
        r = exchange(http, client, callback_params(auth.approve(url, grant_scopes=["deals:read"]))["code"])
        assert r.json()["scope"] == "deals:read"


# -- hooks ---------------------------------------------------------------------------------------


def test_hooks_reshape_responses(clock: Clock) -> None:
    seen: list[TokenInfo] = []

    def shape(body: dict[str, Any], info: TokenInfo) -> dict[str, Any]:
        seen.append(info)
        body.pop("expires_in")
        return {**body, "instance_url": "https://example.test"}

    def errors(exc: OAuthError, endpoint: str) -> tuple[int, Any] | None:
        if endpoint == "token" and exc.error == "invalid_grant":
            return 400, {"status": "BAD_REFRESH_TOKEN", "message": exc.description}
        return None

    auth = AuthorizationServer(token_response=shape, error_response=errors, clock=clock)
    client = auth.register_client(redirect_uris=[REDIRECT])
    with AuthOnly(auth) as server, httpx2.Client(base_url=server.url) as http:
        body = login(auth, http, client)
        assert "expires_in" not in body
        assert body["instance_url"] == "https://example.test"
        assert [i.grant_type for i in seen] == ["authorization_code"]
        r = refresh(http, client, "rt_unknown")
        assert r.json() == {"status": "BAD_REFRESH_TOKEN", "message": "unknown refresh token"}
        r = refresh(http, client, "x", client_secret="bad")
        assert r.json()["error"] == "invalid_client"


# -- strict client authentication, at every endpoint ----------------------------------------------


@pytest.mark.parametrize("registered", ["client_secret_post", "client_secret_basic"])
def test_every_endpoint_accepts_only_the_registered_method(
    auth: AuthorizationServer, http: httpx2.Client, registered: str
) -> None:
    client = auth.register_client(redirect_uris=[REDIRECT], token_endpoint_auth_method=registered)
    assert client.client_secret is not None
    credentials = {
        "client_secret_post": ({"client_id": client.client_id, "client_secret": client.client_secret}, {}),
        "client_secret_basic": ({}, {"Authorization": _basic(client.client_id, client.client_secret)}),
    }
    other = "client_secret_basic" if registered == "client_secret_post" else "client_secret_post"

    def post(path: str, form: dict[str, str], method: str) -> httpx2.Response:
        extra, headers = credentials[method]
        return http.post(path, data={**form, **extra}, headers=headers)

    verifier = new_verifier()
    code = callback_params(auth.approve(authorize_url(client, verifier=verifier)))["code"]
    exchange_form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    exchange_form["code_verifier"] = verifier
    tokens = post("/oauth/token", exchange_form, registered).json()
    requests = {
        "exchange": ("/oauth/token", exchange_form),
        "refresh": ("/oauth/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}),
        "introspection": ("/oauth/introspect", {"token": tokens["access_token"]}),
        "revocation": ("/oauth/revoke", {"token": tokens["access_token"]}),
    }
    for path, form in requests.values():
        refused = post(path, form, other)
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
        assert f"registered for {registered}, not {other}" in refused.json()["error_description"]
    assert auth.token_requests == {"authorization_code": 2, "refresh_token": 1}
    assert auth.check_access_token(tokens["access_token"]).active  # nothing the refused requests asked happened
    assert post("/oauth/introspect", requests["introspection"][1], registered).json()["active"] is True
    assert post("/oauth/token", requests["refresh"][1], registered).status_code == 200
    assert post("/oauth/revoke", requests["revocation"][1], registered).status_code == 200
    assert auth.check_access_token(tokens["access_token"]).reason == "revoked"
