"""Process life: fork (gunicorn --preload, Celery prefork), gevent, and interpreter exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest
from waiting import wait_child

from posthog_client.testing import FakePostHog

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork with threads (3.12+)


@pytest.fixture
def served(fake: FakePostHog) -> Iterator[str]:
    with fake.serve() as url:
        yield url


def _in_child(body: object) -> None:
    try:
        ok = body()  # type: ignore[operator]
        os._exit(0 if ok else 1)
    except BaseException:
        os._exit(2)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_parent_and_child_each_deliver_their_own_events(
    fake: FakePostHog, served: str
) -> None:
    client = fake.client(host=served, session=None, flush_interval=60)
    client.capture("parent", "before fork")  # queued, not yet sent: the parent's to deliver
    pid = os.fork()
    if pid == 0:

        def child() -> bool:
            client.capture("child", "in child")
            return client.flush(timeout=10) and client.stats().sent == 1

        _in_child(child)
    assert wait_child(pid) == 0
    client.capture("parent", "after fork")
    assert client.flush(timeout=10)
    assert sorted(fake.events.names()) == ["after fork", "before fork", "in child"]
    assert len({e.uuid for e in fake.events}) == 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_while_another_thread_holds_our_locks_does_not_deadlock(
    fake: FakePostHog, served: str
) -> None:
    import posthog_client

    fake.set_flag("beta")
    client = fake.client(host=served, session=None)
    client.capture("parent", "warm up")
    client.flush(timeout=5)
    consumer = client._consumer
    held, release = threading.Event(), threading.Event()

    client.feature_enabled("beta", "u1")
    resolver = client._flags.resolver

    def hold() -> None:
        with (
            consumer._lock,
            consumer._sync_lock,
            posthog_client._default_lock,
            resolver.events._lock,
        ):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(5)
    pid = os.fork()
    if pid == 0:

        def child() -> bool:
            client.capture("child", "from child")
            client.feature_enabled("beta", "child")  # a flag_called event, past the held lock
            return client.flush(timeout=10) and posthog_client.get_client() is None

        _in_child(child)
    release.set()
    holder.join(5)
    assert wait_child(pid) == 0
    names = fake.events.names()
    assert names[0] == "warm up" and "from child" in names
    assert "child" in {e.distinct_id for e in fake.events.named("$feature_flag_called")}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_keeps_flag_definitions_and_polls_on_its_own(
    fake: FakePostHog, served: str
) -> None:
    fake.set_flag("beta")
    client = fake.client(host=served, session=None, poll_interval=60)
    assert client.load_feature_flags()
    pid = os.fork()
    if pid == 0:

        def child() -> bool:
            local = client.get_feature_flag(
                "beta", "u1", only_evaluate_locally=True, send_feature_flag_events=False
            )
            local = local is True
            return local and client.load_feature_flags()

        _in_child(child)
    assert wait_child(pid) == 0
    paths = [r.path for r in fake.requests]
    # The parent: the poller's first fetch, and load_feature_flags() fetches again when that one
    # had already ended; then the child's own, with the ETag it inherited.
    assert paths in (["/flags/definitions"] * 2, ["/flags/definitions"] * 3)
    assert fake.requests[-1].header("If-None-Match") == fake.definitions_etag


def _run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_background_threads_import_nothing() -> None:
    """A fork while another thread imports a module leaves the child that module half
    imported for good (gunicorn --preload forks right after the app made its client; uWSGI's
    C-level fork runs no hooks to wait). So every module the SDK's threads need is imported
    where the client is made: an audit hook sees every import, and none may come from our
    threads, through sending, retrying (a Retry-After date), spooling, a name lookup,
    enrichment on the consumer thread, and a fleet's leader and follower."""
    code = """
        import os, sys, tempfile, threading, time
        seen = set()
        def hook(event, args):
            if event == "import" and threading.current_thread().name.startswith("posthog_client"):
                seen.add((threading.current_thread().name, args[0]))
        sys.addaudithook(hook)
        import posthog_client
        from posthog_client.testing import FakePostHog
        fake = FakePostHog()
        fake.set_flag("beta", rollout=50)
        scratch = tempfile.mkdtemp()
        store = f"file://{scratch}/store"
        with fake.serve() as url:
            keyed = posthog_client.Client(
                "phc_test", host=url.replace("127.0.0.1", "localhost"), flush_at=1,
                personal_api_key="phx_test", spool_path=os.path.join(scratch, "spool.db"),
            )
            fake.fail(retry_after="Wed, 21 Oct 2015 07:28:00 GMT", times=2)
            keyed.capture("u1", "retried")
            keyed.capture("u1", "enriched", send_feature_flags=True)
            keyless = posthog_client.Client("phc_test", host=url)
            keyless.capture("u2", "enriched remotely", send_feature_flags=True)
            leader = posthog_client.Client(
                "phc_test", host=url, personal_api_key="phx_test", definitions_store=store
            )
            follower = posthog_client.Client("phc_test", host=url, definitions_store=store)
            deadline = time.monotonic() + 20
            while not follower.stats().flags.loaded and time.monotonic() < deadline:
                time.sleep(0.05)
            assert follower.feature_enabled("beta", "u1") is not None
            # Delivered first: a shutdown during the keyed client's 503 spills its events to the
            # spool, and it then rightly reports them as not delivered by this process.
            assert len(fake.wait_for_events(3, timeout=20)) == 3
            for client in (keyed, keyless, leader, follower):
                assert client.shutdown(timeout=10)
        print(sorted(seen))
    """
    done = _run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_delivery_works_under_gevent_monkey_patching() -> None:
    pytest.importorskip("gevent")
    result = _run_python(
        """
        from gevent import monkey
        monkey.patch_all()
        from posthog_client.testing import FakePostHog

        with FakePostHog() as fake:
            client = fake.client()
            for i in range(500):
                client.capture("u1", "e", {"i": i})
            assert client.flush(timeout=10)
            with fake.serve() as url:
                real = fake.client(host=url, session=None)
                real.capture("u1", "over a socket")
                assert real.flush(timeout=10)
            print(len(fake.events), client.stats().sent)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["501", "500"]


def test_exit_is_bounded_and_reports_what_was_lost() -> None:
    result = _run_python(
        """
        import logging, socket
        logging.basicConfig(level=logging.WARNING)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)                     # a black hole: accepts, never answers
        from posthog_client import Client
        client = Client("phc_x", host=f"http://127.0.0.1:{sock.getsockname()[1]}", exit_timeout=1)
        for i in range(5):
            client.capture("u1", "e")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "5 event(s) could not be delivered" in result.stderr


