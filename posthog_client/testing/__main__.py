"""``python -m posthog_client.testing serve``: the fake PostHog as a standalone server.

Point an app (or another language's test suite) at it during development; read what it received
at ``GET /_fake/events`` and ``GET /_fake/requests``, and clear it with ``POST /_fake/reset``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Sequence

from ._fake import FakePostHog


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m posthog_client.testing")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the fake PostHog on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8010, help="0 picks a free port")
    serve.add_argument("--definitions", help="a flags definitions JSON file to serve")
    serve.add_argument("--api-key", default="phc_test", help="the project key it accepts")
    serve.add_argument("--personal-api-key", default="phx_test", help="the personal key")
    args = parser.parse_args(argv)

    fake = FakePostHog(api_key=args.api_key, personal_api_key=args.personal_api_key)
    if args.definitions:
        with open(args.definitions, encoding="utf-8") as file:
            fake.set_definitions(json.load(file))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with fake.serve(args.port, log_requests=True) as url:
        print(f"fake PostHog listening on {url} (api key {args.api_key})", flush=True)
        print(f"recorded events: GET {url}/_fake/events", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
