"""Scenario 6: a burst of 50,000 events into a queue of 10,000, with a live consumer.

The host is a loopback sink that accepts everything (started by ``run.py``). Each ``capture()``
call is timed on its own; the point is the worst call: a full queue must drop and count, never
block the caller (the acceptance bound for posthog_client is 5 ms on these machines). Also
reported: how many events each SDK dropped and how many warning lines it logged doing so.

A process's first full garbage collection comes once enough containers were made since it
started (CPython runs it before it has any long-lived count to compare with), and in a fresh
process that lands in the burst: 15 to 27 ms here, walking every object of every imported
module, whichever SDK is queueing. A server has long passed it, so before the burst one
``gc.collect()`` (for both SDKs); full collections during the burst are counted and reported.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from benchmarks._common import EVENT_NAME, GROUPS, base_parser, emit, event_pool, make_client


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--host", required=True)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    counter = _Count()
    for name in ("posthog_client", "posthog"):
        logging.getLogger(name).addHandler(counter)
    pool = event_pool()
    client: Any = make_client(
        args.sdk, args.host, capture_mode=args.capture_mode, max_queue_size=10_000, flush_at=100
    )
    capture = client.capture
    times = []
    size = len(pool)
    full = [0]

    def count_full(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full[0] += 1

    gc.collect()
    gc.callbacks.append(count_full)
    clock = time.perf_counter
    for i in range(args.events):
        distinct_id, template = pool[i % size]
        started = clock()
        if args.sdk == "ours":
            capture(distinct_id, EVENT_NAME, template, groups=GROUPS)
        else:
            capture(EVENT_NAME, distinct_id=distinct_id, properties=template, groups=GROUPS)
        times.append(clock() - started)
    gc.callbacks.remove(count_full)
    times.sort()
    # The official SDK does not count its drops: -1.
    dropped = client.stats().dropped["queue_full"] if args.sdk == "ours" else -1
    emit(
        {
            "max_ms": times[-1] * 1e3,
            "p999_us": times[int(len(times) * 0.999)] * 1e6,
            "dropped": dropped,
            "warning_lines": counter.lines,
            "full_collections": full[0],
        }
    )
    client.shutdown()


if __name__ == "__main__":
    main()
