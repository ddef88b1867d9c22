"""Run the local HubSpot as its own process: ``python -m unified_sdk_hubspot.fake --port 0 --deals 10000``.

Prints the base URL; the private-app token it accepts is ``--api-key`` (default below).
"""

from __future__ import annotations

import argparse

from unified_sdk.testing import run_forever
from unified_sdk_hubspot.fake._fake import FakeHubSpot


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m unified_sdk_hubspot.fake", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--deals", type=int, default=0)
    parser.add_argument("--contacts", type=int, default=0)
    parser.add_argument("--companies", type=int, default=0)
    parser.add_argument("--api-key", default="pat-na1-local-fake-token")
    parser.add_argument("--ten-second-limit", type=int, default=100)
    parser.add_argument("--interval-ms", type=int, default=10_000)
    args = parser.parse_args(argv)
    fake = FakeHubSpot(
        port=args.port, api_key=args.api_key, ten_second_limit=args.ten_second_limit, interval_ms=args.interval_ms
    )
    fake.seed(deals=args.deals, contacts=args.contacts, companies=args.companies)
    run_forever(fake)


if __name__ == "__main__":
    main()
