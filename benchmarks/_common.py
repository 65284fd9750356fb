"""Helpers shared by the scenario processes: the SDK factories, the event data, the clocks and
the one-line result protocol that ``run.py`` reads.

Nothing here starts a thread or a socket at import time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

API_KEY = "phc_bench"
PERSONAL_API_KEY = "phx_bench"
EVENT_NAME = "order completed"
GROUPS = {"company": "acme"}
RESULT_PREFIX = "RESULT "
SDKS = ("ours", "theirs")


def event_pool(size: int = 1000) -> list[tuple[str, dict[str, Any]]]:
    """``size`` realistic (distinct_id, properties) pairs: six scalar properties of mixed types."""
    plans = ("free", "pro", "team", "enterprise")
    currencies = ("EUR", "USD", "GBP")
    pool = []
    for i in range(size):
        properties: dict[str, Any] = {
            "plan": plans[i % len(plans)],
            "amount": round(9.99 + (i % 97) * 1.25, 2),
            "quantity": 1 + i % 5,
            "is_trial": i % 3 == 0,
            "currency": currencies[i % len(currencies)],
            "coupon": None if i % 4 else "SPRING26",
        }
        pool.append((f"user-{i:05d}@example.com", properties))
    return pool


def make_client(sdk: str, host: str, **options: Any) -> Any:
    """A client of ``sdk`` ("ours" or "theirs") sending to ``host``, with the same options.

    Supported options: flush_at, flush_interval, max_queue_size, gzip, timeout,
    personal_api_key, poll_interval, capture_mode ("v1" or "v0"; both SDKs take it: the official
    one defaults to v0, so it is always passed explicitly).
    """
    if sdk == "ours":
        from posthog_client import Client

        return Client(API_KEY, host=host, **options)
    from posthog import Posthog

    return Posthog(API_KEY, host=host, **options)


def cpu_seconds() -> float:
    """User plus system CPU time of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The value at ``fraction`` (0..1) of an already sorted list (nearest rank)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sdk", choices=SDKS, required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--capture-mode",
        choices=("v1", "v0"),
        default="v1",
        help="capture endpoint for both SDKs: v1 (/i/v1/analytics/events) or v0 (/batch/)",
    )
    return parser


def emit(result: dict[str, Any]) -> NoReturn:
    """Print the one result line ``run.py`` reads, then leave at once.

    ``os._exit`` skips both SDKs' atexit hooks, which would otherwise try to deliver whatever is
    still queued (up to their exit timeouts) against a sink that may already be gone.
    """
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class Deadline:
    """A time budget for a bounded loop: ``expired()`` is cheap enough to call per chunk."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def expired(self) -> bool:
        return time.monotonic() > self.end
