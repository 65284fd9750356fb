"""Scenario 7 (posthog_client only): flag checks with a definitions store, and what the store
costs per interval when nothing changed.

Needs ``redis-server`` on PATH (``apt-get install -y redis-server``); the child starts its own on
a free loopback port and reports ``available: false`` without one.

* **Latency.** The definitions of ``flag_data.py`` served by the loopback server of
  ``scenarios/flags.py``; a standalone client (personal key, no store) and a Redis follower (no
  personal key, fed by a leader client) run the same ``get_feature_flag`` calls, interleaved in
  chunks of 1,000 (evaluations/s: median chunk rate; p50/p99: each call timed). Redis's own
  command counter (``INFO stats``) is read before and after: a flag check must send nothing.
* **Traffic.** ``--followers`` followers without a key, as many standbys with a key (they also
  try the lease each time) and one leader, each group connected to Redis through its own
  counting TCP proxy, all with ``--interval``; after two settling intervals the proxies count
  every byte both ways for ``--intervals`` intervals, divided per process and per interval.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

from benchmarks import flag_data
from benchmarks._common import API_KEY, PERSONAL_API_KEY, base_parser, emit, percentile
from benchmarks.scenarios.flags import check_flags, definitions_server, time_flag_calls

CHUNK = 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis_server() -> Iterator[int]:
    exe = shutil.which("redis-server")
    if exe is None:
        emit({"available": False, "reason": "redis-server is not installed"})
    port, directory = _free_port(), tempfile.mkdtemp(prefix="bench-redis-")
    command = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory]
    process = subprocess.Popen(
        [*command, "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)) as c:
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


class CountingProxy:
    """A loopback TCP proxy to ``port`` that counts the bytes going each way."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.up = self.down = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, up: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                with self._lock:
                    if up:
                        self.up += len(data)
                    else:
                        self.down += len(data)
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def reset(self) -> tuple[int, int]:
        with self._lock:
            counted, (self.up, self.down) = (self.up, self.down), (0, 0)
        return counted


def _commands(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"INFO stats\r\n")
        text = b""
        while b"total_commands_processed" not in text or not text.endswith(b"\r\n"):
            text += conn.recv(65536)
    line = next(x for x in text.split(b"\r\n") if x.startswith(b"total_commands_processed:"))
    return int(line.split(b":")[1])


def latency(host: str, port: int, users: int) -> dict[str, Any]:
    from posthog_client import Client

    store = f"redis://127.0.0.1:{port}/0?prefix=latency"
    plain = Client(API_KEY, host=host, personal_api_key=PERSONAL_API_KEY, poll_interval=3600)
    leader = Client(
        API_KEY,
        host=host,
        personal_api_key=PERSONAL_API_KEY,
        definitions_store=store,
        poll_interval=3600,
    )
    follower = Client(API_KEY, host=host, definitions_store=store, poll_interval=3600)
    assert plain.load_feature_flags() and leader.load_feature_flags()
    assert follower.load_feature_flags() and follower.stats().flags.role == "follower"
    payload = flag_data.definitions()
    calls = [
        (f["key"], u["distinct_id"], u["person_properties"], u["groups"], u["group_properties"])
        for u in flag_data.users(users)
        for f in payload["flags"]
    ]
    rates: dict[str, list[float]] = {"standalone": [], "follower": []}
    samples: dict[str, list[int]] = {"standalone": [], "follower": []}
    clients = {"standalone": plain, "follower": follower}
    before = _commands(port)
    for n, start in enumerate(range(0, len(calls), CHUNK)):
        order = ("standalone", "follower") if n % 2 == 0 else ("follower", "standalone")
        for name in order:
            get = clients[name].get_feature_flag
            chunk = calls[start : start + CHUNK]
            began = time.perf_counter()
            check_flags(get, chunk)
            rates[name].append(len(chunk) / (time.perf_counter() - began))
            samples[name] += time_flag_calls(get, chunk[:200])
    store_commands = _commands(port) - before - 1  # minus the second INFO itself
    result: dict[str, Any] = {"checks": 2 * len(calls), "store_commands": store_commands}
    for name in clients:
        ordered = sorted(samples[name])
        result[f"{name}_evals_per_s"] = statistics.median(rates[name])
        result[f"{name}_p50_us"] = percentile(ordered, 0.5) / 1000
        result[f"{name}_p99_us"] = percentile(ordered, 0.99) / 1000
    for client in (follower, leader, plain):
        client.shutdown(timeout=1)
    return result


def traffic(
    host: str, port: int, followers: int, interval: float, intervals: int
) -> dict[str, Any]:
    from posthog_client import Client

    proxies = {name: CountingProxy(port) for name in ("keyless", "standby", "leader")}

    def client(name: str, key: str | None) -> Any:
        store = f"redis://127.0.0.1:{proxies[name].port}/0?prefix=traffic"
        return Client(
            API_KEY,
            host=host,
            personal_api_key=key,
            definitions_store=store,
            poll_interval=interval,
        )

    leader = client("leader", PERSONAL_API_KEY)
    assert leader.load_feature_flags() and leader.stats().flags.role == "leader"
    group = {
        "keyless": [client("keyless", None) for _ in range(followers)],
        "standby": [client("standby", PERSONAL_API_KEY) for _ in range(followers)],
    }
    for member in group["keyless"] + group["standby"]:
        assert member.load_feature_flags() and member.stats().flags.role == "follower"
    time.sleep(2 * interval)
    requests_before = leader.stats().flags.fetches
    for proxy in proxies.values():
        proxy.reset()
    time.sleep(intervals * interval)
    counted = {name: proxy.reset() for name, proxy in proxies.items()}
    requests = leader.stats().flags.fetches - requests_before
    result: dict[str, Any] = {"followers": followers, "interval": interval, "intervals": intervals}
    for name, (up, down) in counted.items():
        members = 1 if name == "leader" else followers
        result[f"{name}_bytes_up"] = up / members / intervals
        result[f"{name}_bytes_down"] = down / members / intervals
    result["definitions_requests_per_interval"] = requests / intervals
    for member in [*group["keyless"], *group["standby"], leader]:
        member.shutdown(timeout=1)
    return result


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--followers", type=int, default=16)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--intervals", type=int, default=10)
    args = parser.parse_args()
    if args.sdk != "ours":
        emit({"available": False, "reason": "posthog_client only"})
    try:
        import redis  # noqa: F401
    except ImportError:
        emit({"available": False, "reason": "the redis package is not installed"})
    os.environ.pop("POSTHOG_DEFINITIONS_STORE", None)
    with redis_server() as port, definitions_server(flag_data.definitions()) as server:
        host = f"http://127.0.0.1:{server.server_address[1]}"
        result = {"available": True, **latency(host, port, args.users)}
        result.update(traffic(host, port, args.followers, args.interval, args.intervals))
    emit(result)


if __name__ == "__main__":
    main()
