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

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import asdict  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("sdk", "hubspot-api-client")
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


def _child(argv: list[str]) -> None:
    kind, url, workdir = argv
    start = time.perf_counter()
    count = child_sdk(url, workdir) if kind == "sdk" else child_official(url, workdir)
    print(json.dumps({"count": count, "seconds": time.perf_counter() - start, "startup": start - _T0}))


# -- the harness -------------------------------------------------------------------------------------------
@contextmanager
def fake_process(deals: int) -> Iterator[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "unified_sdk_hubspot.fake",
            "--port",
            "0",
            "--deals",
            str(deals),
            "--contacts",
            "200",
            "--companies",
            "50",
            "--api-key",
            TOKEN,
            "--ten-second-limit",
            "10000000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url:
            raise SystemExit("the local HubSpot did not start (is unified-sdk-hubspot[fake] installed?)")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _summarize(runs: list[Any]) -> dict[str, Any]:
    return {
        "wall_s": statistics.median(r.wall for r in runs),
        "cpu_s": statistics.median(r.cpu for r in runs),
        "rss_mb": statistics.median(r.rss_mb for r in runs),
        "inner_s": statistics.median(r.inner for r in runs),
        "runs": [asdict(r) for r in runs],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child(argv[1:])
        return {}
    from benchmarks.bench_core import git_commit, run_child

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_hubspot", description=__doc__.split("\n")[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS / "hubspot.json")
    args = parser.parse_args(argv)

    kinds = list(KINDS)
    try:
        import hubspot  # noqa: F401
    except ImportError:
        print("hubspot-api-client is not installed (pip install 'unified-sdk-hubspot[bench]'); SDK only")
        kinds = ["sdk"]

    results: dict[str, Any] = {
        "meta": {
            "deals": args.deals,
            "runs": args.runs,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "commit": git_commit(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "page_size": 100,
        }
    }
    by_kind: dict[str, list[Any]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="unified-sdk-bench-hs-") as tmp_dir, fake_process(args.deals) as url:
        tmp = Path(tmp_dir)
        print(f"Local HubSpot with {args.deals:,} deals at {url}", flush=True)

        def once(kind: str, name: str) -> Any:
            workdir = tmp / name
            workdir.mkdir(parents=True, exist_ok=True)
            run, _ = run_child(["-m", "benchmarks.bench_hubspot", "--child", kind, url, str(workdir)])
            if run.count != args.deals:
                raise SystemExit(f"{kind} listed {run.count} distinct deals, expected {args.deals}")
            return run

        for kind in kinds:  # warm-up: .pyc files, page cache, the fake's first pages
            once(kind, f"warm-{kind}")
        for i in range(args.runs):
            for kind in kinds if i % 2 == 0 else reversed(kinds):
                run = once(kind, f"{kind}-{i}")
                by_kind[kind].append(run)
                print(
                    f"  {kind:20} run {i + 1}/{args.runs}: wall {run.wall:.3f} s  cpu {run.cpu:.3f} s  "
                    f"rss {run.rss_mb:.1f} MiB",
                    flush=True,
                )
    results["workloads"] = {kind: _summarize(runs) for kind, runs in by_kind.items()}
    if "hubspot-api-client" in results["workloads"]:
        sdk, other = results["workloads"]["sdk"], results["workloads"]["hubspot-api-client"]
        results["ratio_sdk_over_hubspot_api_client"] = {
            "wall": sdk["wall_s"] / other["wall_s"],
            "cpu": sdk["cpu_s"] / other["cpu_s"],
            "rss": sdk["rss_mb"] / other["rss_mb"],
            "inner": sdk["inner_s"] / other["inner_s"],
        }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nListing {args.deals:,} deals (medians of {args.runs} runs, whole processes)")
    print(f"{'workload':20} {'wall s':>8} {'cpu s':>8} {'peak RSS MiB':>13} {'in-process s':>13}")
    for kind, row in results["workloads"].items():
        print(f"{kind:20} {row['wall_s']:8.3f} {row['cpu_s']:8.3f} {row['rss_mb']:13.1f} {row['inner_s']:13.3f}")
    ratio = results.get("ratio_sdk_over_hubspot_api_client")
    if ratio:
        print(
            f"SDK / hubspot-api-client: wall {ratio['wall']:.2f}x, cpu {ratio['cpu']:.2f}x, "
            f"peak RSS {ratio['rss']:.2f}x, in-process {ratio['inner']:.2f}x (target: cpu <= 0.25x)"
        )
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"Wrote {shown}")
    return results


if __name__ == "__main__":
    main()
