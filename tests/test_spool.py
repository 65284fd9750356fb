"""The opt-in spool: nothing lost when an outage outlives the process, nothing written while
PostHog is healthy, and a shared file delivers each event once."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_until

from posthog_client import Client
from posthog_client._delivery.spool import Spool, fingerprint
from posthog_client.testing import FakePostHog

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CHILD = """
import sys, time
from posthog_client import Client
client = Client("phc_test", host=sys.argv[1], spool_path=sys.argv[2], flush_at=100,
                retry_base_delay=0.05, retry_max_delay=0.2, timeout=2, exit_timeout=1)
count = int(sys.argv[3])
for i in range(count):
    client.capture("u1", "e", {"i": i, "proc": sys.argv[4]})
print("captured", flush=True)
mode = sys.argv[5]
if mode == "wait":
    time.sleep(120)
elif mode == "shutdown":
    client.shutdown(timeout=float(sys.argv[6]))
# else: just exit (atexit)
"""


def child(url: str, spool: Path, count: int, tag: str, mode: str, *extra: str) -> Any:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(spool), str(count), tag, mode, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def spooled_events(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as conn:
            found = conn.execute("SELECT COALESCE(SUM(count), 0) FROM batches").fetchone()
            return int(found[0])
    except sqlite3.DatabaseError:  # being created (or not a spool yet)
        return 0


def replay(url: str, spool: Path, fake: FakePostHog, expected: int) -> None:
    """A new process on the same spool, PostHog healthy: the rows go out."""
    client = Client("phc_test", host=url, spool_path=spool, flush_interval=0.05)
    try:
        wait_until(lambda: len(fake.events) >= expected, 20.0, every=0.05)
        wait_until(lambda: spooled_events(spool) == 0, 20.0, every=0.05)
    finally:
        client.shutdown(timeout=2)


@pytest.mark.parametrize("outage", ["503", "refused"])
def test_kill_9_during_an_outage_then_a_new_process_delivers_every_batched_event_once(
    tmp_path: Path, outage: str
) -> None:
    spool = tmp_path / "spool.sqlite3"
    fake = FakePostHog()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if outage == "503":
        fake.fail(status=503, times=None)
        server = fake.serve(port)
        server.__enter__()
    process = child(url, spool, 10_000, "a", "wait")
    try:
        assert process.stdout.readline().strip() == "captured"
        wait_until(
            lambda: spooled_events(spool) == 10_000, 20.0, every=0.05
        )  # every batch is on disk
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
    if outage == "503":
        fake.clear_faults()
    else:
        server = fake.serve(port)  # PostHog comes back where it was
        server.__enter__()
    try:
        replay(url, spool, fake, 10_000)
        counts = Counter(e.uuid for e in fake.events)
        assert len(counts) == 10_000 and max(counts.values()) == 1
    finally:
        server.__exit__(None, None, None)
        fake.close()


@pytest.mark.parametrize("exit_mode", ["shutdown", "atexit"])
def test_a_clean_exit_during_an_outage_loses_and_duplicates_nothing(
    tmp_path: Path, exit_mode: str
) -> None:
    spool = tmp_path / "spool.sqlite3"
    with FakePostHog() as fake, fake.serve() as url:
        fake.fail(status=503, times=None)
        process = child(url, spool, 3000, "a", exit_mode, "2")
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert spooled_events(spool) == 3000
        fake.clear_faults()
        replay(url, spool, fake, 3000)
        counts = Counter(e.uuid for e in fake.events)
        assert len(counts) == 3000 and max(counts.values()) == 1


def test_four_processes_sharing_one_spool_deliver_each_event_once(tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite3"
    with FakePostHog() as fake, fake.serve() as url:
        fake.fail(status=503, times=None)
        writers = [child(url, spool, 1000, f"w{i}", "exit") for i in range(4)]
        for process in writers:
            _, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
        assert not [p for p in tmp_path.iterdir() if ".bad-" in p.name]
        assert spooled_events(spool) == 4000
        fake.clear_faults()
        readers = [child(url, spool, 0, f"r{i}", "wait") for i in range(4)]  # replay at start
        try:
            wait_until(lambda: len(fake.events) >= 4000, 60, every=0.05)
            wait_until(lambda: spooled_events(spool) == 0, 20.0, every=0.05)
            time.sleep(0.5)  # a second send of anything would show now
        finally:
            for process in readers:
                process.kill()
                process.communicate(timeout=10)
        counts = Counter(e.uuid for e in fake.events)
        assert len(counts) == 4000 and max(counts.values()) == 1


OPEN_AT = """
import sys, time
from pathlib import Path
from posthog_client._delivery.spool import Spool
start = float(sys.argv[2])
while time.time() < start:
    pass
