"""Capture v1 (the default): per-event verdicts, statuses, retries of only the events PostHog
asks for again, and what reaches ``on_error`` and ``stats()``."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from posthog_client import APIError, Client
from posthog_client.testing import FakePostHog


@pytest.fixture
def errors() -> list[tuple[Any, list[dict[str, Any]]]]:
    return []


def v1_client(fake: FakePostHog, errors: list[Any], **options: Any) -> Client:
    return fake.client(on_error=lambda exc, events: errors.append((exc, events)), **options)


def invariant(client: Client) -> None:
    stats = client.stats()
    assert stats.accepted == stats.sent + stats.dropped_total + stats.unknown + stats.pending


def test_only_the_events_marked_retry_are_sent_again(fake: FakePostHog, errors: list[Any]) -> None:
    client = v1_client(fake, errors, flush_at=5)
    uids = [client.capture("u1", "e", {"i": i}) for i in range(5)]
    fake.verdict("retry", uuids=uids[1:3], times=1)
    assert client.flush(timeout=5)
    first, second = fake.capture_requests
    assert [e["uuid"] for e in second.json["batch"]] == uids[1:3]  # only those, same uuids
    assert second.header("PostHog-Request-Id") == first.header("PostHog-Request-Id")
    assert second.json["created_at"] == first.json["created_at"]
    assert (first.header("PostHog-Attempt"), second.header("PostHog-Attempt")) == ("1", "2")
    assert sorted(e.uuid for e in fake.events) == sorted(uids)  # each stored once
    stats = client.stats()
    assert (stats.sent, stats.retried, stats.dropped_total, stats.requests) == (5, 2, 0, 2)
    assert errors == []


def test_dropped_events_reach_on_error_with_their_uuids_and_the_request_id(
    fake: FakePostHog, errors: list[Any]
) -> None:
    client = v1_client(fake, errors, flush_at=4)
    uids = [client.capture("u1", "e", {"i": i}) for i in range(4)]
    fake.verdict("drop", uuids=[uids[0]], details="event too old")
    fake.verdict("limited", uuids=[uids[1]])
    fake.verdict("warning", uuids=[uids[2]], details="property coerced")
    assert client.flush(timeout=5) is False
    [request] = fake.capture_requests
    assert sorted(e.uuid for e in fake.events) == sorted(uids[2:])  # warning is stored
    [(exc, events)] = errors
    assert isinstance(exc, APIError) and exc.reason == "dropped_by_server"
    assert exc.status == 200 and exc.request_id == request.header("PostHog-Request-Id")
    assert sorted(exc.uuids) == sorted(uids[:2]) and [u for u, _ in exc.drops] == exc.uuids
    assert sorted(e["uuid"] for e in events) == sorted(uids[:2])
    assert "event too old" in str(exc)
    stats = client.stats()
    assert stats.dropped["dropped_by_server"] == 2 and stats.sent == 2
    invariant(client)


def test_a_verdict_the_sdk_does_not_know_is_unknown(fake: FakePostHog, errors: list[Any]) -> None:
    client = v1_client(fake, errors)
    uid = client.capture("u1", "e")
    fake.respond_with(
        lambda request: _answer({"results": {uid: {"result": "archived"}}}), path="capture"
    )
    assert client.flush(timeout=5) is False
    assert client.stats().unknown == 1 and errors == []
    invariant(client)


def _answer(payload: Any, status: int = 200) -> Any:
    from posthog_client.testing import FakeResponse

    return FakeResponse.json(status, payload)


def test_an_unreadable_2xx_is_unknown_and_not_retried(fake: FakePostHog, errors: list[Any]) -> None:
    from posthog_client.testing import FakeResponse

    client = v1_client(fake, errors)
    client.capture("u1", "e")
    fake.respond_with(lambda request: FakeResponse(200, b"<html>ok</html>"), path="capture")
    assert client.flush(timeout=5) is False
    assert len(fake.capture_requests) == 1
    assert client.stats().unknown == 1 and errors == []


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_retryable_statuses_resend_the_whole_batch(fake: FakePostHog, status: int) -> None:
    fake.fail(status=status, times=2)
    client = fake.client(flush_at=3)
    uids = [client.capture("u1", "e") for _ in range(3)]
    assert client.flush(timeout=5)
    assert [r.status for r in fake.capture_requests] == [status, status, 200]
    ids = {r.header("PostHog-Request-Id") for r in fake.capture_requests}
    assert len(ids) == 1 and sorted(e.uuid for e in fake.events) == sorted(uids)


@pytest.mark.parametrize("status", [400, 401, 402, 415, 429])
def test_terminal_statuses_drop_the_batch(
    fake: FakePostHog, errors: list[Any], status: int
) -> None:
    fake.fail(status=status, times=None)
    client = v1_client(fake, errors)
    uid = client.capture("u1", "e")
    assert client.flush(timeout=5) is False
    assert len(fake.capture_requests) == 1
    [(exc, events)] = errors
    assert exc.status == status and exc.reason == "rejected_4xx" and exc.uuids == [uid]
    assert client.stats().dropped["rejected_4xx"] == 1


def test_retries_exhausted_reach_on_error(fake: FakePostHog, errors: list[Any]) -> None:
    client = v1_client(fake, errors, max_retries=2)
    uid = client.capture("u1", "e")
    fake.verdict("retry", times=None)
    assert client.flush(timeout=5) is False
    assert len(fake.capture_requests) == 3
    [(exc, _)] = errors
    assert exc.reason == "retries_exhausted" and exc.retry_exhausted == [uid]
    assert exc.attempts == 3
    assert client.stats().dropped["retries_exhausted"] == 1


def test_413_splits_v1_batches_too(fake: FakePostHog) -> None:
    fake.reject_bodies_over(20 * 1024)
    client = fake.client(flush_at=100, gzip=False)
    uids = {client.capture("u1", "blob", {"data": "x" * 1000}) for _ in range(60)}
    assert client.flush(timeout=10)
    assert {e.uuid for e in fake.events} == uids
    assert len({r.header("PostHog-Request-Id") for r in fake.capture_requests}) > 2


def test_the_fake_accepts_any_well_formed_key_and_records_it(fake: FakePostHog) -> None:
    for mode in ("v1", "v0"):
        client = fake.client(api_key=f"phc_other_{mode}", capture_mode=mode)
        client.capture("u1", mode)
        assert client.flush()
    assert sorted(e.api_key or "" for e in fake.events) == ["phc_other_v0", "phc_other_v1"]
    fake.reject_unknown_keys()
    client = fake.client(api_key="phc_unknown")
    client.capture("u1", "e")
    assert client.flush() is False
    assert client.stats().dropped["rejected_4xx"] == 1
    assert fake.capture_requests[-1].status == 401


def test_a_process_interrupted_during_an_outage_counts_every_event() -> None:
    """Killed (SIGINT: atexit runs) while PostHog answers 503: whatever is lost was counted."""
    code = textwrap.dedent(
        """
        import atexit, json, signal, sys
        # A shell's background job starts with SIGINT ignored, and Python keeps it so: then
        # the interrupt below would never come (seen when the suite ran in the background).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from posthog_client.testing import FakePostHog
        fake = FakePostHog()
        fake.fail(status=503, times=None)
        lost = []
        client = fake.client(exit_timeout=0.5, retry_base_delay=0.2, retry_max_delay=0.5,
                             max_retries=20, on_error=lambda e, events: lost.extend(events))
        for i in range(300):
            client.capture("u1", "e", {"i": i})
        def report():  # registered first: runs after the SDK's exit hook
            s = client.stats()
            print(json.dumps({"accepted": s.accepted, "sent": s.sent, "pending": s.pending,
                              "dropped": s.dropped_total, "unknown": s.unknown,
                              "on_error": len(lost)}), flush=True)
        atexit.register(report)
        import posthog_client._runtime.lifecycle as lifecycle  # the SDK's hook runs first
        atexit.unregister(lifecycle._at_exit); atexit.register(lifecycle._at_exit)
        print("ready", flush=True)
        import time
        time.sleep(60)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # a few failed attempts
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # show where every thread was
        process.send_signal(signal.SIGABRT)
        out, err = process.communicate(timeout=10)
        pytest.fail(f"the interrupted process did not exit; its threads:\n{err[-8000:]}")
    import json

    report = json.loads(out.strip().splitlines()[-1])
    assert report["accepted"] == 300 and report["pending"] == 0
    assert report["sent"] + report["dropped"] + report["unknown"] == 300
    assert report["dropped"] == report["on_error"] == 300
