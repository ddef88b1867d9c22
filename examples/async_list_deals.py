"""List deals, contacts and companies concurrently with the async client.

Runs against the local sandbox CRM: it starts one on 127.0.0.1 unless SANDBOX_URL and
SANDBOX_API_KEY point at a running one (``python -m unified_sdk_sandbox.fake --port 8765``).

    python examples/async_list_deals.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from contextlib import ExitStack
from typing import Any

from unified_sdk import AsyncClient
from unified_sdk.errors import UnifiedError


async def count_all(resource: Any, connection_id: str) -> int:
    page = await resource.list(connection_id=connection_id, limit=100)
    return sum([1 async for _ in page])  # ``async for`` walks every following page


async def run(url: str, api_key: str, workdir: str) -> None:
    async with AsyncClient(database_url=f"sqlite:///{workdir}/example.db") as client:
        conn = await client.connections.create(
            provider="sandbox", credentials={"api_key": api_key}, config={"base_url": url}
        )
        try:
            deals, contacts, companies = await asyncio.gather(
                count_all(client.crm.deals, conn.id),
                count_all(client.crm.contacts, conn.id),
                count_all(client.crm.companies, conn.id),
            )
            pipelines = await client.crm.pipelines.list(connection_id=conn.id)
        except UnifiedError as exc:
            print(f"failed: {exc.message}\nhint: {exc.hint}")
            raise SystemExit(1) from None
        print(f"{deals} deals, {contacts} contacts, {companies} companies")
        for pipeline in pipelines.data:
            stages = ", ".join(stage.name or "?" for stage in pipeline.stages or [])
            print(f"pipeline {pipeline.name}: {stages}")
        logs = await client.logs.list(connection_id=conn.id, limit=1000)
        print(f"{len(logs)} calls logged")


def main() -> None:
    with ExitStack() as stack:
        url, api_key = os.environ.get("SANDBOX_URL"), os.environ.get("SANDBOX_API_KEY")
        if not (url and api_key):
            from unified_sdk_sandbox.fake import SandboxServer

            server = stack.enter_context(SandboxServer())
            url, api_key = server.url, server.api_key
        workdir = stack.enter_context(tempfile.TemporaryDirectory())
        asyncio.run(run(url, api_key, workdir))


if __name__ == "__main__":
    main()
