"""A small web app with a "Connect HubSpot" button: the OAuth flow of unified-sdk in a browser.

Pages:

* ``GET /``: the *Connect* button (a form, so link prefetchers never start a flow) and the
  connections made so far.
* ``POST /connect``: builds the authorization URL from unified scopes and sends the browser there.
* ``GET <redirect_uri path>``: the callback; ``client.auth.complete`` stores the connection, then the
  browser is sent on to its page (so a reload of that page does not replay the callback).
* ``GET /connections/{id}``: the connection's health and its first deals.
* Every SDK error becomes a page a person understands, with a *Try again* link.

Run it against a local fake HubSpot (no account needed)::

    python -m examples.connect_app            # then open http://127.0.0.1:8000

Everything shown is HTML-escaped: deal names come from the CRM, error texts from the provider.
"""

from __future__ import annotations

import argparse
import html
import os
import secrets
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from unified_sdk import Client
from unified_sdk.errors import AuthorizationError, ConnectionNotFoundError, UnifiedError
from unified_sdk.models import Deal

__all__ = ["create_app", "main"]

#: The cookie that ties a callback to the browser that started the flow (RFC 6749 section 10.12):
#: without it, someone could send a user a callback link that connects the *sender's* account.
STATE_COOKIE = "connect_state"
STATE_COOKIE_MAX_AGE = 600  # the SDK's OAuth states last 10 minutes


@dataclass(frozen=True)
class Problem:
    """A failure explained for a person: a title, what happened, what to do, and the HTTP status."""

    title: str
    text: str
    status: int = 400
    advice: str = ""


def explain(exc: UnifiedError, provider_name: str) -> Problem:
    """The page for an SDK error raised while finishing the authorization."""
    if isinstance(exc, AuthorizationError):
        if exc.provider_code == "access_denied":
            return Problem(
                f"You declined to connect {provider_name}",
                f"Nothing was connected and {provider_name} shared no data. "
                "If that was a mistake, try again and choose Allow.",
            )
        if exc.provider_code:
            detail = exc.provider_message or exc.provider_code
            return Problem(f"{provider_name} refused the connection", f"{provider_name} said: {detail}")
        # The SDK's own callback checks carry no provider code; its messages name the reason.
        message = exc.message.lower()
        if "already used" in message:
            return Problem(
                "This link was already used",
                f"This {provider_name} sign-in link has already been used (perhaps the page was reloaded). "
                "Nothing else was changed; your connections are listed on the start page.",
            )
        if "expired" in message:
            return Problem(
                "This link has expired",
                f"{provider_name} sign-in links last 10 minutes. Start again to get a new one.",
            )
        return Problem(
            "We don't recognise this link",
            f"This page expects the link {provider_name} sends you back with after you click Connect.",
        )
    hint = exc.hint or "try again in a moment"
    return Problem(
        f"{provider_name} could not complete the connection",
        f"{provider_name} answered: {exc.message}",
        status=502,
        advice=hint[:1].upper() + hint[1:] + ".",
    )


