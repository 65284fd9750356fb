"""``python -m posthog_client``: send a test event, see how flags evaluate, and diagnose a setup.

Keys come from the environment (``POSTHOG_API_KEY``, ``POSTHOG_PERSONAL_API_KEY``) so they stay
out of shell history and process lists; ``POSTHOG_HOST`` or ``--host`` picks the host. Every
network step has a short deadline (``--timeout``). Exit codes: 0 success, 1 failure, 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn

from .._config import DEFAULT_HOST
from .._version import VERSION
from .common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Settings, UsageError, make_client

if TYPE_CHECKING:
    import requests

ENV_HELP = """\
environment:
  POSTHOG_API_KEY           project API key (phc_...), required
  POSTHOG_HOST              PostHog host (default https://us.i.posthog.com)
  POSTHOG_PERSONAL_API_KEY  personal API key (phx_...): local flag evaluation
  POSTHOG_DEFINITIONS_STORE definitions store URL (redis://host:6379/0, file:///dir)

exit status: 0 success, 1 failure, 2 usage error"""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that writes to the given streams and raises instead of exiting."""

    def __init__(self, *args: Any, out: IO[str], err: IO[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.out, self.err = out, err

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            (self.out if file is None or file is sys.stdout else self.err).write(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.err.write(message)
        raise SystemExit(status)


def _pair(text: str) -> tuple[str, Any]:
    """``key=value``; the value is read as JSON when it is JSON (3, true, null, [1]) else text."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        return key, raw
    if isinstance(value, float) and not math.isfinite(value):
        return key, raw
    return key, value


def _group(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key or not raw:
        raise argparse.ArgumentTypeError(f"expected group_type=group_key, got {text!r}")
    return key, raw


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 300, got {text!r}")
    return value


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 86400, got {text!r}")
    return value


def build_parser(out: IO[str], err: IO[str]) -> _Parser:
    streams: dict[str, Any] = {"out": out, "err": err}
    common = _Parser(add_help=False, **streams)
    common.add_argument("--host", help="PostHog host (overrides POSTHOG_HOST)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument(
        "--timeout", type=_seconds, default=5.0, help="deadline of each network step (default 5)"
    )
    common.add_argument("--verbose", action="store_true", help="show the SDK's debug log")
    shared: dict[str, Any] = {
        "epilog": ENV_HELP,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
        **streams,
    }
    parser = _Parser(
        prog="python -m posthog_client",
        description="Send a test event, evaluate feature flags, and check a PostHog setup.",
        **shared,
    )
    parser.add_argument(
        "--version", action="version", version=f"posthog-client {VERSION}", help="show the version"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    shared["parents"] = [common]
    capture = commands.add_parser(
        "capture",
        help="send one event and report whether it was delivered",
        description="Send one event and wait (bounded) until it is delivered.",
        **shared,
    )
    capture.add_argument("distinct_id", metavar="DISTINCT_ID", help="who did it")
    capture.add_argument("event", metavar="EVENT", help="the event name")
    capture.add_argument(
        "--prop",
        type=_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="event property; the value is JSON when it parses (n=3, ok=true), else text",
    )
    flags = commands.add_parser(
        "flags",
        help="evaluate every feature flag for a user and say why each value came out",
        description="Evaluate every feature flag for DISTINCT_ID: value, payload, where it was\n"
        "evaluated, and why local evaluation could not decide when it went to the server.\n"
        "No $feature_flag_called events are sent.",
        **shared,
    )
    flags.add_argument("distinct_id", metavar="DISTINCT_ID", help="the user to evaluate for")
    repeated: dict[str, Any] = {"action": "append", "default": []}
    flags.add_argument(
        "--person-prop",
        type=_pair,
        metavar="KEY=VALUE",
        help="person property for local evaluation (JSON value when it parses)",
        **repeated,
    )
    flags.add_argument(
        "--group",
        type=_group,
        metavar="TYPE=KEY",
        help="a group of the user, e.g. company=acme",
        **repeated,
    )
    flags.add_argument(
        "--local-only", action="store_true", help="never ask the server (needs a personal key)"
    )
    doctor = commands.add_parser(
        "doctor",
        help="check keys, host, flag definitions and store, and explain what to fix",
        description="Check the configuration against the host: keys, reachability, flag\n"
        "definitions, and the definitions store (--store). Each problem comes with what to\n"
        "do about it.",
        **shared,
    )
    doctor.add_argument("--spool", metavar="PATH", help="also check a spool file (spool_path)")
    store_help = "definitions store URL (overrides POSTHOG_DEFINITIONS_STORE)"
    doctor.add_argument("--store", metavar="URL", help=store_help)
    relay = commands.add_parser(
        "flags-relay",
        help="poll flag definitions for a fleet and keep them in a shared store",
        description="Poll PostHog for flag definitions (with POSTHOG_PERSONAL_API_KEY) and\n"
        "keep them in a definitions store, for app processes that use\n"
        "Client(api_key, definitions_store=URL) with no personal key. Run two for high\n"
        "availability: one polls, the other takes over if it dies. Stops on SIGTERM/SIGINT.",
        **shared,
    )
    relay.add_argument("--store", metavar="URL", help=store_help)
    relay.add_argument(
        "--poll-interval",
        type=_interval,
        default=30.0,
        metavar="SECONDS",
        help="seconds between polls (default 30)",
    )
    relay.add_argument(
        "--once", action="store_true", help="load once, report, and exit (0: the store is filled)"
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    session: requests.Session | None = None,
) -> int:
    """Run the CLI; returns the exit status. ``session`` is the seam for ``FakePostHog``."""
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    environ = os.environ if env is None else env
    parser = build_parser(out, err)
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    settings = Settings(
        api_key=environ.get("POSTHOG_API_KEY", "").strip(),
        personal_api_key=environ.get("POSTHOG_PERSONAL_API_KEY", "").strip(),
        host=(args.host or environ.get("POSTHOG_HOST", "").strip() or DEFAULT_HOST),
        timeout=args.timeout,
        json=args.json,
        out=out,
        err=err,
        session=session,
        spool=getattr(args, "spool", None),
        store=(
            getattr(args, "store", None) or environ.get("POSTHOG_DEFINITIONS_STORE", "")
        ).strip(),
    )
    with _sdk_log(err, args.verbose or args.command == "flags-relay", args.verbose):
        try:
            if args.command == "capture":
                return capture(settings, args.distinct_id, args.event, dict(args.prop))
            if args.command == "flags":
                from .flags import flags

                return flags(
                    settings,
                    args.distinct_id,
                    dict(args.person_prop),
                    dict(args.group),
                    args.local_only,
                )
            if args.command == "flags-relay":
                from .relay import relay

                return relay(settings, settings.store, args.poll_interval, args.once)
            from .doctor import doctor

            return doctor(settings)
        except UsageError as exc:
            err.write(f"{parser.prog}: error: {exc}\n")
            return EXIT_USAGE


@contextlib.contextmanager
def _sdk_log(err: IO[str], info: bool, verbose: bool) -> Iterator[None]:
    """Show the SDK's warnings (``info``: and info lines; its debug log with ``--verbose``) on
    ``err`` while running."""
    logger = logging.getLogger("posthog_client")
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    level = logger.level
    logger.setLevel(logging.DEBUG if verbose else logging.INFO if info else logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# -- capture ---------------------------------------------------------------------------------


def capture(settings: Settings, distinct_id: str, event: str, props: dict[str, Any]) -> int:
    client = make_client(settings)
    try:
        uid = client.capture(distinct_id, event, props)
        if uid is not None:
            client.flush(settings.timeout * 2 + 1.0)  # two attempts, each with its deadline
        stats = client.stats()
    finally:
        client.shutdown(timeout=1.0)
    delivered = uid is not None and stats.sent > 0
    error = None
    if uid is None:
        error = "the event was not accepted (see the warning above)"
    elif not delivered:
        error = stats.last_error or f"not delivered within {settings.timeout * 2 + 1:g} s"
    if settings.json:
        settings.dump({"uuid": uid, "delivered": delivered, "host": client.host, "error": error})
    elif delivered:
        settings.emit(f"Delivered {event!r} for {distinct_id!r} to {client.host}")
        settings.emit(f"  uuid: {uid}")
    else:
        settings.emit(f"Not delivered: {error}")
        if uid is not None:
            settings.emit(f"  uuid: {uid}")
    return EXIT_OK if delivered else EXIT_FAILURE
