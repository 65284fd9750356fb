"""``python -m posthog_client.testing serve``: the fake PostHog as a standalone server.

Point an app (or another language's test suite) at it during development; read what it received
at ``GET /_fake/events`` and ``GET /_fake/requests``, and clear it with ``POST /_fake/reset``.
``--flags FILE`` serves feature flags (the short format of ``_flagfile``, or PostHog's own
definitions); ``--path-prefix /ph`` makes it answer under a prefix, like a proxy on your domain.
Problems (a bad file, a port in use) are one line on stderr and exit status 2 or 1.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import signal
import sys
import threading
from collections.abc import Sequence

from ._fake import DEFAULT_HOST, FakePostHog
from ._flagfile import FlagFileError, apply, load

EXIT_USAGE = 2
EXIT_FAILURE = 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m posthog_client.testing")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the fake PostHog on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8010, help="0 picks a free port")
    serve.add_argument(
        "--flags",
        "--definitions",
        dest="flags",
        metavar="FILE",
        help="feature flags to serve: a JSON file in the short format "
        '({"beta": true, "checkout": 50, "pricing": {"variants": {"a": 50, "b": 50}}}) '
        "or PostHog's flag definitions",
    )
    serve.add_argument(
        "--path-prefix", default="", metavar="PREFIX", help="answer under this path, e.g. /ph"
    )
    serve.add_argument("--api-key", default="phc_test", help="the project key it accepts")
    serve.add_argument("--personal-api-key", default="phx_test", help="the personal key")
    args = parser.parse_args(argv)

    prefix = "/" + args.path_prefix.strip("/") if args.path_prefix.strip("/") else ""
    if any(c in prefix for c in "?#% "):
        return _fail(EXIT_USAGE, f"--path-prefix {args.path_prefix!r} is not a URL path")
    fake = FakePostHog(
        api_key=args.api_key, personal_api_key=args.personal_api_key, host=DEFAULT_HOST + prefix
    )
    if args.flags:
        try:
            count, problems = apply(fake, load(args.flags), args.flags)
        except FlagFileError as exc:
            return _fail(EXIT_USAGE, str(exc))
        if problems:
            print(
                f"warning: {args.flags}: {len(problems)} problem(s) in the definitions: "
                + "; ".join(problems[:3]),
                file=sys.stderr,
                flush=True,
            )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server = fake.serve(args.port, log_requests=True)
        url = server.__enter__()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            message = f"port {args.port} is in use; pick another with --port (0: any free port)"
        else:
            message = f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}"
        return _fail(EXIT_FAILURE, message)
    try:
        base = url[: len(url) - len(prefix)] if prefix else url
        print(f"fake PostHog listening on {url} (api key {args.api_key})", flush=True)
        if args.flags:
            print(f"serving {count} feature flag(s) from {args.flags}", flush=True)
        print(f"recorded events: GET {base}/_fake/events", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    finally:
        server.__exit__(None, None, None)
    return 0


def _fail(status: int, message: str) -> int:
    print(f"python -m posthog_client.testing: error: {message}", file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
