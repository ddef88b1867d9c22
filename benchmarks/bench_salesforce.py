"""Salesforce listing: our plugin through ``unified_sdk.Client`` against ``simple-salesforce``.

The local Salesforce (``python -m unified_sdk_salesforce.fake``) runs as its own
process with 10,000 opportunities. Each workload lists all of them as a whole
child process, several times, interleaved:

- ``sdk``: ``Client`` on a fresh SQLite file (call logs on), ``client.crm.deals.list``
  walking every page into unified ``Deal`` models. The plugin reads the object's
  fields once (describe), then runs one SOQL query and follows its query locators.
- ``simple-salesforce``: ``Salesforce(instance_url=…, session_id=…)`` and
  ``query_all_iter`` of the same SOQL text the plugin sends, yielding plain dicts.
  simple-salesforce always builds ``https://`` URLs; a requests transport adapter
  mounted for the loopback host sends them as plain HTTP to the fake (no TLS on either side).

For each run: wall time, the child's CPU (user + sys, ``os.wait4``) and peak RSS;
we report medians and the SDK / simple-salesforce ratios. Nothing is asserted.

Run: ``python -m benchmarks.bench_salesforce [--runs 5] [--deals 10000]``
(needs ``pip install -e 'providers/salesforce[fake,bench]'``). Results go to
``benchmarks/results/salesforce.json``.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

from contextlib import AbstractContextManager  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks._harness import Comparison, compare_listing, fake_process  # noqa: E402

VERSION = "62.0"


# -- the measured programs (run as ``python -m benchmarks.bench_salesforce --child KIND URL TOKEN WORKDIR``) --
def child_sdk(url: str, token: str, workdir: str) -> int:
    from unified_sdk import Client

    with Client(database_url=f"sqlite:///{workdir}/bench.db") as client:
        conn = client.connections.create(
            provider="salesforce", credentials={"access_token": token}, config={"base_url": url}
        )
        ids = {deal.id for deal in client.crm.deals.list(connection_id=conn.id)}
    return len(ids)


def _soql() -> str:
    """The SOQL text the plugin sends for deals (its standard fields, then the fake's custom fields)."""
    from unified_sdk_salesforce import _soql
    from unified_sdk_salesforce.crm.deals import DealsAdapter

    fields = [*DealsAdapter.fields, "Region__c", "Forecast_Score__c"]
    return _soql.select("Opportunity", fields, order_by=("Id",))


def child_simple_salesforce(url: str, token: str, workdir: str) -> int:
    import requests
    from requests.adapters import HTTPAdapter
    from simple_salesforce import Salesforce

    class PlainHTTP(HTTPAdapter):
        """simple-salesforce writes https:// URLs; the loopback fake speaks plain HTTP."""

        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            request.url = "http://" + request.url.removeprefix("https://")
            return super().send(request, *args, **kwargs)

    session = requests.Session()
    host = url.removeprefix("http://")
    session.mount(f"https://{host}", PlainHTTP())
    sf = Salesforce(instance_url=f"https://{host}", session_id=token, version=VERSION, session=session)
    ids = {record["Id"] for record in sf.query_all_iter(_soql())}
    return len(ids)


def local_salesforce(deals: int) -> AbstractContextManager[list[str]]:
    """The local Salesforce with ``deals`` opportunities; it prints its URL, then an access token."""
    return fake_process(
        "unified_sdk_salesforce.fake",
        *("--port", "0", "--deals", str(deals), "--print-token"),
        name="the local Salesforce",
        lines=2,
    )


SUITE = Comparison(
    provider="salesforce",
    module="benchmarks.bench_salesforce",
    doc=__doc__ or "",
    t0=_T0,
    children={"sdk": child_sdk, "simple-salesforce": child_simple_salesforce},
    rival_module="simple_salesforce",
    fake=local_salesforce,
    server="Local Salesforce",
    noun="opportunities",
    extra_meta=lambda: {"soql": _soql()},
)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return compare_listing(SUITE, argv)


if __name__ == "__main__":
    main()
