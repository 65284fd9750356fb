"""Real process models: gunicorn ``--preload``, uWSGI (app loaded in the master, its default), and
C-level forks, against the loopback fake PostHog: events arrive exactly once, and a flag change
reaches every worker within two poll intervals."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from servers import get, wsgi_server
from waiting import wait_child, wait_until

from posthog_client import Client
from posthog_client.testing import FakePostHog

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # fork with threads (3.12+)
]

POLL = 0.5  # the app's poll_interval: a flag change must reach every worker within 2 x POLL

APP = """
import json, os, time
from urllib.parse import parse_qs
import posthog_client

client = posthog_client.Client(
    "phc_test",
    host=os.environ["FAKE_URL"],
    personal_api_key="phx_test",
    poll_interval=float(os.environ["POLL"]),
    flush_interval=float(os.environ.get("FLUSH_INTERVAL", "0.05")),
    definitions_store=os.environ.get("STORE") or None,
)
client.load_feature_flags()  # in the master, before the workers are forked


def application(environ, start_response):
    if environ["PATH_INFO"] == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    user = query.get("user", ["anon"])[0]
    if "mark" in query:  # tells the test this request is running
        open(query["mark"][0], "w").close()
    time.sleep(float(query.get("sleep", ["0"])[0]))
    on = client.feature_enabled("kill-switch", user, only_evaluate_locally=True,
                                send_feature_flag_events=False)
    uid = client.capture(user, "request served", {"pid": os.getpid()})
    body = json.dumps({"pid": os.getpid(), "flag": on, "uuid": uid}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""


@pytest.fixture
def fake() -> Iterator[FakePostHog]:
    with FakePostHog() as server:
        server.set_flag("kill-switch")
        yield server


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP)
    return tmp_path


def _hit(port: int, user: str, sleep: float = 0.0) -> dict[str, object]:
    answer: dict[str, object] = json.loads(get(port, f"/?user={user}&sleep={sleep}"))
    return answer


def _hit_both_workers(port: int, tag: str) -> list[dict[str, object]]:
    """Two slow requests at once: each sync worker takes one."""
    answers: list[dict[str, object]] = []

    def one(i: int) -> None:
        answers.append(_hit(port, f"{tag}-{i}", sleep=0.3))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return answers


@pytest.mark.parametrize("kind", ["gunicorn", "uwsgi"])
def test_workers_deliver_every_event_once_and_see_flag_changes(
    kind: str, fake: FakePostHog, app_dir: Path
) -> None:
    with fake.serve() as url:
        env = {"FAKE_URL": url, "POLL": str(POLL)}
        with wsgi_server(kind, app_dir, env=env, log=app_dir / "server.log") as (_, port):
            answers = [a for round_ in range(3) for a in _hit_both_workers(port, f"r{round_}")]
            workers = {a["pid"] for a in answers}
            assert len(workers) == 2, answers  # both workers served
            assert all(a["flag"] is True for a in answers)
            fake.set_flag("kill-switch", active=False)  # the kill switch
            changed_at = time.monotonic()
            seen_off: dict[object, float] = {}
            while len(seen_off) < 2 and time.monotonic() - changed_at < 2 * POLL + 1.5:
                for answer in _hit_both_workers(port, "after"):
                    answers.append(answer)
                    if answer["flag"] is False:
                        seen_off.setdefault(answer["pid"], time.monotonic() - changed_at)
            assert set(seen_off) == workers, (seen_off, (app_dir / "server.log").read_text())
            assert max(seen_off.values()) <= 2 * POLL + 0.5  # two poll intervals (+ request time)
        # the server stopped: each worker flushed at exit
        sent = Counter(str(a["uuid"]) for a in answers)
        fake.wait_for_events(len(sent), timeout=10)
        received = Counter(e.uuid for e in fake.events.named("request served"))
        assert received == sent  # every event exactly once


@pytest.mark.parametrize("kind", ["gunicorn", "uwsgi"])
def test_workers_share_one_poll_through_a_store_and_see_flag_changes(
    kind: str, fake: FakePostHog, app_dir: Path, redis_port: int
) -> None:
    """The master and both workers on one Redis store: one definitions request per interval in
    all (three standalone pollers would make three), and the kill switch still reaches every
    worker within two intervals."""
    store = f"redis://127.0.0.1:{redis_port}/0?prefix=pm-{kind}-{os.getpid()}"
    with fake.serve() as url:
        env = {"FAKE_URL": url, "POLL": str(POLL), "STORE": store}
        with wsgi_server(kind, app_dir, env=env, log=app_dir / "server.log") as (_, port):
            answers = [a for round_ in range(2) for a in _hit_both_workers(port, f"r{round_}")]
            workers = {a["pid"] for a in answers}
            assert len(workers) == 2 and all(a["flag"] is True for a in answers), answers
            before = len(fake.requests_to("/flags/definitions"))
            time.sleep(4 * POLL)
            made = len(fake.requests_to("/flags/definitions")) - before
            assert 2 <= made <= int(4 / 0.9) + 1, made
            fake.set_flag("kill-switch", active=False)
            changed_at = time.monotonic()
            seen_off: dict[object, float] = {}
            while len(seen_off) < 2 and time.monotonic() - changed_at < 2 * POLL + 1.5:
                for answer in _hit_both_workers(port, "after"):
                    if answer["flag"] is False:
                        seen_off.setdefault(answer["pid"], time.monotonic() - changed_at)
            assert set(seen_off) == workers, (seen_off, (app_dir / "server.log").read_text())
            assert max(seen_off.values()) <= 2 * POLL + 0.5


