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
KINDS = ("sdk", "simple-salesforce")
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


def _child(argv: list[str]) -> None:
    kind, url, token, workdir = argv
    start = time.perf_counter()
    count = child_sdk(url, token, workdir) if kind == "sdk" else child_simple_salesforce(url, token, workdir)
    print(json.dumps({"count": count, "seconds": time.perf_counter() - start, "startup": start - _T0}))


# -- the harness ------------------------------------------------------------------------------------
@contextmanager
def fake_process(deals: int) -> Iterator[tuple[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "unified_sdk_salesforce.fake", "--port", "0", "--deals", str(deals), "--print-token"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        url, token = proc.stdout.readline().strip(), proc.stdout.readline().strip()
        if not url or not token:
            raise SystemExit("the local Salesforce did not start (is unified-sdk-salesforce[fake] installed?)")
        yield url, token
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

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_salesforce", description=__doc__.split("\n")[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS / "salesforce.json")
    args = parser.parse_args(argv)

    kinds = list(KINDS)
    try:
        import simple_salesforce  # noqa: F401
    except ImportError:
        print("simple-salesforce is not installed (pip install 'unified-sdk-salesforce[bench]'); SDK only")
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
            "soql": _soql(),
        }
    }
    by_kind: dict[str, list[Any]] = {k: [] for k in kinds}
    with (
        tempfile.TemporaryDirectory(prefix="unified-sdk-bench-sf-") as tmp_dir,
        fake_process(args.deals) as (url, token),
    ):
        tmp = Path(tmp_dir)
        print(f"Local Salesforce with {args.deals:,} opportunities at {url}", flush=True)

        def once(kind: str, name: str) -> Any:
            workdir = tmp / name
            workdir.mkdir(parents=True, exist_ok=True)
            run, _ = run_child(["-m", "benchmarks.bench_salesforce", "--child", kind, url, token, str(workdir)])
            if run.count != args.deals:
                raise SystemExit(f"{kind} listed {run.count} distinct opportunities, expected {args.deals}")
            return run

        for kind in kinds:  # warm-up: .pyc files, page cache, the fake's first queries
            once(kind, f"warm-{kind}")
        for i in range(args.runs):
            for kind in kinds if i % 2 == 0 else reversed(kinds):
                run = once(kind, f"{kind}-{i}")
                by_kind[kind].append(run)
                print(
                    f"  {kind:18} run {i + 1}/{args.runs}: wall {run.wall:.3f} s  cpu {run.cpu:.3f} s  "
                    f"rss {run.rss_mb:.1f} MiB",
                    flush=True,
                )
    results["workloads"] = {kind: _summarize(runs) for kind, runs in by_kind.items()}
    if "simple-salesforce" in results["workloads"]:
        sdk, other = results["workloads"]["sdk"], results["workloads"]["simple-salesforce"]
        results["ratio_sdk_over_simple_salesforce"] = {
            "wall": sdk["wall_s"] / other["wall_s"],
            "cpu": sdk["cpu_s"] / other["cpu_s"],
            "rss": sdk["rss_mb"] / other["rss_mb"],
            "inner": sdk["inner_s"] / other["inner_s"],
        }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nListing {args.deals:,} opportunities (medians of {args.runs} runs, whole processes)")
    print(f"{'workload':18} {'wall s':>8} {'cpu s':>8} {'peak RSS MiB':>13} {'in-process s':>13}")
    for kind, row in results["workloads"].items():
        print(f"{kind:18} {row['wall_s']:8.3f} {row['cpu_s']:8.3f} {row['rss_mb']:13.1f} {row['inner_s']:13.3f}")
    ratio = results.get("ratio_sdk_over_simple_salesforce")
    if ratio:
        print(
            f"SDK / simple-salesforce: wall {ratio['wall']:.2f}x, cpu {ratio['cpu']:.2f}x, "
            f"peak RSS {ratio['rss']:.2f}x, in-process {ratio['inner']:.2f}x"
        )
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"Wrote {shown}")
    return results


if __name__ == "__main__":
    main()
