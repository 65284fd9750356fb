"""Deadlines and accounting under faults: name lookups inside the deadline, late answers counted
as unknown (never as lost), everything counted when shutdown() returns, one exit budget per
process, and dropped clients that let go of their threads."""

from __future__ import annotations

import gc
import json
import logging
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from posthog_client import Client
from posthog_client._flags.parse import parse_definitions
from posthog_client.testing import FakePostHog

STALLED_HOST = "stalled-resolver.test"


@pytest.fixture
def stalled_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """A system resolver that hangs for one host name (until the test ends)."""
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == STALLED_HOST:
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "gave up")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield release
    release.set()


def test_a_stalled_name_lookup_is_inside_the_flags_deadline(stalled_dns: threading.Event) -> None:
    client = Client("phc_x", host=f"http://{STALLED_HOST}", flags_timeout=1)
    started = time.monotonic()
    result = client.get_feature_flag_result("beta", "u1", send_feature_flag_events=False)
    assert time.monotonic() - started < 1.6
    assert result is not None and result.value is None
    assert result.error == "connection_error"
    client.shutdown(timeout=0.5)


def test_a_stalled_name_lookup_is_a_counted_connection_error(stalled_dns: threading.Event) -> None:
    client = Client("phc_x", host=f"http://{STALLED_HOST}", timeout=0.5, max_retries=0)
    client.capture("u1", "e")
    started = time.monotonic()
    assert client.flush(timeout=5) is False
    assert time.monotonic() - started < 2
    stats = client.stats()
    assert stats.dropped["retries_exhausted"] == 1
    assert (stats.last_error or "").startswith("retries_exhausted: dns: could not look up")
    client.shutdown(timeout=0.5)


def test_a_late_answer_is_unknown_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    """The server stores the batch but answers after the request deadline, every time."""
    failures: list[Any] = []
    with FakePostHog() as fake, fake.serve() as url:
        fake.delay(1.5, times=None)
        client = fake.client(
            host=url,
            session=None,
            timeout=0.5,
            max_retries=1,
            on_error=lambda *a: failures.append(a),
        )
        uids = {client.capture("u1", "e", {"i": i}) for i in range(20)}
        assert client.flush(timeout=10) is False  # not confirmed
        stats = client.stats()
        assert stats.unknown == 20 and stats.dropped_total == 0 and stats.pending == 0
        assert failures == []  # nothing was lost: on_error is for drops
        fake.clear_faults()
        fake.wait_for_events(40, timeout=5)
        assert {e.uuid for e in fake.events} == uids  # PostHog had them all along (twice)
        client.shutdown(timeout=1)


def test_a_late_answer_then_success_counts_sent() -> None:
    with FakePostHog() as fake, fake.serve() as url:
        fake.delay(1.5, times=1)
        client = fake.client(host=url, session=None, timeout=0.5)
        client.capture("u1", "e")
        assert client.flush(timeout=10)
        stats = client.stats()
        assert (stats.sent, stats.unknown, stats.dropped_total) == (1, 0, 0)
        client.shutdown(timeout=1)


