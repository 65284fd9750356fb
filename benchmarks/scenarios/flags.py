"""Scenario 3: local feature-flag evaluation.

A loopback server (a thread of this process, idle during the measurement) serves the generated
definitions of ``benchmarks/flag_data.py`` on ``GET /flags/definitions`` and
``GET /api/feature_flag/local_evaluation/``; the client gets ``personal_api_key="phx_bench"``
and ``load_feature_flags()`` is called before anything is timed. Then:

* ``get_feature_flag`` over every flag x every user, 3 times, timed per chunk of 1,000 calls
  (evaluations/s: the median chunk rate), then one pass with each call timed on its own
  (p50/p99, about 0.1 us of timer overhead included);
* ``get_all_flags`` for every user, 5 times, timed per chunk of 50 calls (calls/s: median rate);
* a sample of both (first 40 users) is printed so ``run.py`` can report how often the SDKs agree.

All calls pass ``only_evaluate_locally=True`` (and ``send_feature_flag_events=False`` for the
single-flag call), so nothing else is ever requested.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks import flag_data
from benchmarks._common import (
    PERSONAL_API_KEY,
    Deadline,
    base_parser,
    emit,
    make_client,
    percentile,
)

SAMPLE_USERS = 40
CHUNK = 1000
ALL_CHUNK = 50
PASSES = 3
ALL_PASSES = 5
BUDGET_S = 90.0


_REASONS = {200: "OK", 304: "Not Modified"}


class _DefinitionsServer(ThreadingHTTPServer):
    daemon_threads = True
    payload: bytes
    hits: dict[str, int]


class _Handler(BaseHTTPRequestHandler):
    server: _DefinitionsServer
    protocol_version = "HTTP/1.1"

    def _reply(self, status: int, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Not Found')}\r\n"
            f'Content-Type: application/json\r\nETag: "bench-1"\r\n'
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.wfile.write(head.encode("ascii") + body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        self.server.hits[path] = self.server.hits.get(path, 0) + 1
        if path in ("/flags/definitions", "/api/feature_flag/local_evaluation/"):
            if self.headers.get("If-None-Match") == '"bench-1"':  # unchanged (fleet scenario)
                self._reply(304, b"")
            else:
                self._reply(200, self.server.payload)
        else:
            self._reply(404, b'{"detail":"not found"}')

    def do_POST(self) -> None:  # noqa: N802 - nothing should be posted; answer like PostHog
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        self.server.hits["POST " + path] = self.server.hits.get("POST " + path, 0) + 1
        self._reply(200, b'{"flags":{},"featureFlags":{},"status":1}')

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def definitions_server(payload: dict[str, Any]) -> Iterator[_DefinitionsServer]:
    server = _DefinitionsServer(("127.0.0.1", 0), _Handler)
    server.payload = json.dumps(payload).encode()
    server.hits = {}
    thread = threading.Thread(target=server.serve_forever, args=(0.5,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


Call = tuple[str, str, dict[str, Any], dict[str, str], dict[str, dict[str, Any]]]


def check_flags(get_flag: Any, calls: list[Call]) -> None:
    """The measured single-flag call, once per (key, distinct id, properties, groups) entry."""
    for key, did, person, groups, group_props in calls:
        get_flag(
            key,
            did,
            person_properties=person,
            groups=groups,
            group_properties=group_props,
            only_evaluate_locally=True,
            send_feature_flag_events=False,
        )


def time_flag_calls(get_flag: Any, calls: list[Call]) -> list[int]:
    """The same calls as ``check_flags``, each timed on its own (ns; the clock is read right
    around the call, so this helper's own loop is outside what is timed)."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    for key, did, person, groups, group_props in calls:
        began_ns = clock()
        get_flag(
            key,
            did,
            person_properties=person,
            groups=groups,
            group_properties=group_props,
            only_evaluate_locally=True,
            send_feature_flag_events=False,
        )
        samples.append(clock() - began_ns)
    return samples


def check_all(get_all: Any, users: list[dict[str, Any]]) -> None:
    """The measured all-flags call, once per user."""
    for u in users:
        get_all(
            u["distinct_id"],
            person_properties=u["person_properties"],
            groups=u["groups"],
            group_properties=u["group_properties"],
            only_evaluate_locally=True,
        )


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, str)) else repr(value)


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--users", type=int, default=flag_data.USER_COUNT)
    args = parser.parse_args()
    # The official get_feature_flag warns that it is deprecated; outside ``__main__`` (in an
    # app) Python's default filters ignore that warning, so do the same here.
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    payload = flag_data.definitions()
    users = flag_data.users(args.users)
    keys = [flag["key"] for flag in payload["flags"]]
    with definitions_server(payload) as server:
        host = f"http://127.0.0.1:{server.server_address[1]}"
        client = make_client(args.sdk, host, personal_api_key=PERSONAL_API_KEY, poll_interval=3600)
        if not hasattr(client, "get_all_flags") or not hasattr(client, "load_feature_flags"):
            emit({"available": False})
        client.load_feature_flags()
        result: dict[str, Any] = {"available": True, "flags": len(keys), "users": len(users)}
        get_flag = client.get_feature_flag
        get_all = client.get_all_flags
        calls = [
            (key, u["distinct_id"], u["person_properties"], u["groups"], u["group_properties"])
            for u in users
            for key in keys
        ]

        # Agreement sample (also the warm-up).
        sample = []
        for key, did, person, groups, group_props in calls[: SAMPLE_USERS * len(keys)]:
            value = get_flag(
                key,
                did,
                person_properties=person,
                groups=groups,
                group_properties=group_props,
                only_evaluate_locally=True,
                send_feature_flag_events=False,
            )
            sample.append(_jsonable(value))
        result["sample_values"] = sample
        result["sample_all"] = [
            {
                k: _jsonable(v)
                for k, v in (
                    get_all(
                        u["distinct_id"],
                        person_properties=u["person_properties"],
                        groups=u["groups"],
                        group_properties=u["group_properties"],
                        only_evaluate_locally=True,
                    )
                    or {}
                ).items()
            }
            for u in users[:SAMPLE_USERS]
        ]

        # Evaluations per second: PASSES passes over every flag x user, one timer per chunk of
        # 1,000 calls; the median chunk rate resists bursts of noise from other processes.
        deadline = Deadline(BUDGET_S)
        rates: list[float] = []
        for _ in range(PASSES):
            for start in range(0, len(calls), CHUNK):
                chunk = calls[start : start + CHUNK]
                began = time.perf_counter()
                check_flags(get_flag, chunk)
                rates.append(len(chunk) / (time.perf_counter() - began))
                if deadline.expired():
                    break
        result["evals"] = len(rates) * CHUNK
        result["evals_per_s"] = statistics.median(rates)
        result["evals_per_s_chunks"] = [round(rate) for rate in rates]

        # Per-call latency over one pass of the same calls.
        samples: list[int] = []
        for start in range(0, len(calls), CHUNK):
            samples += time_flag_calls(get_flag, calls[start : start + CHUNK])
            if deadline.expired():
                break
        samples.sort()
        result["eval_p50_us"] = percentile(samples, 0.50) / 1000
        result["eval_p99_us"] = percentile(samples, 0.99) / 1000

        # get_all_flags per second: ALL_PASSES passes over the users, median of 50-call chunks.
        all_rates: list[float] = []
        for _ in range(ALL_PASSES):
            for start in range(0, len(users), ALL_CHUNK):
                chunk_users = users[start : start + ALL_CHUNK]
                began = time.perf_counter()
                check_all(get_all, chunk_users)
                all_rates.append(len(chunk_users) / (time.perf_counter() - began))
                if deadline.expired():
                    break
        result["all_calls"] = len(all_rates) * ALL_CHUNK
        result["all_per_s"] = statistics.median(all_rates)
        result["server_hits"] = dict(server.hits)
    emit(result)


if __name__ == "__main__":
    main()