def test_exit_is_instant_when_nothing_is_pending() -> None:
    started = time.monotonic()
    result = _run_python(
        """
        from posthog_client.testing import FakePostHog
        fake = FakePostHog()
        client = fake.client(exit_timeout=30)
        client.capture("u1", "e")
        client.flush()
        """
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10  # nowhere near the 30 s budget


_UWSGI_EXIT = textwrap.dedent(
    """
    import ctypes, logging, sys, types
    logging.basicConfig(level=logging.WARNING)
    sys.modules["uwsgi"] = types.SimpleNamespace(worker_id=lambda: 1)  # as in a uWSGI worker
    from posthog_client import Client
    client = Client("phc_x", host=sys.argv[1], flush_interval=30, exit_timeout=5)
    client.capture("u1", "served")
    def stop_brutally():  # uWSGI's end_me(): the C exit(), and no Python atexit after it
        ctypes.CDLL(None).exit(0)
    """
)


def test_a_c_level_exit_in_a_uwsgi_worker_still_flushes(fake: FakePostHog, served: str) -> None:
    result = _run_python(_UWSGI_EXIT + "stop_brutally()\n", served)
    assert result.returncode == 0, result.stderr
    assert [e.name for e in fake.events] == ["served"]


def test_a_c_level_exit_inside_the_sdk_skips_the_flush_and_says_so(
    fake: FakePostHog, served: str
) -> None:
    # the signal interrupted the SDK itself (it may hold one of its locks): no flush, a warning
    inside = "g = {'__name__': 'posthog_client._x', 'stop': stop_brutally}\n"
    inside += "exec('def f(): stop()', g)\ng['f']()\n"
    result = _run_python(_UWSGI_EXIT + inside, served)
    assert result.returncode == 0, result.stderr
    assert "uWSGI stopped this worker inside the SDK" in result.stderr
    assert list(fake.events) == []


def test_outside_uwsgi_nothing_is_registered_with_the_c_library() -> None:
    from posthog_client._runtime import lifecycle

    assert "uwsgi" not in sys.modules
    assert lifecycle._c_exit_hook is None  # Python's atexit is the only exit hook