def test_shutdown_counts_everything_before_it_returns() -> None:
    """The consumer is stuck in a request when the deadline passes: nothing is left for later."""
    failures: list[Any] = []
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        client = Client(
            "phc_x", host=url, flush_at=10, on_error=lambda e, events: failures.extend(events)
        )
        for i in range(1000):
            client.capture("u1", "e", {"i": i})
        # the first batch is in flight: its connection is waiting to be accepted, and its bytes
        # (one small request) are in the socket's buffer
        assert select.select([hole], [], [], 10)[0]
        conn, _ = hole.accept()
        conn.settimeout(10)
        assert conn.recv(1, socket.MSG_PEEK)  # (shutdown's 1 s covers the rest of the write)
        assert client.shutdown(timeout=1) is False
        stats = client.stats()
        assert stats.pending == 0
        assert stats.unknown == 10  # the batch in the unanswered request
        assert stats.dropped["shutdown_deadline"] == 990 == len(failures)
        conn.close()


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_the_exit_budget_is_per_process_not_per_client() -> None:
    started = time.monotonic()
    result = _run_python(
        """
        import logging, socket
        logging.basicConfig(level=logging.WARNING)
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)                     # accepts, never answers
        from posthog_client import Client
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        clients = [Client("phc_x", host=url, exit_timeout=1.5) for _ in range(3)]
        for client in clients:
            for i in range(5):
                client.capture("u1", "e")
        """
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "15 event(s) could not be delivered before exit" in result.stderr
    assert result.stderr.count("could not be delivered") == 1  # one line for the process
    assert elapsed < 1.5 * 3  # in parallel: not 1.5 s per client


def test_deeply_nested_definitions_are_malformed_not_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakePostHog() as fake:
        fake.set_flag("beta")
        client = fake.client()
        assert client.load_feature_flags()
        nested = "[" * 100_000 + "]" * 100_000
        fake.respond_with(
            lambda request: _raw(200, '{"flags": ' + nested + "}"), path="/flags/definitions"
        )
        with caplog.at_level(logging.WARNING, logger="posthog_client"):
            assert client.load_feature_flags()  # the last good snapshot is kept
        assert "malformed (nested too deeply)" in caplog.text
        assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True


def _raw(status: int, text: str, **headers: str) -> Any:
    from posthog_client.testing import FakeResponse

    return FakeResponse(status, text.encode(), headers)


def test_definitions_that_cannot_be_evaluated_locally_are_warned_about_without_an_etag(
    caplog: pytest.LogCaptureFixture,
) -> None:
    definitions = {
        "flags": [{"key": "odd", "active": True, "filters": {"groups": "not a list"}}],
        "group_type_mapping": {},
    }
    with FakePostHog() as fake:
        fake.respond_with(
            lambda request: _raw(200, json.dumps(definitions)), path="/flags/definitions"
        )
        with caplog.at_level(logging.WARNING, logger="posthog_client"):
            client = fake.client()
            assert client.load_feature_flags()
            assert client.load_feature_flags()  # the same problems again: no second line
        lines = [r for r in caplog.records if "cannot be evaluated locally" in r.getMessage()]
        assert len(lines) == 1 and "'odd'" in lines[0].getMessage()


def test_an_on_error_callback_that_refers_to_its_client_does_not_keep_it_alive() -> None:
    class App:  # the common shape: an object owns the client and handles its errors
        def __init__(self, fake: FakePostHog) -> None:
            self.client = fake.client(flush_interval=60, on_error=self.on_error)

        def on_error(self, exc: Exception, events: list[Any]) -> None:
            self.client.stats()

    with FakePostHog() as fake:
        fake.set_flag("beta")
        app = App(fake)
        app.client.capture("u1", "last words")
        thread = app.client._consumer._thread
        poller = app.client._flags.poller
        assert thread is not None and poller is not None and poller._thread is not None
        poller_thread = poller._thread
        fake._clients.clear()
        del app, poller
        gc.collect()
        thread.join(5)
        poller_thread.join(5)
        assert not thread.is_alive() and not poller_thread.is_alive()
        assert fake.events.names() == ["last words"]


def test_a_large_download_never_holds_its_raw_json_and_snapshot_in_full_together() -> None:
    flag = {
        "active": True,
        "filters": {
            "groups": [
                {
                    "properties": [
                        {"key": "email", "value": [f"u{j}@x.com" for j in range(20)]},
                        {"key": "plan", "value": "pro", "operator": "icontains"},
                    ],
                    "rollout_percentage": 50,
                }
            ]
        },
    }
    body = json.dumps({"flags": [{**flag, "key": f"f{i}", "id": i} for i in range(1500)]})
    tracemalloc.start()
    try:
        raw = json.loads(body)
        decoded, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        snapshot = parse_definitions(raw, consume=True)
        del raw
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(snapshot.flags) == 1500
    # Without `consume` the peak is the decoded JSON plus the whole snapshot.
    assert peak < kept + 0.25 * decoded, (decoded, kept, peak)


def test_events_queued_during_a_request_are_encoded_meanwhile_and_a_flush_waits_for_both() -> None:
    """While a batch's answer is awaited, the consumer encodes the events queued behind it (up to
    a flush marker, never past one): a flush still waits for the batch in flight."""
    with FakePostHog() as fake, fake.serve() as url:
        fake.delay(0.6, times=1)
        client = fake.client(host=url, session=None, flush_at=2, flush_interval=0.05)
        client.capture("u1", "a")
        client.capture("u1", "b")  # a full batch: sent at once, its answer comes late
        deadline = time.monotonic() + 5
        while not fake.capture_requests and time.monotonic() < deadline:
            time.sleep(0.005)
        client.capture("u1", "c")  # queued while the first batch is in flight
        started = time.monotonic()
        assert client.flush(timeout=5)
        assert time.monotonic() - started > 0.3  # it waited for the late answer
        stats = client.stats()
        assert (stats.sent, stats.pending, stats.dropped_total) == (3, 0, 0)
        client.capture("u1", "d")
        assert client.flush(timeout=5)
        assert sorted(fake.events.names()) == ["a", "b", "c", "d"]
        client.shutdown(timeout=1)


def test_encoding_during_a_request_stops_at_a_marker_or_a_deferred_event() -> None:
    """What the consumer encodes while an answer is awaited never goes past a flush or stop
    marker (a flush waits for the batches outstanding when it was asked, the one in flight
    included, so the marker is handled once that batch is settled), nor past an event whose
    completion may wait (``send_feature_flags``): only captured events are taken then."""
    from posthog_client._delivery.consumer import _Flush
    from posthog_client._delivery.encoding import Deferred
    from posthog_client._events import messages

    with FakePostHog() as fake:
        client = fake.client(flush_at=10)
        consumer = client._consumer
        event = messages.capture("u1", "e", {}, None, None, 1)
        marker = _Flush()
        consumer._queue.extend([event, event, marker, event])
        consumer._pull(waiting=True)
        assert list(consumer._queue) == [marker, event]
        assert consumer._outbox.building == 2 and consumer._flushes == []
        consumer._pull()
        assert not consumer._queue and consumer._flushes == [marker]
        assert consumer._outbox.building == 1 and len(marker.waiting) == 1
        deferred = Deferred(lambda: None)
        consumer._queue.extend([event, deferred, event])
        consumer._pull(waiting=True)
        assert list(consumer._queue) == [deferred, event]
        assert consumer._outbox.building == 2
