"""``python -m unified_sdk_sandbox.fake``: serve the sandbox CRM until interrupted.

Prints one JSON line to stdout: ``url``, ``api_key``, ``oauth_client_id``,
``oauth_client_secret`` and ``config`` (benchmarks and scripts parse it).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from unified_sdk_sandbox.fake._server import SandboxServer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unified_sdk_sandbox.fake", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--deals", type=int, default=2500)
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--companies", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--access-token-ttl", type=float, default=3600)
    parser.add_argument("--rate-limit", type=int, default=10_000, help="requests per window")
    parser.add_argument("--rate-limit-window", type=float, default=10.0, help="seconds")
    parser.add_argument("--api-key", default=None, help="a fixed API key (default: random)")
    args = parser.parse_args(argv)
    server = SandboxServer(
        deals=args.deals,
        contacts=args.contacts,
        companies=args.companies,
        seed=args.seed,
        access_token_ttl=args.access_token_ttl,
        rate_limit=args.rate_limit,
        rate_limit_window=args.rate_limit_window,
        api_key=args.api_key,
        port=args.port,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.data.warm()
    with server:
        info = {
            "url": server.url,
            "api_key": server.api_key,
            "oauth_client_id": server.oauth_client_id,
            "oauth_client_secret": server.oauth_client_secret,
            "config": server.config,
        }
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
