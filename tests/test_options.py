"""Typed client options, ``with_options``, per-call ``timeout=``, ``max_retries``/``max_wait`` and ``UNIFIED_SDK_LOG``.

Servers are real (the toy API and raw sockets on 127.0.0.1). Elapsed time is measured only to check a
behaviour bound (the call's timeout + a generous margin), never as a benchmark.
"""

from __future__ import annotations

import inspect
import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import unified_sdk
from tests.rawhttp import RawServer, trickle
from tests.toy.server import ToyServer
from tests.toy.toy_plugin import ToyProvider
from unified_sdk import AsyncClient, Client
from unified_sdk.errors import ConfigurationError, ProviderError, ProviderTimeoutError, RateLimitedError
from unified_sdk.testing import set_jitter

# 28 bytes at one byte every 0.08 s: about 2.2 s to read, well within 6 s and well past 1 s.
BODY = b'{"items": [], "after": null}'
SLOW = 0.08
LONG = 6.0
SHORT = 1.0
BOUND = SHORT + 1.5  # margin for a loaded machine; a call bounded by the client's 6 s takes 2 s and more
API_KEY = "sk_canary_0p7i0ns_d0nt_l3ak"


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    c = Client(database_url=db_url, providers={"toy": ToyProvider}, timeout=LONG)
    set_jitter(c, lambda: 0.0)
    yield c
    c.close()


@pytest.fixture
async def aclient(db_url: str) -> AsyncIterator[AsyncClient]:
    c = AsyncClient(database_url=db_url, providers={"toy": ToyProvider}, timeout=LONG)
    set_jitter(c, lambda: 0.0)
    yield c
    await c.aclose()


def _conn(client: Client, url: str) -> str:
    return client.connections.create(provider="toy", credentials={"api_key": API_KEY}, config={"base_url": url}).id


# -- typed options -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_every_option_is_a_typed_keyword_explained_in_the_docstring(cls: type[Client] | type[AsyncClient]) -> None:
    params = inspect.signature(cls.__init__).parameters
    options = [p for name, p in params.items() if name != "self"]
    assert options and all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in options)  # no **options
    assert all(p.annotation is not inspect.Parameter.empty for p in options)
    doc = cls.__doc__ or ""
    assert [p.name for p in options if f"``{p.name}``" not in doc] == []
    assert {"max_retries", "max_wait", "timeout"} <= set(params)


