"""HubSpot listing: our plugin through ``unified_sdk.Client`` against ``hubspot-api-client``.

The local HubSpot (``python -m unified_sdk_hubspot.fake``) runs as its own process
with 10,000 deals (associated with contacts and companies). Each workload lists
all of them as a whole child process, several times, interleaved:

- ``sdk``: ``Client`` on a fresh SQLite file (call logs on), a private-app
  connection, ``client.crm.deals.list`` walking every page into unified ``Deal``
  models: exact ``Decimal`` amounts, parsed datetimes, stage and pipeline labels
  (the pipelines fetched once), contact and company ids, the record in ``raw``.
- ``hubspot-api-client``: ``HubSpot(access_token=…, host=…)`` and
  ``crm.deals.basic_api.get_page`` following ``after``, asking for the same
  properties and associations, yielding its own model objects.

The fake's rate limit is lifted for both (the official client does not throttle).
For each run: wall time, the child's CPU (user + sys, ``os.wait4``) and peak RSS;
we report medians and the SDK / hubspot-api-client ratios. Nothing is asserted;
the issue's target is a CPU ratio of at most 0.25.

Run: ``python -m benchmarks.bench_hubspot [--runs 5] [--deals 10000]``
(needs ``pip install -e 'providers/hubspot[fake,bench]'``). Results go to
``benchmarks/results/hubspot.json``.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

from contextlib import AbstractContextManager  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks._harness import Comparison, compare_listing, fake_process  # noqa: E402

TOKEN = "pat-na1-bench-token"


# -- the measured programs (run as ``python -m benchmarks.bench_hubspot --child KIND URL WORKDIR``) --------
def child_sdk(url: str, workdir: str) -> int:
    from unified_sdk import Client

    with Client(database_url=f"sqlite:///{workdir}/bench.db") as client:
        conn = client.connections.create(provider="hubspot", credentials={"api_key": TOKEN}, config={"base_url": url})
        ids = {deal.id for deal in client.crm.deals.list(connection_id=conn.id, limit=100)}
    return len(ids)


def child_official(url: str, workdir: str) -> int:
    from hubspot import HubSpot
    from unified_sdk_hubspot.crm.deals import DealsAdapter

    api = HubSpot(access_token=TOKEN, host=url)
    properties = list(DealsAdapter.properties)
    associations = list(DealsAdapter.associations)
    ids: set[str] = set()
    after = None
    while True:
        page = api.crm.deals.basic_api.get_page(
            limit=100, after=after, properties=properties, associations=associations, archived=False
        )
        ids.update(deal.id for deal in page.results)
        if page.paging is None or page.paging.next is None:
            return len(ids)
        after = page.paging.next.after


def local_hubspot(deals: int) -> AbstractContextManager[list[str]]:
    """The local HubSpot with ``deals`` deals, its rate limit lifted (the official client does not throttle)."""
    return fake_process(
        "unified_sdk_hubspot.fake",
        *("--port", "0", "--deals", str(deals), "--contacts", "200", "--companies", "50"),
        *("--api-key", TOKEN, "--ten-second-limit", "10000000"),
        name="the local HubSpot",
    )


SUITE = Comparison(
    provider="hubspot",
    module="benchmarks.bench_hubspot",
    doc=__doc__ or "",
    t0=_T0,
    children={"sdk": child_sdk, "hubspot-api-client": child_official},
    rival_module="hubspot",
    fake=local_hubspot,
    server="Local HubSpot",
    target=" (target: cpu <= 0.25x)",
    extra_meta=lambda: {"page_size": 100},
)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return compare_listing(SUITE, argv)


if __name__ == "__main__":
    main()
