"""Run the local Salesforce as its own process: ``python -m unified_sdk_salesforce.fake --port 0 --deals 10000``.

Prints the base URL on the first line; with ``--print-token``, a valid
access token (session id) on the second.
"""

from __future__ import annotations

import argparse
import time

from unified_sdk_salesforce.fake import FakeSalesforce


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m unified_sdk_salesforce.fake", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--deals", type=int, default=0)
    parser.add_argument("--contacts", type=int, default=0)
    parser.add_argument("--companies", type=int, default=0)
    parser.add_argument("--daily-limit", type=int, default=1_000_000)
    parser.add_argument("--print-token", action="store_true", help="also print a valid access token")
    args = parser.parse_args()
    fake = FakeSalesforce(port=args.port, daily_limit=args.daily_limit)
    fake.seed(deals=args.deals, contacts=args.contacts, companies=args.companies)
    with fake:
        print(fake.url, flush=True)
        if args.print_token:
            print(fake.session_token(), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
