"""A fleet for test_fleet_processes.py: ``python fleet_worker.py STORE HOST COUNT INTERVAL``.

Imports the SDK once, then forks COUNT processes; each builds its own ``Client`` on STORE against
the fake PostHog at HOST, evaluates a flag locally, and prints ``ready <pid> <value>``. They run
until this launcher's stdin closes; then each prints ``stats <pid> <json>`` and exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time

# Imported once, before the forks (as gunicorn --preload would): each child only builds its client.
import posthog_client
import posthog_client._delivery.http  # noqa: F401
import posthog_client._flags.coordinator  # noqa: F401
import posthog_client._flags.query  # noqa: F401
import posthog_client._flags.redis_store  # noqa: F401
import posthog_client._flags.resolver  # noqa: F401
from posthog_client import Client


def say(line: str) -> None:
    """One line in one write(): the children share the pipe, and lines must not interleave."""
    os.write(1, (line + "\n").encode())


def child(store: str, host: str, interval: float, keyless: bool) -> None:
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    client = Client(
        "phc_test",
        host=host,
        personal_api_key=None if keyless else "phx_test",
        definitions_store=store,
        poll_interval=interval,
        flags_timeout=10,
    )
    value = client.get_feature_flag(
        "beta", "u1", only_evaluate_locally=True, send_feature_flag_events=False
    )
    detail = "" if value else " " + json.dumps(client.stats().flags.__dict__)
    say(f"ready {os.getpid()} {value}{detail}")
    while not stop:
        time.sleep(0.05)
    flags = client.stats().flags
    say(f"stats {os.getpid()} {json.dumps(flags.__dict__)}")
    client.shutdown(timeout=1)


def main() -> None:
    store, host, count, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    keyless = set(int(n) for n in sys.argv[5].split(",")) if len(sys.argv) > 5 else set()
    assert posthog_client.__version__
    pids = []
    for n in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                child(store, host, interval, n in keyless)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    sys.stdin.read()  # until the test closes our stdin
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # killed by the test
            os.kill(pid, signal.SIGTERM)
    for pid in pids:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
