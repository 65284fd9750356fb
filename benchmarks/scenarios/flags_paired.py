"""Scenario 3b: local flag evaluation, both SDKs in one process, taking turns chunk by chunk.

Scenario 3 times each SDK in its own process, one after the other, and on these shared machines
the speed of the CPU a process gets drifts by up to 2x within seconds (one SDK's consecutive
passes over the same calls in one process: 69,000 then 124,000 evaluations/s). A ratio of two
processes' rates then measures the drift as much as the SDKs. Here both clients live in one
process, on the same definitions server (scenario 3's data and calls), and take turns every
chunk (1,000 ``get_feature_flag`` calls, or 50 ``get_all_flags`` calls), alternating which goes
first; the ratio is the median over chunks of ours / official for the same chunk of calls, run
back to back within milliseconds. Both clients share the interpreter (and its garbage
collector): what one allocates can cost the other a collection, and the official SDK allocates
more.

``--sdk`` chooses which SDK takes the first turn.
"""

from __future__ import annotations

import functools
import statistics
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks import flag_data
from benchmarks._common import PERSONAL_API_KEY, Deadline, base_parser, emit, make_client
from benchmarks.scenarios.flags import (
    ALL_CHUNK,
    ALL_PASSES,
    BUDGET_S,
    CHUNK,
    PASSES,
    check_all,
    check_flags,
    definitions_server,
)


def _turns(
    first: str, chunks: list[Any], runs: Mapping[str, Callable[[Any], None]], deadline: Deadline
) -> tuple[dict[str, list[float]], list[float]]:
    """Per SDK, the rate of each chunk; and ours / official for each chunk."""
    rates: dict[str, list[float]] = {"ours": [], "theirs": []}
    ratios: list[float] = []
    order = [first, "theirs" if first == "ours" else "ours"]
    for chunk in chunks:
        rate = {}
        for sdk in order:
            began = time.perf_counter()
            runs[sdk](chunk)
            rate[sdk] = len(chunk) / (time.perf_counter() - began)
            rates[sdk].append(rate[sdk])
        ratios.append(rate["ours"] / rate["theirs"])
        order.reverse()
        if deadline.expired():
            break
    return rates, ratios


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--users", type=int, default=flag_data.USER_COUNT)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the official getters

    payload = flag_data.definitions()
    users = flag_data.users(args.users)
    keys = [flag["key"] for flag in payload["flags"]]
    with definitions_server(payload) as server:
        host = f"http://127.0.0.1:{server.server_address[1]}"
        clients = {
            sdk: make_client(sdk, host, personal_api_key=PERSONAL_API_KEY, poll_interval=3600)
            for sdk in ("ours", "theirs")
        }
        for client in clients.values():
            client.load_feature_flags()
        calls = [
            (key, u["distinct_id"], u["person_properties"], u["groups"], u["group_properties"])
            for u in users
            for key in keys
        ]

        singles = {
            sdk: functools.partial(check_flags, client.get_feature_flag)
            for sdk, client in clients.items()
        }
        alls = {
            sdk: functools.partial(check_all, client.get_all_flags)
            for sdk, client in clients.items()
        }
        for sdk in clients:  # warm-up: every code path once
            singles[sdk](calls[: 40 * len(keys)])
            alls[sdk](users[:40])

        deadline = Deadline(BUDGET_S)
        chunks = [calls[i : i + CHUNK] for i in range(0, len(calls), CHUNK)] * PASSES
        rates, ratios = _turns(args.sdk, chunks, singles, deadline)
        user_chunks = [users[i : i + ALL_CHUNK] for i in range(0, len(users), ALL_CHUNK)]
        all_rates, all_ratios = _turns(args.sdk, user_chunks * ALL_PASSES, alls, deadline)
    emit(
        {
            "evals_per_s": statistics.median(rates["ours"]),
            "theirs_evals_per_s": statistics.median(rates["theirs"]),
            "evals_ratio": statistics.median(ratios),
            "evals_chunks": len(ratios),
            "all_per_s": statistics.median(all_rates["ours"]),
            "theirs_all_per_s": statistics.median(all_rates["theirs"]),
            "all_ratio": statistics.median(all_ratios),
            "all_chunks": len(all_ratios),
        }
    )


if __name__ == "__main__":
    main()
