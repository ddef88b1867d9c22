"""``python -m benchmarks`` (``make bench``): the core suite, then every provider suite present.

Options other than ``--core-only`` go to the core suite (see ``python -m benchmarks.bench_core -h``).
Provider suites (``benchmarks/bench_<name>.py``, owned by each provider) run as their own
processes with their own defaults.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks import bench_core

HERE = Path(__file__).resolve().parent


def provider_suites() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py") if p.stem != "bench_core")


def main() -> int:
    argv = sys.argv[1:]
    core_only = "--core-only" in argv
    argv = [a for a in argv if a != "--core-only"]
    print("== core ==", flush=True)
    bench_core.main(argv)
    failed = []
    if not core_only:
        for name in provider_suites():
            print(f"\n== {name} ==", flush=True)
            code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"], cwd=HERE.parent)
            if code != 0:
                failed.append(name)
    if failed:
        print(f"failed suites: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
