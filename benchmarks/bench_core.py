"""Core benchmarks: the SDK against a plain httpx2 loop, and import-to-first-call.

1. Listing: the sandbox server runs as its own process with 10,000 deals; each workload of
   :mod:`benchmarks._workloads` (SDK sync/async, raw httpx2 sync/async) lists every deal,
   100 per page, as a whole child process, several times, interleaved. For each run we take
   the wall time, the child's CPU (user + sys, from ``os.wait4``) and its peak RSS, and
   report medians and SDK/raw ratios.
2. Import-to-first-call: ``import unified_sdk`` + ``Client(...)`` + ``providers.get("sandbox")``
   against ``import httpx2``, each in a fresh process, timed inside the child (median of runs).

Targets (reported, never asserted): listing CPU ≤ 1.3x raw, import ≤ 3x ``import httpx2``.
``--profile`` adds a cProfile of the SDK listing and ``-X importtime`` of the SDK's import.

Run with ``python -m benchmarks`` (or ``python -m benchmarks.bench_core --runs 3``).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._harness import RESULTS, ROOT, Run, fake_process, interleave, meta, run_child, run_in, save, summarize

LISTING_KINDS = ("raw-sync", "sdk-sync", "raw-async", "sdk-async")
IMPORT_KINDS = ("import-httpx2", "import-sdk")
TARGET_LISTING_CPU = 1.3
TARGET_IMPORT = 3.0


@dataclass(frozen=True)
class Sandbox:
    url: str
    api_key: str


@contextmanager
def sandbox_process(deals: int) -> Iterator[Sandbox]:
    """``python -m unified_sdk_sandbox.fake --port 0 --deals N`` as its own process."""
    with fake_process(
        "unified_sdk_sandbox.fake", "--port", "0", "--deals", str(deals), name="the sandbox server"
    ) as printed:
        info = json.loads(printed[0])
        yield Sandbox(info["url"], info["api_key"])


def workload(kind: str, sandbox: Sandbox, workdir: Path) -> Run:
    return run_in(workdir, ["-m", "benchmarks._workloads", kind, sandbox.url, sandbox.api_key])


def call_log_rows(workdir: Path) -> int:
    with sqlite3.connect(workdir / "bench.db") as db:
        return int(db.execute("select count(*) from unified_call_logs").fetchone()[0])


def bench_listing(sandbox: Sandbox, deals: int, runs: int, tmp: Path) -> dict[str, Any]:
    def once(kind: str, name: str) -> Run:
        run = workload(kind, sandbox, tmp / name)
        if run.count != deals:
            raise SystemExit(f"{kind} listed {run.count} distinct deals, expected {deals}")
        if kind.startswith("sdk") and call_log_rows(tmp / name) < deals // 100:
            raise SystemExit(f"{kind} wrote fewer call-log rows than pages")
        return run

    def progress(kind: str, i: int, run: Run) -> None:
        print(f"  {kind:10} run {i + 1}/{runs}: wall {run.wall:.3f} s  cpu {run.cpu:.3f} s", flush=True)

    by_kind = interleave(LISTING_KINDS, runs, once, rotate=True, progress=progress)
    result = {kind: summarize(r) for kind, r in by_kind.items()}
    ratios = {}
    for mode in ("sync", "async"):
        sdk, raw = result[f"sdk-{mode}"], result[f"raw-{mode}"]
        ratios[mode] = {
            "cpu": sdk["cpu_s"] / raw["cpu_s"],
            "wall": sdk["wall_s"] / raw["wall_s"],
            "rss": sdk["rss_mb"] / raw["rss_mb"],
        }
    return {"workloads": result, "ratios": ratios}


def bench_import(runs: int, tmp: Path) -> dict[str, Any]:
    fake = Sandbox("http://127.0.0.1:9", "unused")
    by_kind = interleave(IMPORT_KINDS, runs, lambda kind, name: workload(kind, fake, tmp / name))
    result = {kind: summarize(r) for kind, r in by_kind.items()}
    sdk, raw = result["import-sdk"], result["import-httpx2"]
    return {
        "workloads": result,
        "ratio": sdk["inner_s"] / raw["inner_s"],
        "ratio_process_cpu": sdk["cpu_s"] / raw["cpu_s"],
    }


def profile_listing(sandbox: Sandbox, tmp: Path, top: int = 30) -> str:
    """cProfile of one SDK listing process: the top functions by own time and by cumulative time."""
    import pstats
    from io import StringIO

    workdir = tmp / "profile"
    workdir.mkdir(parents=True, exist_ok=True)
    stats_file = workdir / "sdk-sync.prof"
    run_child(
        [
            "-m",
            "cProfile",
            "-o",
            str(stats_file),
            "-m",
            "benchmarks._workloads",
            "sdk-sync",
            sandbox.url,
            sandbox.api_key,
            str(workdir),
        ]
    )
    buffer = StringIO()
    stats = pstats.Stats(str(stats_file), stream=buffer)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buffer.getvalue()


def profile_phases(sandbox: Sandbox, tmp: Path, runs: int = 3) -> dict[str, float]:
    """Medians of the SDK's CPU by phase (see ``_workloads.phases``), against the raw loop."""
    samples: list[dict[str, float]] = []
    for i in range(runs):
        workdir = tmp / f"phases-{i}"
        workdir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks._workloads", "phases", sandbox.url, sandbox.api_key, str(workdir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(json.loads(proc.stdout.strip().splitlines()[-1])["phases"])
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def profile_import(tmp: Path, top: int = 25) -> str:
    """``-X importtime`` of the SDK's import-to-first-call: the slowest imports (cumulative µs)."""
    workdir = tmp / "importtime"
    workdir.mkdir(parents=True, exist_ok=True)
    _, stderr = run_child(
        ["-X", "importtime", "-m", "benchmarks._workloads", "import-sdk", "http://127.0.0.1:9", "-", str(workdir)]
    )
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((int(match.group(2)), int(match.group(1)), len(match.group(3)), match.group(4)))
    shallow = sorted((r for r in rows if r[2] <= 3), reverse=True)[:top]
    lines = [f"{'cumulative µs':>14} {'self µs':>9}  module (top-level imports of the workload)"]
    lines += [f"{c:>14} {s:>9}  {name}" for c, s, _, name in shallow]
    return "\n".join(lines)