def create_app(
    client: Client,
    provider: str = "hubspot",
    *,
    redirect_uri: str,
    scopes: Sequence[str] = ("crm_deal_read",),
    external_id: str = "customer-42",
    deal_limit: int = 5,
) -> Starlette:
    """The Connect app for ``provider`` on ``client``, whose integration must already be configured.

    ``redirect_uri`` is where the provider sends the browser back (its path is served as the
    callback; register the same URI with the provider). ``scopes`` are unified scopes; connections
    are made for the app's customer ``external_id`` (a real app takes it from its own login).

    Example::

        client.integrations.configure("hubspot", client_id=..., client_secret=..., redirect_uri=uri)
        app = create_app(client, "hubspot", redirect_uri=uri)
        uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    name = client.providers.get(provider).display_name
    callback_path = urlsplit(redirect_uri).path or "/"

    def home(request: Request) -> Response:
        connections = client.connections.list(provider=provider, external_id=external_id)
        rows = "".join(
            f'<li><a href="/connections/{_e(c.id)}">{_e(c.id)}</a> ({_e(c.health.value)})</li>' for c in connections
        )
        listed = f"<h2>Your {_e(name)} connections</h2><ul>{rows}</ul>" if rows else ""
        body = (
            f"<p>Connect your {_e(name)} account so we can read your deals.</p>"
            f'<form method="post" action="/connect"><button type="submit">Connect {_e(name)}</button></form>'
            f"{listed}"
        )
        return _page(f"Connect {name}", body)

    def connect(request: Request) -> Response:
        try:
            auth = client.auth.authorization_url(
                provider, scopes=list(scopes), external_id=external_id, redirect_uri=redirect_uri
            )
        except UnifiedError as exc:
            return _problem(Problem(f"Could not start connecting {name}", exc.message, status=500))
        response = RedirectResponse(auth.url, status_code=303)
        response.set_cookie(
            STATE_COOKIE,
            auth.state,
            max_age=STATE_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",  # sent on the provider's top-level redirect back to us
            secure=urlsplit(redirect_uri).scheme == "https",
        )
        return response

    def callback(request: Request) -> Response:
        state = request.query_params.get("state") or ""
        expected = request.cookies.get(STATE_COOKIE) or ""
        if not expected or not secrets.compare_digest(state.encode(), expected.encode()):
            return _problem(
                Problem(
                    "This link was started somewhere else",
                    f"This {name} sign-in link does not belong to this browser, or it has expired. "
                    "Nothing was connected; start again here.",
                )
            )
        try:
            connection = client.auth.complete(str(request.url))
        except UnifiedError as exc:
            return _problem(explain(exc, name))
        return RedirectResponse(f"/connections/{connection.id}", status_code=303)

    def connection_page(request: Request) -> Response:
        connection_id = request.path_params["connection_id"]
        # A real app also checks that the connection belongs to the signed-in customer.
        try:
            connection = client.connections.get(connection_id)
        except ConnectionNotFoundError:
            return _problem(Problem("No such connection", "It may have been deleted.", status=404))
        facts = (
            f"<dl><dt>Health</dt><dd id='health'>{_e(connection.health.value)}</dd>"
            f"<dt>Granted</dt><dd>{_e(', '.join(connection.scopes or []))}</dd></dl>"
        )
        try:
            deals = client.crm.deals.list(connection_id=connection.id, limit=deal_limit).data
        except UnifiedError as exc:
            deals_html = f"<p class='error'>Could not read deals: {_e(exc.message)}</p><p>{_e(exc.hint or '')}</p>"
        else:
            rows = "".join(
                f"<tr><td>{_e(d.name or '')}</td><td>{_e(d.stage or '')}</td><td>{_e(_amount(d))}</td></tr>"
                for d in deals
            )
            deals_html = (
                f"<h2>First deals</h2><table id='deals'><thead><tr><th>Deal</th><th>Stage</th><th>Amount</th></tr>"
                f"</thead><tbody>{rows}</tbody></table>"
                if rows
                else "<p>No deals yet.</p>"
            )
        body = f"{facts}{deals_html}<p><a href='/'>Back</a></p>"
        return _page(f"{name} connected", body)

    return Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Route("/connect", connect, methods=["POST"]),
            Route(callback_path, callback, methods=["GET"]),
            Route("/connections/{connection_id}", connection_page, methods=["GET"]),
        ]
    )


def _amount(deal: Deal) -> str:
    if deal.amount is None:
        return ""
    return f"{deal.amount:,.2f} {deal.currency or ''}".strip()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "button{font-size:1.1rem;padding:.6rem 1.2rem;background:#ff7a59;color:#fff;border:0;border-radius:4px}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}"
    ".problem{border-left:4px solid #c0392b;padding-left:1rem}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>{body}</body></html>"
    )
    # Pages show account data: keep them out of shared caches and the back-forward cache.
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def _problem(problem: Problem) -> HTMLResponse:
    advice = f"<p class='advice'>{_e(problem.advice)}</p>" if problem.advice else ""
    body = f"<div class='problem'><p>{_e(problem.text)}</p>{advice}</div><p><a href='/'>Try again</a></p>"
    return _page(problem.title, body, problem.status)


def main(argv: list[str] | None = None) -> None:
    """Serve the app on 127.0.0.1 against a local fake HubSpot (or a real app's credentials)."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m examples.connect_app", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--deals", type=int, default=12, help="deals to seed in the fake HubSpot")
    args = parser.parse_args(argv)
    redirect_uri = f"http://127.0.0.1:{args.port}/oauth/callback"
    with ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory())
        client = stack.enter_context(Client(database_url=f"sqlite:///{workdir}/connect.db"))
        client_id, client_secret = os.environ.get("HUBSPOT_CLIENT_ID"), os.environ.get("HUBSPOT_CLIENT_SECRET")
        if client_id and client_secret:
            config: dict[str, str] = {}  # the real HubSpot; register redirect_uri in your app's settings
        else:
            from unified_sdk_hubspot.fake import FakeHubSpot

            fake = stack.enter_context(FakeHubSpot(redirect_urls=[redirect_uri]))
            fake.seed(deals=args.deals, contacts=5, companies=2)
            client_id, client_secret, config = fake.oauth_client_id, fake.oauth_client_secret, fake.config
            print(f"fake HubSpot on {fake.url}")
        client.integrations.configure(
            "hubspot", client_id=client_id, client_secret=client_secret, redirect_uri=redirect_uri, config=config
        )
        print(f"open http://127.0.0.1:{args.port}/", flush=True)
        app = create_app(client, redirect_uri=redirect_uri)
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
