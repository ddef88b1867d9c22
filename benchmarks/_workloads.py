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


def main() -> None:
    kind, url, api_key, workdir = sys.argv[1:5]
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