def test_mypy_sees_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mypy import api

    good = tmp_path / "good.py"
    good.write_text(
        textwrap.dedent(
            """
            from unified_sdk import AsyncClient, Client

            c = Client(database_url="sqlite://", timeout=5.0, max_retries=0, max_wait=1.5, log_bodies=False)
            fast: Client = c.with_options(timeout=1, max_retries=1)
            fast.crm.deals.list(connection_id="c", timeout=2.0)
            a: AsyncClient = AsyncClient(max_wait=3).with_options(max_wait=1)
            """
        )
    )
    bad = tmp_path / "bad.py"
    bad.write_text("from unified_sdk import Client\n\nClient(timout=5)\nClient(max_retries='3')\n")
    # Only the SDK is analysed (its dependencies are skipped: Any to mypy), which keeps this test quick.
    (tmp_path / "mypy.ini").write_text(
        "[mypy]\nfollow_imports = skip\n\n[mypy-unified_sdk,unified_sdk.*]\nfollow_imports = silent\n"
    )
    root = Path(unified_sdk.__file__).parent.parent  # this tree, not an installed copy
    monkeypatch.setenv("MYPYPATH", str(root))
    out, err, status = api.run(
        [
            "--config-file",
            str(tmp_path / "mypy.ini"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
            "--hide-error-context",
            str(good),
            str(bad),
        ]
    )
    lines = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err
    assert not [line for line in lines if "good.py" in line], out
    assert any("bad.py:3:" in line and '"timout"' in line for line in lines), out
    assert any("bad.py:4:" in line and "max_retries" in line for line in lines), out


@pytest.mark.parametrize(
    "options",
    [{"timeout": 0}, {"timeout": -1.0}, {"timeout": float("nan")}, {"max_wait": -1}, {"max_retries": -1}],
)
def test_unusable_limits_are_refused_at_once(db_url: str, options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        Client(database_url=db_url, **options)  # type: ignore[arg-type]
    with Client(database_url=db_url) as client, pytest.raises(ConfigurationError):
        client.with_options(**options)  # type: ignore[arg-type]


# -- with_options --------------------------------------------------------------------------------------------


def test_with_options_timeout_bounds_the_copy_while_the_original_keeps_its_own(client: Client) -> None:
    with RawServer(trickle(BODY, every=SLOW)) as server:
        cid = _conn(client, server.url)
        fast = client.with_options(timeout=SHORT)
        started = time.monotonic()
        with pytest.raises(ProviderTimeoutError) as info:
            fast.crm.deals.list(connection_id=cid)
        assert time.monotonic() - started < BOUND
        assert info.value.log_id
        # The original still has 6 s: the same slow body is read whole.
        assert client.crm.deals.list(connection_id=cid).data == []
        assert server.requests == 2


def test_a_copy_shares_the_runtime_and_closing_it_leaves_the_original_usable(
    client: Client, toy_server: ToyServer
) -> None:
    cid = _conn(client, toy_server.url)
    with client.with_options(timeout=5, max_retries=1) as copy:
        assert copy._runtime is client._runtime and copy._http is client._http
        page = copy.crm.deals.list(connection_id=cid, limit=2)
        assert len(page.data) == 2
        assert copy.passthrough.request(cid, "GET", "/items", params={"n": 1}).status == 200
    # Closed: the original's storage, logs and HTTP connections are untouched.
    logs = client.logs.list(connection_id=cid)
    assert [log.operation for log in reversed(logs)] == ["crm.deals.list", "passthrough"]
    assert len(client.crm.deals.list(connection_id=cid, limit=3).data) == 3
    assert not client._http.is_closed
    client.with_options(timeout=2)  # a copy never closed is no leak: no ResourceWarning (warnings are errors)


async def test_async_copy_shares_the_runtime_and_closing_it_leaves_the_original_usable(
    aclient: AsyncClient, toy_server: ToyServer
) -> None:
    conn = await aclient.connections.create(
        provider="toy", credentials={"api_key": API_KEY}, config={"base_url": toy_server.url}
    )
    async with aclient.with_options(max_retries=0) as copy:
        toy_server.inject(status=503, times=1)
        with pytest.raises(ProviderError):
            await copy.crm.deals.list(connection_id=conn.id)
    assert toy_server.hits["GET /items"] == 1  # the copy's max_retries=0
    page = await aclient.crm.deals.list(connection_id=conn.id, limit=2)  # the original: still open
    assert len(page.data) == 2
    assert not aclient._http.is_closed
    assert len(await in_logs(aclient, conn.id)) == 2


async def in_logs(client: AsyncClient, connection_id: str) -> list[object]:
    return list(await client.logs.list(connection_id=connection_id))


# -- max_retries and max_wait --------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["client", "with_options"])
def test_max_retries_0_sends_a_503_once(db_url: str, toy_server: ToyServer, where: str) -> None:
    if where == "client":
        client = Client(database_url=db_url, providers={"toy": ToyProvider}, max_retries=0)
        used = client
    else:
        client = Client(database_url=db_url, providers={"toy": ToyProvider})
        used = client.with_options(max_retries=0)
    with client:
        cid = _conn(client, toy_server.url)
        toy_server.inject(status=503, times=10)
        with pytest.raises(ProviderError) as info:
            used.crm.deals.list(connection_id=cid)
        assert info.value.status == 503
        assert toy_server.hits["GET /items"] == 1
        (log,) = client.logs.list(connection_id=cid)
        assert (log.status, log.action) == (503, "fail")


def test_max_retries_overrides_the_table_upwards(client: Client, toy_server: ToyServer) -> None:
    cid = _conn(client, toy_server.url)
    toy_server.inject(status=503, times=4)  # the table allows 2 retries; the client 4
    assert len(client.with_options(max_retries=4).crm.deals.list(connection_id=cid, limit=1).data) == 1
    assert toy_server.hits["GET /items"] == 5


def test_max_wait_fails_at_once_when_the_provider_asks_for_longer(client: Client, toy_server: ToyServer) -> None:
    cid = _conn(client, toy_server.url)
    toy_server.inject(status=429, times=1, retry_after=5)
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        client.with_options(max_wait=1).crm.deals.list(connection_id=cid)
    assert time.monotonic() - started < BOUND  # no 5 s sleep
    error = info.value
    assert error.retryable and error.details["retry_after"] == 5 and error.details["max_wait_exceeded"]
    assert "max_wait (1 s)" in (error.hint or "")
    assert toy_server.hits["GET /items"] == 1
    (log,) = client.logs.list(connection_id=cid)
    assert (log.id, log.action) == (error.log_id, "fail")


def test_a_wait_within_max_wait_is_waited(client: Client, toy_server: ToyServer) -> None:
    cid = _conn(client, toy_server.url)
    toy_server.inject(status=429, times=1, retry_after=0)
    assert len(client.with_options(max_wait=1).crm.deals.list(connection_id=cid, limit=1).data) == 1
    assert toy_server.hits["GET /items"] == 2


# -- per-call timeout ----------------------------------------------------------------------------------------


def test_a_per_call_timeout_bounds_that_call(client: Client) -> None:
    with RawServer(trickle(BODY, every=SLOW)) as server:
        cid = _conn(client, server.url)
        started = time.monotonic()
        with pytest.raises(ProviderTimeoutError):
            client.crm.deals.list(connection_id=cid, timeout=SHORT)
        assert time.monotonic() - started < BOUND
        assert server.requests == 1
        with pytest.raises(ProviderTimeoutError):
            client.passthrough.request(cid, "GET", "/items", timeout=SHORT)
        with pytest.raises(ProviderTimeoutError):
            client.connections.check(cid, timeout=SHORT)
        assert server.requests == 3


async def test_async_a_per_call_timeout_bounds_that_call(aclient: AsyncClient) -> None:
    with RawServer(trickle(BODY, every=SLOW)) as server:
        conn = await aclient.connections.create(
            provider="toy", credentials={"api_key": API_KEY}, config={"base_url": server.url}
        )
        started = time.monotonic()
        with pytest.raises(ProviderTimeoutError):
            await aclient.crm.deals.list(connection_id=conn.id, timeout=SHORT)
        assert time.monotonic() - started < BOUND
        with pytest.raises(ProviderTimeoutError):
            await aclient.passthrough.request(conn.id, "GET", "/items", timeout=SHORT)
        with pytest.raises(ProviderTimeoutError):
            await aclient.connections.check(conn.id, timeout=SHORT)
        assert server.requests == 3


@pytest.mark.parametrize("timeout", [0, -5, float("inf")])
def test_an_unusable_per_call_timeout_is_refused_before_sending(
    client: Client, toy_server: ToyServer, timeout: float
) -> None:
    cid = _conn(client, toy_server.url)
    with pytest.raises(ConfigurationError, match="timeout"):
        client.crm.deals.list(connection_id=cid, timeout=timeout)
    with pytest.raises(ConfigurationError, match="timeout"):
        client.passthrough.request(cid, "GET", "/items", timeout=timeout)
    assert toy_server.hits == {}


# -- logging -------------------------------------------------------------------------------------------------


def test_retries_and_requests_are_logged_without_secrets(
    client: Client, toy_server: ToyServer, caplog: pytest.LogCaptureFixture
) -> None:
    cid = _conn(client, toy_server.url)
    toy_server.inject(status=503, times=1)
    toy_server.inject(status=429, times=1, retry_after=0)
    with caplog.at_level(logging.DEBUG, logger="unified_sdk"):
        client.crm.deals.list(connection_id=cid, limit=1)
        client.passthrough.request(cid, "GET", "/items", params={"n": 1, "access_token": "query_canary_s3cret"})
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("unified_sdk")]
    retries = [m for m in messages if "retry" in m]
    assert len(retries) == 2
    assert "503 (provider_error), retry 1" in retries[0] and cid in retries[0]
    assert "429 (rate_limited), retry 2" in retries[1]
    requests = [m for m in messages if " GET " in m]
    assert len(requests) == 4 and all(toy_server.url in m for m in requests)
    assert "-> 503" in requests[0] and "-> 200" in requests[2]
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert API_KEY not in text and "query_canary_s3cret" not in text


def test_unified_sdk_log_debug_prints_retries_to_stderr_without_secrets(toy_server: ToyServer, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import logging
        from tests.toy.toy_plugin import ToyProvider
        from unified_sdk import Client
        from unified_sdk.testing import set_jitter

        with Client(database_url="sqlite:///{tmp_path / "sdk.db"}", providers={{"toy": ToyProvider}}) as client:
            set_jitter(client, lambda: 0.0)
            conn = client.connections.create(
                provider="toy", credentials={{"api_key": "{API_KEY}"}}, config={{"base_url": "{toy_server.url}"}}
            )
            Client(database_url="sqlite://").close()  # a second client adds no second handler
            client.crm.deals.list(connection_id=conn.id, limit=1)
        print(len(logging.getLogger().handlers), len(logging.getLogger("unified_sdk").handlers))
        """
    )
    toy_server.inject(status=503, times=1)
    env = {**os.environ, "UNIFIED_SDK_LOG": "debug", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1"]  # the root logger untouched; one handler on the SDK's logger
    retry_lines = [line for line in done.stderr.splitlines() if "retry 1" in line]
    assert len(retry_lines) == 1 and "503 (provider_error)" in retry_lines[0]
    assert "GET " + toy_server.url + "/items" in done.stderr
    assert API_KEY not in done.stderr
    assert toy_server.hits["GET /items"] == 2


def test_without_unified_sdk_log_nothing_is_printed(toy_server: ToyServer, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        from tests.toy.toy_plugin import ToyProvider
        from unified_sdk import Client

        with Client(database_url="sqlite:///{tmp_path / "sdk.db"}", providers={{"toy": ToyProvider}}) as client:
            conn = client.connections.create(
                provider="toy", credentials={{"api_key": "k"}}, config={{"base_url": "{toy_server.url}"}}
            )
            client.crm.deals.list(connection_id=conn.id, limit=1)
        """
    )
    toy_server.inject(status=429, times=1, retry_after=0)
    env = {k: v for k, v in os.environ.items() if k != "UNIFIED_SDK_LOG"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_refreshes_are_logged_without_tokens(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from unified_sdk_sandbox.fake import SandboxServer

    from unified_sdk.testing import authorize

    with SandboxServer(deals=2, contacts=1, companies=1) as server, Client(database_url=db_url) as client:
        cid = authorize(client, server, "sandbox", ["crm_deal_read"]).id
        client.crm.deals.list(connection_id=cid, limit=1)
        secrets = set(client._runtime.connections_store.record(cid).secrets)
        server.expire_access_tokens()
        with caplog.at_level(logging.DEBUG, logger="unified_sdk"):
            client.crm.deals.list(connection_id=cid, limit=1)
        secrets |= set(client._runtime.connections_store.record(cid).secrets)
    messages = [r.getMessage() for r in caplog.records]
    assert f"refreshing the credentials of connection {cid} (rejected)" in messages
    assert f"refreshed the credentials of connection {cid}" in messages
    assert len(secrets) >= 3  # the old access token, the refresh token(s) and the new access token
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert not [s for s in secrets if s in text]
