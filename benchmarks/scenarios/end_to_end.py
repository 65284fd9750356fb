"""Scenario 2: end-to-end throughput and CPU cost of delivering events to a loopback sink.

Captures ``--events`` events as fast as the caller can and measures from just before the first
capture to the moment the sink (another process) had parsed the last event. CPU is this
process's own (``getrusage(RUSAGE_SELF)``: caller and consumer threads, not the sink) over the
same span. flush_at=100 and flush_interval=0.5 s for both SDKs; the queue holds every event, so
nothing is dropped; ``--gzip`` turns request compression on for both.
"""

from __future__ import annotations

import time
import uuid

from benchmarks._common import (
    EVENT_NAME,
    GROUPS,
    base_parser,
    cpu_seconds,
    emit,
    event_pool,
    make_client,
)
from benchmarks.sink import wait_for

WARMUP = 200


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--sink", required=True)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()

    pool = event_pool()
    items = [pool[i % len(pool)] for i in range(args.events)]
    # The warm-up goes to its own prefix, so the measured run starts from zero.
    warm_prefix, prefix = f"/run-{uuid.uuid4().hex}", f"/run-{uuid.uuid4().hex}"
    options = {"flush_at": 100, "flush_interval": 0.5, "max_queue_size": 200_000}
    warm = make_client(
        args.sdk, args.sink + warm_prefix, capture_mode=args.capture_mode, gzip=args.gzip, **options
    )
    capture = warm.capture
    for distinct_id, properties in pool[:WARMUP]:
        if args.sdk == "ours":
            capture(distinct_id, EVENT_NAME, properties, groups=GROUPS)
        else:
            capture(EVENT_NAME, distinct_id=distinct_id, properties=properties, groups=GROUPS)
    wait_for(args.sink, warm_prefix, WARMUP, timeout=30)
    if args.sdk == "ours":
        warm.shutdown(timeout=5)
    else:
        warm.shutdown()

    client = make_client(
        args.sdk, args.sink + prefix, capture_mode=args.capture_mode, gzip=args.gzip, **options
    )
    capture = client.capture
    name, groups = EVENT_NAME, GROUPS
    cpu_start = cpu_seconds()
    started = time.monotonic()
    if args.sdk == "ours":
        for distinct_id, properties in items:
            capture(distinct_id, name, properties, groups=groups)
    else:
        for distinct_id, properties in items:
            capture(name, distinct_id=distinct_id, properties=properties, groups=groups)
    captured = time.monotonic()
    got = wait_for(args.sink, prefix, args.events, timeout=240)
    cpu = cpu_seconds() - cpu_start
    span = got["last"] - started
    emit(
        {
            "events": args.events,
            "delivered": got["count"],
            "complete": got["count"] == args.events,
            "requests": got["requests"],
            "events_per_s": got["count"] / span if span > 0 else 0.0,
            "cpu_us_per_event": cpu / max(got["count"], 1) * 1e6,
            "capture_loop_s": captured - started,
            "total_s": span,
        }
    )


if __name__ == "__main__":
    main()