@pytest.mark.parametrize("mode", ["app in the master", "--lazy-apps"])
def test_a_uwsgi_worker_stopped_mid_request_still_delivers_what_it_served(
    mode: str, fake: FakePostHog, app_dir: Path
) -> None:
    """uWSGI skips Python's atexit in a worker that is busy when it is stopped brutally (SIGTERM
    with --die-on-term): the events of the requests it had already served still arrive, whether
    the app (and the SDK) was loaded in the master or in the worker."""
    extra = [mode] if mode.startswith("--") else []
    mark = app_dir / "slow-request-started"
    with fake.serve() as url:
        env = {"FAKE_URL": url, "POLL": str(POLL), "FLUSH_INTERVAL": "30"}  # nothing sent early
        log = app_dir / "server.log"
        with wsgi_server("uwsgi", app_dir, workers=1, env=env, extra=extra, log=log) as (_, port):
            served = _hit(port, "served")

            def slow() -> None:
                with contextlib.suppress(OSError):  # the worker dies under it
                    get(port, f"/?user=slow&sleep=30&mark={mark}")

            threading.Thread(target=slow, daemon=True).start()
            wait_until(mark.exists, 10)  # the only worker is busy: now stop the server
        fake.wait_for_events(1, timeout=10)
        received = [e.uuid for e in fake.events.named("request served")]
        assert received == [served["uuid"]], (app_dir / "server.log").read_text()


def test_a_c_level_fork_resets_the_client_in_the_child(tmp_path: Path) -> None:
    """What uWSGI does (it runs no at-fork hook: checked with 2.0.31): fork() from C, with the
    GIL held; the child's copy of the consumer thread object still says it is alive, but the
    thread does not exist, and `random` was not reseeded. The fake runs in its own process: the
    threads an in-process server starts per connection would hold CPython's own thread-start
    lock at the fork now and then, which no library can repair in a child without hooks."""
    server = subprocess.Popen(
        [sys.executable, "-m", "posthog_client.testing", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" listening on ")[1].split()[0]
        client = Client("phc_test", host=url, personal_api_key="phx_test", poll_interval=POLL)
        assert client.load_feature_flags()
        client.capture("parent", "warm up")  # the parent's consumer thread is running
        assert client.flush(timeout=5)
        libc = ctypes.PyDLL(None)  # keeps the GIL held through the call, as C code that forks
        libc.fork.restype = ctypes.c_int
        pid = libc.fork()
        if pid == 0:  # the child: no at-fork hook has run
            try:
                client.capture("child", "from a C-level fork")
                ok = client.flush(timeout=10)
                os._exit(0 if ok else 1)
            except BaseException:
                os._exit(2)
        assert wait_child(pid) == 0
        client.capture("parent", "still fine")  # the parent's first random draw after the fork
        assert client.flush(timeout=5)
        events = {e["event"]: e for e in requests.get(f"{url}/_fake/events", timeout=5).json()}
        assert set(events) == {"warm up", "from a C-level fork", "still fine"}
        random_bits = {uuid.UUID(events[name]["uuid"]).int & (1 << 62) - 1 for name in events}
        assert len(random_bits) == 3  # the child reseeded: no uuid bits shared with the parent
        client.shutdown(timeout=5)
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_a_forked_child_keeps_polling_for_definitions(fake: FakePostHog) -> None:
    """Forked after the definitions were loaded: the child polls on its own, so turning a flag
    off on the server reaches it (it used to see the old value forever)."""
    with fake.serve() as url:
        client = fake.client(host=url, session=None, poll_interval=POLL)
        assert client.load_feature_flags()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(write)
                os.read(read, 1)  # the parent turned the flag off
                deadline = time.monotonic() + 2 * POLL + 1
                while time.monotonic() < deadline:
                    value = client.get_feature_flag(
                        "kill-switch",
                        "u1",
                        only_evaluate_locally=True,
                        send_feature_flag_events=False,
                    )
                    if value is False:
                        os._exit(0)
                    time.sleep(0.05)
                os._exit(1)
            except BaseException:
                os._exit(2)
        os.close(read)
        fake.set_flag("kill-switch", active=False)
        os.write(write, b"x")
        os.close(write)
        assert wait_child(pid) == 0
