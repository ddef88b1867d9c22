"""List every deal of a CRM connection with the blocking client.

Runs against the local sandbox CRM: it starts one on 127.0.0.1 unless SANDBOX_URL and
SANDBOX_API_KEY point at a running one (``python -m unified_sdk_sandbox.fake --port 8765``).

    python examples/list_deals.py
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from contextlib import ExitStack
from decimal import Decimal

from unified_sdk import Client
from unified_sdk.errors import UnifiedError


def main() -> None:
    with ExitStack() as stack:
        url, api_key = os.environ.get("SANDBOX_URL"), os.environ.get("SANDBOX_API_KEY")
        if not (url and api_key):
            from unified_sdk_sandbox.fake import SandboxServer

            server = stack.enter_context(SandboxServer())
            url, api_key = server.url, server.api_key
        workdir = stack.enter_context(tempfile.TemporaryDirectory())
        client = stack.enter_context(Client(database_url=f"sqlite:///{workdir}/example.db"))

        conn = client.connections.create(
            provider="sandbox",
            credentials={"api_key": api_key},
            external_id="customer-42",
            config={"base_url": url},
        )
        try:
            page = client.crm.deals.list(connection_id=conn.id, limit=100)
            print(f"first page: {len(page.data)} deals, next cursor {page.next_cursor!r}")

            by_stage: Counter[str] = Counter()
            totals: dict[str, Decimal] = {}
            count = 0
            for deal in page:  # walks every following page
                count += 1
                by_stage[deal.stage or "?"] += 1
                if deal.amount is not None:
                    currency = deal.currency or "?"
                    totals[currency] = totals.get(currency, Decimal(0)) + deal.amount
            worth = ", ".join(f"{total:,.2f} {currency}" for currency, total in sorted(totals.items()))
            print(f"{count} deals worth {worth}")
            for stage, n in by_stage.most_common():
                print(f"  {stage:<24} {n}")
        except UnifiedError as exc:
            print(f"failed: {exc.message}\nhint: {exc.hint}")
            raise SystemExit(1) from None

        calls = client.logs.list(connection_id=conn.id, limit=1000)
        print(f"{len(calls)} calls logged; health: {client.connections.get(conn.id).health}")


if __name__ == "__main__":
    main()
