"""Performance suite (``make bench`` = ``python -m benchmarks``); never timed asserts in tests.

- ``bench_core``: listing 10,000 sandbox deals through the SDK and through a plain httpx2 loop
  (sync and async, each a whole process), and import-to-first-call against ``import httpx2``.
- ``bench_<provider>``: per-provider suites, run too when present.

Results go to ``benchmarks/results/*.json``.
"""
