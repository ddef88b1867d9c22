"""The measured programs, each run as a whole child process by ``bench_core``.

``python -m benchmarks._workloads KIND URL API_KEY WORKDIR`` prints one JSON line
``{"count": N, "seconds": S}`` where ``seconds`` is the time spent in the workload
itself (after interpreter start-up). Kinds:

- ``sdk-sync`` / ``sdk-async``: ``Client`` / ``AsyncClient`` on a fresh SQLite file, unified
  models and call logging on, listing every deal 100 per page.
- ``raw-sync`` / ``raw-async``: a plain httpx2 loop making the same requests and parsing the
  same JSON.
- ``import-sdk``: ``import unified_sdk``, create a ``Client``, resolve the ``sandbox`` provider.
- ``import-httpx2``: ``import httpx2``.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import sys  # noqa: E402
from typing import Any  # noqa: E402

PAGE = 100
PATH = "/v1/deals"


def sdk_sync(url: str, api_key: str, workdir: str) -> int:
    from unified_sdk import Client

    with Client(database_url=f"sqlite:///{workdir}/bench.db") as client:
        conn = client.connections.create(provider="sandbox", credentials={"api_key": api_key}, config={"base_url": url})
        ids = {deal.id for deal in client.crm.deals.list(connection_id=conn.id, limit=PAGE)}
    return len(ids)


async def sdk_async(url: str, api_key: str, workdir: str) -> int:
    from unified_sdk import AsyncClient

    async with AsyncClient(database_url=f"sqlite:///{workdir}/bench.db") as client:
        conn = await client.connections.create(
            provider="sandbox", credentials={"api_key": api_key}, config={"base_url": url}
        )
        page = await client.crm.deals.list(connection_id=conn.id, limit=PAGE)
        ids = {deal.id async for deal in page}
    return len(ids)


def raw_sync(url: str, api_key: str, workdir: str) -> int:
    import httpx2

    ids: set[str] = set()
    headers = {"X-Api-Key": api_key, "accept": "application/json"}
    with httpx2.Client(timeout=30) as http:
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            response = http.get(url + PATH, params=params, headers=headers)
            response.raise_for_status()
            body = response.json()
            ids.update(record["id"] for record in body["data"])
            cursor = body.get("next_cursor")
            if not cursor:
                return len(ids)


async def raw_async(url: str, api_key: str, workdir: str) -> int:
    import httpx2

    ids: set[str] = set()
    headers = {"X-Api-Key": api_key, "accept": "application/json"}
    async with httpx2.AsyncClient(timeout=30) as http:
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            response = await http.get(url + PATH, params=params, headers=headers)
            response.raise_for_status()
            body = response.json()
            ids.update(record["id"] for record in body["data"])
            cursor = body.get("next_cursor")
            if not cursor:
                return len(ids)


def import_sdk(url: str, api_key: str, workdir: str) -> int:
    import unified_sdk

    client = unified_sdk.Client(database_url=f"sqlite:///{workdir}/bench.db")
    client.providers.get("sandbox")
    return 1


def import_httpx2(url: str, api_key: str, workdir: str) -> int:
    import httpx2  # noqa: F401

    return 1


def phases(url: str, api_key: str, workdir: str) -> dict[str, float]:
    """Where the SDK's CPU goes, phase by phase (process CPU of all threads, main thread apart)."""
    cpu, main_cpu = time.process_time, time.thread_time
    out: dict[str, float] = {"interpreter_start": cpu()}
    c0 = cpu()
    import httpx2

    out["import_httpx2"] = cpu() - c0
    c0 = cpu()
    from unified_sdk import Client

    out["import_unified_sdk"] = cpu() - c0
    c0 = cpu()
    client = Client(database_url=f"sqlite:///{workdir}/bench.db")
    conn = client.connections.create(provider="sandbox", credentials={"api_key": api_key}, config={"base_url": url})
    out["client_and_connection_create"] = cpu() - c0
    c0 = cpu()
    page = client.crm.deals.list(connection_id=conn.id, limit=PAGE)
    out["first_page"] = cpu() - c0
    c0, m0 = cpu(), main_cpu()
    count = len(page.data) + sum(len(p.data) for p in list(page.iter_pages())[1:])
    out["other_pages_all_threads"] = cpu() - c0
    out["other_pages_main_thread"] = main_cpu() - m0
    c0 = cpu()
    client.close()
    out["close_flush_logs"] = cpu() - c0

    # The same pages fetched raw, then fed to the plugin's adapter by hand: parsing + mapping alone.
    from unified_sdk.provider import ListQuery, OperationContext, ProviderResponse

    bodies: list[tuple[int, Any, bytes]] = []
    c0 = cpu()
    with httpx2.Client(timeout=30) as http:
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            response = http.get(url + PATH, params=params, headers={"X-Api-Key": api_key})
            body = response.json()
            bodies.append((response.status_code, response.headers, response.content))
            cursor = body.get("next_cursor")
            if not cursor:
                break
    out["raw_listing_loop"] = cpu() - c0
    adapter = client._runtime.provider_for("sandbox").adapter("crm.deals")  # the registry needs no open client
    assert adapter is not None
    ctx = OperationContext(conn.id, "sandbox", {"base_url": url}, "crm.deals.list")
    c0 = cpu()
    mapped = 0
    for status, headers, content in bodies:
        flow = adapter.list(ctx, ListQuery(limit=PAGE))
        request = next(flow)
        try:
            flow.send(ProviderResponse(status, headers, content, request))
        except StopIteration as stop:
            mapped += len(stop.value.items)
    out["plugin_parse_and_map_only"] = cpu() - c0
    out["count"] = count
    out["mapped"] = mapped
    return out


def main() -> None:
    kind, url, api_key, workdir = sys.argv[1:5]
    if kind == "phases":
        import json

        sys.stdout.write(json.dumps({"count": 1, "seconds": 0.0, "phases": phases(url, api_key, workdir)}) + "\n")
        return
    if kind == "sdk-async":
        import asyncio

        count = asyncio.run(sdk_async(url, api_key, workdir))
    elif kind == "raw-async":
        import asyncio

        count = asyncio.run(raw_async(url, api_key, workdir))
    else:
        runner = {
            "sdk-sync": sdk_sync,
            "raw-sync": raw_sync,
            "import-sdk": import_sdk,
            "import-httpx2": import_httpx2,
        }[kind]
        count = runner(url, api_key, workdir)
    seconds = time.perf_counter() - _T0
    import json

    sys.stdout.write(json.dumps({"count": count, "seconds": seconds}) + "\n")


if __name__ == "__main__":
    main()
