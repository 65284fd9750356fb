"""A fleet of processes sharing one flag-definitions poll through a definitions store.

    python examples/fleet.py

Four forked workers (as gunicorn or Celery prefork would make) each create a Client on the same
store: one of them polls PostHog for the definitions and writes them to the store, the others
read the store, and every one evaluates flags locally. Without POSTHOG_API_KEY this runs
against an embedded fake PostHog and a file store in a temporary directory, and counts the
definitions requests; set POSTHOG_API_KEY, POSTHOG_PERSONAL_API_KEY (and optionally
POSTHOG_DEFINITIONS_STORE=redis://host:6379/0) to use yours.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from posthog_client import Client
from posthog_client.testing import FakePostHog

WORKERS = 4
INTERVAL = 0.5
RUN_FOR = 2.5


def worker(api_key: str, host: str, personal_api_key: str | None, store: str) -> None:
    client = Client(
        api_key,
        host=host,
        personal_api_key=personal_api_key,
        definitions_store=store,
        poll_interval=INTERVAL,
    )
    value = client.get_feature_flag("new-checkout", "ian@posthog.com", only_evaluate_locally=True)
    time.sleep(RUN_FOR)
    flags = client.stats().flags
    print(
        f"worker {os.getpid()}: new-checkout={value}, {flags.role}, "
        f"{flags.fetches} definitions request(s) of its own",
        flush=True,
    )
    client.shutdown(timeout=2)


def fleet(api_key: str, host: str, personal_api_key: str | None, store: str) -> None:
    children = []
    for _ in range(WORKERS):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                worker(api_key, host, personal_api_key, store)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


def main() -> int:
    if not hasattr(os, "fork"):
        print("this example forks workers: run it on Linux or macOS")
        return 0
    api_key = os.environ.get("POSTHOG_API_KEY")
    with tempfile.TemporaryDirectory() as directory:
        store = os.environ.get("POSTHOG_DEFINITIONS_STORE") or f"file://{directory}"
        if api_key:
            host = os.environ.get("POSTHOG_HOST", "https://us.i.posthog.com")
            fleet(api_key, host, os.environ.get("POSTHOG_PERSONAL_API_KEY"), store)
            return 0
        fake = FakePostHog()
        fake.set_flag("new-checkout")
        with fake.serve() as host:  # real HTTP on loopback: the workers are other processes
            started = time.monotonic()
            fleet(fake.api_key, host, fake.personal_api_key, store)
            elapsed = time.monotonic() - started
        requests = len(fake.requests_to("/flags/definitions"))
        print(
            f"\nThe fake PostHog received {requests} definitions request(s) from {WORKERS} "
            f"workers in {elapsed:.1f} s (poll interval {INTERVAL} s): one poll per interval "
            "for the whole fleet"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
