"""Scenario 1: what ``capture()`` costs the calling thread.

``--mode mean``: 20,000 calls in one loop under one timer (no per-call timer cost), divided.
``--mode latency``: each call timed on its own (``perf_counter_ns`` around it, about 0.1 us of
timer overhead included) for p50/p99/max.

In both modes the consumer thread is alive and delivering to the loopback sink while the loop
runs, so its competition for the GIL is part of what the caller pays. Both SDKs get the same
options: flush_at=100, flush_interval=0.5 s, gzip off, a queue large enough that nothing drops.
At the end the run checks that the sink received every event.
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any

from benchmarks._common import (
    EVENT_NAME,
    GROUPS,
    base_parser,
    emit,
    event_pool,
    make_client,
    percentile,
)
from benchmarks.sink import wait_for

WARMUP = 500


def _mean_loop(sdk: str, client: Any, items: list[tuple[str, dict[str, Any]]]) -> float:
    capture = client.capture
    groups = GROUPS
    name = EVENT_NAME
    if sdk == "ours":
        started = time.perf_counter()
        for distinct_id, properties in items:
            capture(distinct_id, name, properties, groups=groups)
        return time.perf_counter() - started
    started = time.perf_counter()
    for distinct_id, properties in items:
        capture(name, distinct_id=distinct_id, properties=properties, groups=groups)
    return time.perf_counter() - started


def _latency_loop(sdk: str, client: Any, items: list[tuple[str, dict[str, Any]]]) -> list[int]:
    capture = client.capture
    groups = GROUPS
    name = EVENT_NAME
    clock = time.perf_counter_ns
    samples = [0] * len(items)
    if sdk == "ours":
        for i, (distinct_id, properties) in enumerate(items):
            started = clock()
            capture(distinct_id, name, properties, groups=groups)
            samples[i] = clock() - started
    else:
        for i, (distinct_id, properties) in enumerate(items):
            started = clock()
            capture(name, distinct_id=distinct_id, properties=properties, groups=groups)
            samples[i] = clock() - started
    return samples


def _calls_per_capture(sdk: str, client: Any, items: list[tuple[str, dict[str, Any]]]) -> float:
    """Python and C function calls made on the caller's thread per capture(): a count, free of
    the machine's noise, of the work a call does (``sys.setprofile`` sees this thread only)."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    capture = client.capture
    sys.setprofile(profile)
    try:
        for distinct_id, properties in items:
            if sdk == "ours":
                capture(distinct_id, EVENT_NAME, properties, groups=GROUPS)
            else:
                capture(EVENT_NAME, distinct_id=distinct_id, properties=properties, groups=GROUPS)
    finally:
        sys.setprofile(None)
    return count / len(items)


def _json_dumps_us(items: list[tuple[str, dict[str, Any]]]) -> float:
    """The reference limit: ``json.dumps`` of each event as PostHog receives it (name, person,
    properties with ``$groups``, timestamp, uuid), per call, in the same loop shape."""
    import datetime as dt
    import json

    stamp = dt.datetime.now(dt.timezone.utc).isoformat()
    events = [
        {
            "event": EVENT_NAME,
            "distinct_id": distinct_id,
            "properties": {**properties, "$groups": GROUPS},
            "timestamp": stamp,
            "uuid": str(uuid.uuid4()),
        }
        for distinct_id, properties in items
    ]
    dumps = json.dumps
    started = time.perf_counter()
    for event in events:
        dumps(event)
    return (time.perf_counter() - started) / len(events) * 1e6


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--mode", choices=("mean", "latency", "calls"), required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument(
        "--spool", action="store_true", help="ours only: with spool_path set (PostHog healthy)"
    )
    args = parser.parse_args()
    extra: dict[str, Any] = {}
    if args.spool:
        import tempfile

        extra["spool_path"] = tempfile.mkdtemp(prefix="bench-spool-") + "/spool.db"

    pool = event_pool()
    items = [pool[i % len(pool)] for i in range(args.calls)]
    prefix = f"/run-{uuid.uuid4().hex}"
    client = make_client(
        args.sdk,
        args.sink + prefix,
        capture_mode=args.capture_mode,
        flush_at=100,
        flush_interval=0.5,
        max_queue_size=100_000,
        gzip=False,
        **extra,
    )
    # Warm up: starts the consumer thread and the connection, and runs every code path once.
    _mean_loop(args.sdk, client, pool[:WARMUP])
    wait_for(args.sink, prefix, WARMUP, timeout=30)

    result: dict[str, Any] = {"calls": args.calls}
    if args.mode == "mean":
        elapsed = _mean_loop(args.sdk, client, items)
        result["mean_us"] = elapsed / args.calls * 1e6
        result["json_dumps_us"] = _json_dumps_us(items)
    elif args.mode == "calls":
        result["calls_per_capture"] = _calls_per_capture(args.sdk, client, items[:1000])
        result["calls"] = 1000
    else:
        samples = sorted(_latency_loop(args.sdk, client, items))
        result["p50_us"] = percentile(samples, 0.50) / 1000
        result["p99_us"] = percentile(samples, 0.99) / 1000
        result["max_us"] = samples[-1] / 1000
    got = wait_for(args.sink, prefix, WARMUP + result["calls"], timeout=120)
    result["delivered"] = got["count"] - WARMUP
    result["complete"] = got["count"] == WARMUP + result["calls"]
    if args.spool:  # healthy: the spool file is never written
        import os

        result["spool_written"] = os.path.exists(extra["spool_path"])
    emit(result)


if __name__ == "__main__":
    main()
