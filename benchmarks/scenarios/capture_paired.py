"""Scenario 1b: the ``capture()`` mean with both SDKs in one process, taking turns.

Scenario 1 times each SDK's 20,000-call loop in its own process, one after the other, and the
CPU a process gets on these shared machines drifts by up to 2x within seconds, so the ratio of
two processes' means moves with the machine (0.12x to 0.21x over five repeats). Here both
clients live in one process, sending to the same sink with scenario 1's options, and take
turns: 2,000 calls of one SDK under one timer, then the other's, ten turns each, alternating
who goes first. After each turn the client that ran is flushed (untimed), so the other one's
consumer is idle during a turn while its own is live and competes for the GIL, as in scenario
1. The ratio of a repeat is the median of ours / official over the ten pairs of turns.

``--sdk`` chooses which SDK takes the first turn.
"""

from __future__ import annotations

import statistics
import uuid
from typing import Any

from benchmarks._common import base_parser, emit, event_pool, make_client
from benchmarks.scenarios.capture import _mean_loop
from benchmarks.sink import wait_for

WARMUP = 500
TURN = 2000
TURNS = 10


def _turn(sdk: str, client: Any, items: list[tuple[str, dict[str, Any]]]) -> float:
    """Mean seconds per call of one turn (scenario 1's loop)."""
    return _mean_loop(sdk, client, items) / len(items)


def _flush(sdk: str, client: Any) -> None:
    if sdk == "ours":
        client.flush(timeout=60)
    else:
        client.flush()


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--sink", required=True)
    args = parser.parse_args()
    pool = event_pool()
    prefixes = {sdk: f"/run-{uuid.uuid4().hex}" for sdk in ("ours", "theirs")}
    clients = {
        sdk: make_client(
            sdk,
            args.sink + prefixes[sdk],
            capture_mode=args.capture_mode,
            flush_at=100,
            flush_interval=0.5,
            max_queue_size=100_000,
            gzip=False,
        )
        for sdk in ("ours", "theirs")
    }
    for sdk, client in clients.items():  # warm-up: the consumer thread, the connection
        _turn(sdk, client, pool[:WARMUP])
        _flush(sdk, client)
        wait_for(args.sink, prefixes[sdk], WARMUP, timeout=30)

    means: dict[str, list[float]] = {"ours": [], "theirs": []}
    ratios: list[float] = []
    order = [args.sdk, "theirs" if args.sdk == "ours" else "ours"]
    for turn in range(TURNS):
        items = [pool[(turn * TURN + i) % len(pool)] for i in range(TURN)]
        mean = {}
        for sdk in order:
            mean[sdk] = _turn(sdk, clients[sdk], items)
            _flush(sdk, clients[sdk])
            means[sdk].append(mean[sdk] * 1e6)
        ratios.append(mean["ours"] / mean["theirs"])
        order.reverse()
    delivered = {
        sdk: wait_for(args.sink, prefixes[sdk], WARMUP + TURNS * TURN, timeout=60)["count"]
        for sdk in clients
    }
    emit(
        {
            "mean_us": statistics.median(means["ours"]),
            "theirs_mean_us": statistics.median(means["theirs"]),
            "ratio": statistics.median(ratios),
            "turns": TURNS,
            "complete": all(count == WARMUP + TURNS * TURN for count in delivered.values()),
        }
    )


if __name__ == "__main__":
    main()
