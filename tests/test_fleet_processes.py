"""Sixteen processes, one store, one definitions request per poll interval in total (counted by
the fake PostHog), and a SIGKILLed leader replaced within two intervals: on Redis and on the
file store. The processes are forked by tests/fleet_worker.py, each with its own Client."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_until

from posthog_client._flags import envelope
from posthog_client.testing import FakePostHog

WORKER = Path(__file__).with_name("fleet_worker.py")
INTERVAL = 0.3
COUNT = 16
KEYLESS = (3, 7, 11, 15)  # a quarter of the fleet has no personal key at all
DEFS = "/flags/definitions"


class Fleet:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.ready: dict[int, str] = {}
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def wait_ready(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ready) < count:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if not line:
                continue
            kind, _, rest = line.partition(" ")
            pid, _, value = rest.partition(" ")
            assert kind == "ready" and pid.isdigit(), f"unexpected output: {line!r}"
            self.ready[int(pid)] = value


@contextlib.contextmanager
def fleet(store: str, host: str) -> Iterator[Fleet]:
    command = [sys.executable, str(WORKER), store, host, str(COUNT), str(INTERVAL)]
    command.append(",".join(map(str, KEYLESS)))
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=WORKER.parent
    )
    running = Fleet(process)
    try:
        yield running
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        running.reader.join(5)
        assert process.stdout is not None
        process.stdout.close()


def count(fake: FakePostHog) -> int:
    return len(fake.requests_to(DEFS))


def at_most(seconds: float) -> int:
    """The most requests one poller can make in ``seconds`` (intervals are 0.9-1.1 x INTERVAL),
    plus the one a new leader may make when it takes over."""
    return int(seconds / (0.9 * INTERVAL)) + 1


def leader_of(kind: str, target: Any) -> tuple[int, int] | None:
    """(pid, fence) of the lease holder, read from the store itself."""
    if kind == "redis":
        client, prefix = target
        raw = client.get(f"{prefix}:{{{envelope.project_id('phc_test')}}}:lease")
    else:
        path = next(Path(target).glob("*/lease"), None)
        raw = path.read_bytes() if path is not None else None
    if not raw:
        return None
    owner, fence = raw.decode().split()
    return int(owner.split(":")[1]), int(fence)


@pytest.fixture(params=["redis", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, Any]]:
    if request.param == "redis":
        import redis

        port = request.getfixturevalue("redis_port")
        prefix = f"procs{os.getpid()}{time.monotonic_ns()}"
        client = redis.Redis(port=port)
        yield "redis", f"redis://127.0.0.1:{port}/0?prefix={prefix}", (client, prefix)
        for key in client.keys(f"{prefix}:*"):
            client.delete(key)
        client.close()
    else:
        yield "file", f"file://{tmp_path}", tmp_path


def test_sixteen_processes_make_one_request_per_interval_and_survive_a_sigkilled_leader(
    fake: FakePostHog, store: tuple[str, str, Any]
) -> None:
    kind, url, target = store
    fake.set_flag("beta")
    with fake.serve() as host:
        launched = time.monotonic()
        with fleet(url, host) as running:
            running.wait_ready(COUNT)
            assert set(running.ready.values()) == {"True"}, running.ready  # 4 have no key
            assert count(fake) <= at_most(time.monotonic() - launched)

            # Steady state: one request per interval for the whole fleet.
            window = 8 * INTERVAL
            before = count(fake)
            time.sleep(window)
            made = count(fake) - before
            assert window / (1.1 * INTERVAL) - 2 <= made <= at_most(window), made

            # SIGKILL the leader: another process takes over within two intervals.
            holder = leader_of(kind, target)
            assert holder is not None and holder[0] in running.ready
            killed = time.monotonic()
            os.kill(holder[0], signal.SIGKILL)
            wait_until(lambda: (leader_of(kind, target) or holder)[1] > holder[1], 5.0)
            takeover = time.monotonic() - killed
            assert takeover <= 2 * INTERVAL + 0.1, takeover
            new = leader_of(kind, target)
            assert new is not None and new[0] != holder[0] and new[0] in running.ready

            # ... and the fleet still makes one request per interval.
            before = count(fake)
            time.sleep(4 * INTERVAL)
            assert count(fake) - before <= at_most(4 * INTERVAL)
    print(
        f"\n{kind}: takeover after SIGKILL {takeover * 1000:.0f} ms, {made} requests in "
        f"{window:.1f} s from {COUNT} processes"
    )
    if kind == "redis":
        client, prefix = target
        key = f"{prefix}:{{{envelope.project_id('phc_test')}}}:version"
        version = envelope.parse_version(client.get(key))
        # Written by the new leader (or, on a machine so loaded that it lost its lease as well,
        # by a later one: fences only grow).
        assert version is not None and version.fence >= new[1]
