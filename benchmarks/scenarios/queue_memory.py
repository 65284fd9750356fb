"""Scenario 5: memory held per queued (not yet delivered) event.

The host is a black hole: a socket on 127.0.0.1 that listens but never accepts. The kernel
completes the connection, so each SDK's consumer sends its first batch and then waits for an
answer that never comes (request timeout 120 s, far beyond the run), while every later event
stays in the SDK's queue. flush_at=100, max_queue_size=200,000 for both.

After one batch is in flight, ``gc.collect()`` and VmRSS; then ``--events`` captures, each
with a fresh properties dict built by the caller (as an app would) and dropped by it; then
``gc.collect()`` and VmRSS again. The difference divided by the number of events is the cost
per queued event. The process then exits with ``os._exit`` (no atexit delivery attempts).
"""

from __future__ import annotations

import gc
import socket
import time
from typing import Any

from benchmarks._common import (
    EVENT_NAME,
    GROUPS,
    base_parser,
    emit,
    event_pool,
    make_client,
    rss_bytes,
)

FIRST_BATCH = 100


def _capture_fresh(sdk: str, client: Any, pool: list[tuple[str, dict[str, Any]]], n: int) -> None:
    capture = client.capture
    size = len(pool)
    for i in range(n):
        distinct_id, template = pool[i % size]
        if sdk == "ours":
            capture(distinct_id, EVENT_NAME, dict(template), groups=GROUPS)
        else:
            capture(EVENT_NAME, distinct_id=distinct_id, properties=dict(template), groups=GROUPS)


def _queued(sdk: str, client: Any) -> int:
    if sdk == "ours":
        return int(client.stats().pending)
    return int(client.queue.qsize())


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()

    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)  # never accepted: requests hang until the client's own timeout
    host = f"http://127.0.0.1:{hole.getsockname()[1]}"
    pool = event_pool()
    client = make_client(
        args.sdk,
        host,
        capture_mode=args.capture_mode,
        flush_at=FIRST_BATCH,
        flush_interval=3600.0,
        max_queue_size=200_000,
        timeout=120,
        gzip=False,
    )
    # One batch in flight: the consumer thread and its connection exist before the baseline.
    _capture_fresh(args.sdk, client, pool, FIRST_BATCH)
    time.sleep(1.0)
    queued_before = _queued(args.sdk, client)
    gc.collect()
    before = rss_bytes()
    _capture_fresh(args.sdk, client, pool, args.events)
    gc.collect()
    after = rss_bytes()
    queued = _queued(args.sdk, client) - queued_before
    emit(
        {
            "events": args.events,
            "queued": queued,
            "rss_before_mib": before / 2**20,
            "rss_after_mib": after / 2**20,
            "bytes_per_event": (after - before) / args.events,
        }
    )


if __name__ == "__main__":
    main()
