"""No API key reaches a log row, an exception, a repr or the database file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.toy.server import ToyServer
from unified_sdk import Client
from unified_sdk._redact import REDACTED, redact_headers, redact_text, redact_url
from unified_sdk.errors import AuthenticationError

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
    record = toy_client._core.connections_store.record(conn.id)
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