def report(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    listing = results["listing"]
    table = Table(
        title=f"Listing {results['meta']['deals']:,} deals, 100 per page "
        f"(medians of {results['meta']['runs']} runs, whole processes)",
        title_justify="left",
    )
    for column in ("workload", "wall s", "cpu s", "peak RSS MiB", "in-process s"):
        table.add_column(column, justify="right" if column != "workload" else "left")
    for kind, row in listing["workloads"].items():
        table.add_row(
            kind, f"{row['wall_s']:.3f}", f"{row['cpu_s']:.3f}", f"{row['rss_mb']:.1f}", f"{row['inner_s']:.3f}"
        )
    console.print(table)
    ratios = Table(title="SDK / raw httpx2", title_justify="left")
    for column in ("mode", "cpu", "wall", "peak RSS", f"target cpu ≤ {TARGET_LISTING_CPU}x"):
        ratios.add_column(column, justify="right" if column != "mode" else "left")
    for mode, r in listing["ratios"].items():
        ok = r["cpu"] <= TARGET_LISTING_CPU
        ratios.add_row(
            mode,
            f"{r['cpu']:.2f}x",
            f"{r['wall']:.2f}x",
            f"{r['rss']:.2f}x",
            "[green]met[/]" if ok else "[red]missed[/]",
        )
    console.print(ratios)
    imp = results["import"]
    sdk, raw = imp["workloads"]["import-sdk"], imp["workloads"]["import-httpx2"]
    console.print(
        f"Import-to-first-call (median of {results['meta']['import_runs']}): "
        f"unified_sdk + Client + providers.get('sandbox') {sdk['inner_s'] * 1000:.1f} ms vs "
        f"import httpx2 {raw['inner_s'] * 1000:.1f} ms → [bold]{imp['ratio']:.2f}x[/] "
        f"(target ≤ {TARGET_IMPORT}x: {'[green]met[/]' if imp['ratio'] <= TARGET_IMPORT else '[red]missed[/]'}); "
        f"whole-process CPU {imp['ratio_process_cpu']:.2f}x"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_core", description=__doc__.split("\n")[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each listing workload")
    parser.add_argument("--import-runs", type=int, default=9, help="measured runs of each import workload (≥ 7)")
    parser.add_argument("--profile", action="store_true", help="also profile the SDK listing and its imports")
    parser.add_argument("--output", type=Path, default=RESULTS / "core.json")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "meta": meta(deals=args.deals, runs=args.runs, import_runs=args.import_runs),
        "targets": {"listing_cpu_ratio": TARGET_LISTING_CPU, "import_ratio": TARGET_IMPORT},
    }
    with tempfile.TemporaryDirectory(prefix="unified-sdk-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        print(f"Starting the sandbox server with {args.deals:,} deals…", flush=True)
        with sandbox_process(args.deals) as sandbox:
            results["listing"] = bench_listing(sandbox, args.deals, args.runs, tmp)
            if args.profile:
                results["profile_listing"] = profile_listing(sandbox, tmp)
                results["profile_phases"] = profile_phases(sandbox, tmp)
        print("Import-to-first-call…", flush=True)
        results["import"] = bench_import(args.import_runs, tmp)
        if args.profile:
            results["profile_import"] = profile_import(tmp)
    shown = save(results, args.output)
    report(results)
    if args.profile:
        print("\n== SDK CPU by phase (medians of 3 processes, seconds) ==")
        for key, value in results["profile_phases"].items():
            print(f"  {key:32} {value:.3f}" if key not in ("count", "mapped") else f"  {key:32} {value:.0f}")
        print("\n== cProfile of one SDK sync listing ==\n" + results["profile_listing"])
        print("\n== -X importtime of the SDK import-to-first-call ==\n" + results["profile_import"])
    print(f"\nWrote {shown}")
    return results


if __name__ == "__main__":
    main()
