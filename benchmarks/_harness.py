"""What every benchmark shares: the fake as its own process, measured children, medians, results.

Each workload runs as a whole child process (``python ARGS``) measured with ``os.wait4``:
wall time, CPU (user + sys) and peak RSS of the child alone, not of the fake serving it.
The child prints one JSON line ``{"count": N, "seconds": S}``, ``seconds`` timed inside it
after start-up. Workloads run interleaved (:func:`interleave`) so drift spreads over all.

:func:`compare_listing` is a whole provider suite: our plugin through ``Client`` against the
provider's own client library, listing every deal of the provider's fake
(``benchmarks/bench_<provider>.py`` holds only the two listings and a :class:`Comparison`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Run:
    """One child process: wall seconds, CPU seconds (user + sys), peak RSS in MiB."""

    wall: float
    cpu: float
    rss_mb: float
    inner: float
    """Seconds measured inside the child, after interpreter start-up."""
    count: int


@contextmanager
def fake_process(module: str, *args: str, name: str, lines: int = 1) -> Iterator[list[str]]:
    """``python -m MODULE ARGS`` (a fake) as its own process; yields the first ``lines`` lines it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        printed = [proc.stdout.readline().strip() for _ in range(lines)]
        if not all(printed):
            package = module.split(".")[0].replace("_", "-")
            raise SystemExit(f"{name} did not start (is {package}[fake] installed?)")
        yield printed
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def run_child(args: list[str], *, env: dict[str, str] | None = None) -> tuple[Run, str]:
    """Run ``python ARGS`` and measure it with ``os.wait4`` (its own rusage, not the server's)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"child {' '.join(args)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"count": 0, "seconds": 0.0}
    rss_kb = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    run = Run(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        rss_mb=rss_kb / 1024,
        inner=float(result["seconds"]),
        count=int(result["count"]),
    )
    return run, stderr


def run_in(workdir: Path, args: list[str]) -> Run:
    """:func:`run_child` of ``python ARGS WORKDIR``, the directory made first."""
    workdir.mkdir(parents=True, exist_ok=True)
    run, _ = run_child([*args, str(workdir)])
    return run


def interleave(
    kinds: Sequence[str],
    runs: int,
    once: Callable[[str, str], Run],
    *,
    rotate: bool = False,
    progress: Callable[[str, int, Run], None] | None = None,
) -> dict[str, list[Run]]:
    """A warm-up of each kind, then ``runs`` rounds of every kind: ``once(kind, name)`` each time.

    The order changes each round to spread drift: reversed every other round, or with
    ``rotate`` shifted by one. ``name`` (``warm-KIND``, ``KIND-I``) names the run's work
    directory; ``progress(kind, i, run)`` sees each measured run.
    """
    by_kind: dict[str, list[Run]] = {kind: [] for kind in kinds}
    for kind in kinds:  # warm-up: .pyc files, the page cache, the fake's first pages
        once(kind, f"warm-{kind}")
    for i in range(runs):
        order: Iterable[str]
        if rotate:
            order = [*kinds[i % len(kinds) :], *kinds[: i % len(kinds)]]
        else:
            order = kinds if i % 2 == 0 else reversed(kinds)
        for kind in order:
            run = once(kind, f"{kind}-{i}")
            by_kind[kind].append(run)
            if progress is not None:
                progress(kind, i, run)
    return by_kind


def summarize(runs: list[Run]) -> dict[str, Any]:
    """Medians of the runs, and every run."""
    return {
        "wall_s": statistics.median(r.wall for r in runs),
        "cpu_s": statistics.median(r.cpu for r in runs),
        "rss_mb": statistics.median(r.rss_mb for r in runs),
        "inner_s": statistics.median(r.inner for r in runs),
        "runs": [asdict(r) for r in runs],
    }


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def meta(**fields: Any) -> dict[str, Any]:
    """The results' ``meta``: ``fields``, then the machine, the commit and the time."""
    return {
        **fields,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "commit": git_commit(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def save(results: Mapping[str, Any], path: Path) -> Path:
    """Write ``results`` as JSON to ``path``; the path to show (relative to the repository when inside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


# -- provider suites: our plugin against the provider's own client library -----------------------------------
@dataclass(frozen=True)
class Comparison:
    """A provider suite for :func:`compare_listing`.

    ``children`` maps each kind (``sdk`` first, then the rival library) to its listing,
    run in the child as ``python -m MODULE --child KIND *FAKE_LINES WORKDIR``: it gets the
    lines the fake printed (its URL, maybe a token) and a work directory, and returns the
    number of distinct deals it listed.
    """

    provider: str
    """The plugin's name: results go to ``benchmarks/results/<provider>.json``."""
    module: str
    doc: str
    """The suite's docstring (its first line is the ``--help`` description)."""
    t0: float
    """``time.perf_counter()`` at the very start of the suite's module (the child's start-up)."""
    children: Mapping[str, Callable[..., int]]
    rival_module: str
    """What to import to know whether the rival library is installed."""
    fake: Callable[[int], AbstractContextManager[list[str]]]
    """``deals -> context manager`` yielding the lines the fake printed (see :func:`fake_process`)."""
    server: str
    """How the fake is named in the output (``Local HubSpot``)."""
    noun: str = "deals"
    target: str = ""
    """Appended to the ratio line (``(target: cpu <= 0.25x)``)."""
    extra_meta: Callable[[], dict[str, Any]] = field(default=dict)


def _child(spec: Comparison, argv: list[str]) -> None:
    kind, *args = argv
    start = time.perf_counter()
    count = spec.children[kind](*args)
    print(json.dumps({"count": count, "seconds": time.perf_counter() - start, "startup": start - spec.t0}))


def compare_listing(spec: Comparison, argv: list[str] | None = None) -> dict[str, Any]:
    """The suite's ``main``: list every deal with each kind, interleaved, and report medians and ratios."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child(spec, argv[1:])
        return {}
    parser = argparse.ArgumentParser(prog=f"python -m {spec.module}", description=spec.doc.split("\n")[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS / f"{spec.provider}.json")
    args = parser.parse_args(argv)

    kinds = list(spec.children)
    sdk_kind, rival = kinds
    try:
        __import__(spec.rival_module)
    except ImportError:
        print(f"{rival} is not installed (pip install 'unified-sdk-{spec.provider}[bench]'); SDK only")
        kinds = [sdk_kind]
    width = max(len(kind) for kind in spec.children) + 2

    results: dict[str, Any] = {"meta": meta(deals=args.deals, runs=args.runs, **spec.extra_meta())}
    with (
        tempfile.TemporaryDirectory(prefix=f"unified-sdk-bench-{spec.provider}-") as tmp_dir,
        spec.fake(args.deals) as printed,
    ):
        tmp = Path(tmp_dir)
        print(f"{spec.server} with {args.deals:,} {spec.noun} at {printed[0]}", flush=True)

        def once(kind: str, name: str) -> Run:
            run = run_in(tmp / name, ["-m", spec.module, "--child", kind, *printed])
            if run.count != args.deals:
                raise SystemExit(f"{kind} listed {run.count} distinct {spec.noun}, expected {args.deals}")
            return run

        def progress(kind: str, i: int, run: Run) -> None:
            print(
                f"  {kind:{width}} run {i + 1}/{args.runs}: wall {run.wall:.3f} s  cpu {run.cpu:.3f} s  "
                f"rss {run.rss_mb:.1f} MiB",
                flush=True,
            )

        by_kind = interleave(kinds, args.runs, once, progress=progress)
    results["workloads"] = {kind: summarize(runs) for kind, runs in by_kind.items()}
    ratio_key = f"ratio_sdk_over_{rival.replace('-', '_')}"
    if rival in results["workloads"]:
        sdk, other = results["workloads"][sdk_kind], results["workloads"][rival]
        results[ratio_key] = {
            "wall": sdk["wall_s"] / other["wall_s"],
            "cpu": sdk["cpu_s"] / other["cpu_s"],
            "rss": sdk["rss_mb"] / other["rss_mb"],
            "inner": sdk["inner_s"] / other["inner_s"],
        }
    shown = save(results, args.output)
    print(f"\nListing {args.deals:,} {spec.noun} (medians of {args.runs} runs, whole processes)")
    print(f"{'workload':{width}} {'wall s':>8} {'cpu s':>8} {'peak RSS MiB':>13} {'in-process s':>13}")
    for kind, row in results["workloads"].items():
        print(f"{kind:{width}} {row['wall_s']:8.3f} {row['cpu_s']:8.3f} {row['rss_mb']:13.1f} {row['inner_s']:13.3f}")
    ratio = results.get(ratio_key)
    if ratio:
        print(
            f"SDK / {rival}: wall {ratio['wall']:.2f}x, cpu {ratio['cpu']:.2f}x, "
            f"peak RSS {ratio['rss']:.2f}x, in-process {ratio['inner']:.2f}x{spec.target}"
        )
    print(f"Wrote {shown}")
    return results