spool = Spool(Path(sys.argv[1]), "fingerprint", 30.0)
spool.write("v1", None, "2026-01-01T00:00:00+00:00", 0, [b"{}"], [sys.argv[3]], 0.0)
print(len(spool.moved_aside))
"""


def test_processes_creating_the_spool_at_the_same_moment_all_use_it(tmp_path: Path) -> None:
    """Workers starting together open a spool that does not exist yet: none of them may take
    the others' file for a foreign one (and move it aside), nor fail on the moment another
    holds it to switch it to write-ahead logging."""
    for trial in range(3):
        path = tmp_path / f"spool-{trial}.sqlite3"
        start = time.time() + 0.5
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, str(path), str(start), f"p{i}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(6)
        ]
        for process in processes:
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0 and out.strip() == "0", err
        assert not [p for p in tmp_path.iterdir() if ".bad-" in p.name]
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM batches").fetchone() == (6,)


def test_a_healthy_posthog_never_touches_the_disk(tmp_path: Path, fake: FakePostHog) -> None:
    spool = tmp_path / "spool.sqlite3"
    client = fake.client(spool_path=spool)
    for i in range(2000):
        client.capture("u1", "e", {"i": i})
    assert client.flush(timeout=10)
    client.shutdown(timeout=2)
    assert not spool.exists()
    assert client.stats().spooled == 0 and len(fake.events) == 2000


def test_capture_does_the_same_work_with_a_spool_configured(tmp_path: Path) -> None:
    """The spool costs capture() nothing: the caller's thread makes the same function calls
    with ``spool_path`` set as without (counted, not timed; within 5%: whether a call wakes
    the consumer depends on how far it has got, a few calls either way)."""

    def calls_per_capture(**options: Any) -> int:
        with FakePostHog() as fake:
            client = fake.client(flush_at=1000, **options)
            client.capture("u0", "warm up", {"i": 0})  # starts the consumer
            count = 0

            def profile(frame: Any, event: str, arg: Any) -> None:
                nonlocal count
                if event in ("call", "c_call"):
                    count += 1

            sys.setprofile(profile)
            try:
                for i in range(50):
                    client.capture("u1", "e", {"i": i, "plan": "pro"}, groups={"company": "c"})
            finally:
                sys.setprofile(None)
            client.shutdown(timeout=2)
            return count

    plain, spooled = calls_per_capture(), calls_per_capture(spool_path=tmp_path / "spool.sqlite3")
    assert spooled <= plain * 1.05, (spooled, plain)
    assert not (tmp_path / "spool.sqlite3").exists()


def test_the_spool_file_is_private_and_holds_no_key(tmp_path: Path, fake: FakePostHog) -> None:
    spool = tmp_path / "spool.sqlite3"
    fake.fail(status=503, times=None)
    client = fake.client(spool_path=spool, api_key="phc_SECRETKEY123", retry_base_delay=0.05)
    client.capture("u1", "e")
    wait_until(lambda: spooled_events(spool) == 1, 20.0, every=0.05)
    assert stat.S_IMODE(os.stat(spool).st_mode) == 0o600
    client.shutdown(timeout=1)
    for path in tmp_path.iterdir():
        assert b"SECRETKEY123" not in path.read_bytes()
    stats = client.stats()
    assert stats.spooled == 1 and stats.pending == 0


def test_a_corrupt_or_foreign_file_is_moved_aside(tmp_path: Path, fake: FakePostHog) -> None:
    spool = tmp_path / "spool.sqlite3"
    spool.write_bytes(b"this is not a database" * 100)
    fake.fail(status=503, times=None)
    client = fake.client(spool_path=spool, retry_base_delay=0.05)
    client.capture("u1", "e")
    wait_until(lambda: spooled_events(spool) == 1, 20.0, every=0.05)
    assert [p.name for p in tmp_path.iterdir() if ".bad-" in p.name]
    client.shutdown(timeout=1)
    # a file another project wrote is not replayed with this project's key
    other = Spool(spool, fingerprint("https://elsewhere.example", "phc_other"), 10)
    assert other.lease(time.time() + 3600) is None  # moved aside, a new empty file instead
    other.close()


def test_a_full_disk_keeps_events_in_memory_and_counts_it(
    tmp_path: Path, fake: FakePostHog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Spool, "write", full)
    fake.fail(status=503, times=2)
    client = fake.client(spool_path=tmp_path / "spool.sqlite3", retry_base_delay=0.05)
    uid = client.capture("u1", "e")
    assert client.flush(timeout=10)  # retried from memory
    assert [e.uuid for e in fake.events] == [uid]
    assert client.stats().spool_errors >= 1


def test_the_spool_bounds_drop_the_oldest_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3", "owner", 10)
    big = [json.dumps({"uuid": f"u{i}", "data": "x" * 600_000}).encode() for i in range(3)]
    for i, event in enumerate(big):
        spool.write("v1", None, "", 1, [event], [f"u{i}"], 0)
    removed = spool.prune(max_bytes=1024 * 1024, max_age=3600, now=time.time())
    assert [reason for reason, _ in removed] == ["spool_full", "spool_full"]
    assert [json.loads(e[0])["uuid"] for _, e in removed] == ["u0", "u1"]  # oldest first
    removed = spool.prune(max_bytes=1 << 30, max_age=3600, now=time.time() + 7200)
    assert [reason for reason, _ in removed] == ["spool_expired"]
    assert spool.size() == (0, 0)
    spool.close()


def test_rows_are_leased_to_one_process_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    first, second = Spool(path, "owner", 30), Spool(path, "owner", 30)
    first.write("v1", "r", "c", 1, [b'{"uuid":"a"}'], ["a"], 0)
    now = time.time()
    row = first.lease(now)
    assert row is not None and row.events == [b'{"uuid":"a"}'] and row.uuids == ["a"]
    assert second.lease(now) is None  # leased
    assert second.lease(now + 31) is not None  # the lease ran out (a dead process)
    first.close()
    second.close()


def test_doctor_checks_a_spool(tmp_path: Path) -> None:
    import io

    from posthog_client._cli.main import main

    path = tmp_path / "s.sqlite3"
    spool = Spool(path, "owner", 10)
    spool.write("v1", None, "", 1, [b'{"uuid":"a"}'], ["a"], 0)
    spool.close()
    out, fake = io.StringIO(), FakePostHog()  # the doctor's other checks ask the fake
    env = {"POSTHOG_API_KEY": fake.api_key, "POSTHOG_HOST": fake.host}
    main(["doctor", "--spool", str(path)], env=env, stdout=out, stderr=out, session=fake.session())
    assert f"Spool {path}: 1 event(s)" in out.getvalue()
