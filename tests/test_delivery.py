"""Fault injection: the delivery layer never loses an event silently and never hurts the host."""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from posthog_client import Client
from posthog_client.testing import FakePostHog, FakeResponse


def assert_invariant(client: Client) -> None:
    stats = client.stats()
    assert stats.accepted == stats.sent + stats.dropped_total + stats.unknown + stats.pending, stats


def uuids(fake: FakePostHog) -> collections.Counter[str]:
    return collections.Counter(e.uuid for e in fake.events)


def test_thirty_percent_of_posts_failing_loses_and_duplicates_nothing(fake: FakePostHog) -> None:
    calls = iter(range(10**9))

    def flaky(request: Any) -> FakeResponse | None:
        if next(calls) % 10 in (1, 4, 7):  # 30 % of requests: recorded like any answer
            return FakeResponse.json(500, {"detail": "flaky"})
        return None

    fake.respond_with(flaky, path="capture")
    client = fake.client(flush_at=50)
    sent = {client.capture(f"user-{i % 7}", "order", {"i": i}) for i in range(2000)}
    assert client.flush(timeout=30)
    counts = uuids(fake)
    assert set(counts) == sent and max(counts.values()) == 1
    statuses = collections.Counter(r.status for r in fake.requests)
    assert statuses[500] >= 10
    assert client.stats().dropped_total == 0
    assert_invariant(client)


def test_413_splits_batches_until_they_fit(fake: FakePostHog) -> None:
    fake.reject_bodies_over(64 * 1024)
    client = fake.client(flush_at=1000, gzip=False)
    sent = {client.capture("u1", "blob", {"data": f"{i:06d}" + "x" * 1018}) for i in range(2000)}
    huge = client.capture("u1", "huge", {"items": [f"{i:07d}" for i in range(230_000)]})
    assert client.flush(timeout=30) is False  # all delivered but the one too big
    counts = uuids(fake)
    assert set(counts) == sent and max(counts.values()) == 1
    assert huge not in counts
    stats = client.stats()
    assert stats.dropped == {**stats.dropped, "oversize": 1} and stats.dropped_total == 1
    assert_invariant(client)


def test_a_single_event_too_big_for_the_server_is_dropped_alone(fake: FakePostHog) -> None:
    fake.reject_bodies_over(64 * 1024)
    client = fake.client(flush_at=10, gzip=False)
    small = client.capture("u1", "small")
    big = client.capture("u1", "big", {"text": "y" * (2 * 1024 * 1024)})
    assert client.flush(timeout=10) is False
    assert set(uuids(fake)) == {small}
    assert client.stats().dropped["oversize"] == 1 and big is not None


def test_oversize_events_are_trimmed_before_being_dropped(fake: FakePostHog) -> None:
    client = fake.client()
    client.capture("u1", "long", {"text": "z" * (2 * 1024 * 1024), "keep": "short"})
    assert client.flush(timeout=10)
    [event] = fake.events
    props = event.properties
    assert props["keep"] == "short" and props["$posthog_client_truncated"] is True
    assert props["text"].endswith("[truncated by posthog-client]")
    assert len(props["text"]) < 70 * 1024


def test_server_down_for_a_while_then_back(fake: FakePostHog) -> None:
    back_at = time.monotonic() + 1.2

    def outage(request: Any) -> FakeResponse | None:
        if time.monotonic() < back_at:  # down: connections refused, then 503s from a proxy
            if time.monotonic() < back_at - 0.6:
                return FakeResponse(0, error="connection")
            return FakeResponse.json(503, {})
        return None  # back: answered as usual

    fake.respond_with(outage, path="capture")
    client = fake.client(flush_at=10, retry_base_delay=0.2, retry_max_delay=2.0)
    sent = set()
    for round_ in range(5):
        sent |= {client.capture("u1", "e", {"r": round_, "i": i}) for i in range(25)}
        time.sleep(0.1)  # events keep arriving during the outage
    assert client.flush(timeout=15)
    counts = uuids(fake)
    assert set(counts) == sent and max(counts.values()) == 1
    assert client.stats().dropped_total == 0
    assert any(r.status in (0, 503) for r in fake.capture_requests)


def test_retry_does_not_block_newer_batches_forever(fake: FakePostHog) -> None:
    fake.fail(status=503, times=None)
    client = fake.client(max_retries=2)
    client.capture("u1", "first")
    assert client.flush(timeout=5) is False  # given up: retries exhausted
    fake.clear_faults()
    client.capture("u1", "second")
    assert client.flush(timeout=5)
    assert fake.events.names() == ["second"]
    assert client.stats().dropped["retries_exhausted"] == 1


@pytest.fixture
def gate(fake: FakePostHog) -> Iterator[threading.Event]:
    """Hold the first /batch/ request inside the server until the test opens the gate."""
    entered, release = threading.Event(), threading.Event()

    def held(request: Any) -> None:
        if not entered.is_set():
            entered.set()
            release.wait(30)
        # None: answered as usual

    fake.respond_with(held, path="capture")
    release.entered = entered  # type: ignore[attr-defined]
    yield release
    release.set()


def test_burst_into_a_full_queue_never_blocks_and_warns_a_handful_of_times(
    fake: FakePostHog, gate: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    client = fake.client(max_queue_size=10_000, flush_at=100)
    client.capture("u1", "first")
    assert gate.entered.wait(5)  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        # The consumer is stuck inside a request: if capture() waited for it, this would hang.
        accepted = sum(client.capture("u1", "burst") is not None for _ in range(49_999))
        gate.set()
        assert client.flush(timeout=30)
    assert accepted == 9_999
    stats = client.stats()
    assert stats.dropped["queue_full"] == 40_000
    assert stats.sent == 10_000 and len(fake.events) == 10_000
    assert len([r for r in caplog.records if r.name == "posthog_client"]) <= 3
    assert_invariant(client)


def test_stats_invariant_holds_under_mixed_faults(fake: FakePostHog) -> None:
    fake.fail(status=500, times=3)
    fake.fail(status=400, times=1)
    fake.fail_with("timeout", times=2)
    client = fake.client(flush_at=5, max_queue_size=50, max_retries=1)
    for i in range(200):
        client.capture("u1", "e", {"i": i})
    client.flush(timeout=10)
    assert_invariant(client)
    assert client.stats().pending == 0


# -- deadlines ---------------------------------------------------------------------------------


@pytest.fixture
def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def black_hole_url() -> Iterator[str]:
    """Accepts connections (the kernel does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def served(fake: FakePostHog) -> Iterator[str]:
    with fake.serve() as url:
        yield url


@pytest.mark.parametrize("mode", ["refused", "black_hole", "500_forever", "trickle"])
def test_flush_and_shutdown_return_within_their_deadline(
    mode: str, fake: FakePostHog, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    if mode == "refused":
        url = request.getfixturevalue("refused_url")
    elif mode == "black_hole":
        url = request.getfixturevalue("black_hole_url")
    else:
        url = request.getfixturevalue("served")
        if mode == "500_forever":
            fake.fail(status=500, times=None)
        else:
            fake.trickle(0.5)
    client = Client(fake.api_key, host=url)  # default settings: 15 s requests, 1-2-4 s backoff
    for i in range(20):
        client.capture("u1", "e", {"i": i})
    started = time.monotonic()
    assert client.flush(timeout=0.5) is False
    assert time.monotonic() - started < 1.5  # (slack for a loaded machine)
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        started = time.monotonic()
        assert client.shutdown(timeout=0.5) is False
        assert time.monotonic() - started < 1.5
    stats = client.stats()  # everything is accounted for when shutdown() returns
    assert stats.pending == 0 and stats.sent == 0
    assert stats.dropped_total + stats.unknown == 20
    if mode in ("refused", "500_forever"):  # waiting for a retry: dropped, given to on_error
        # (or, when the deadline fell during an attempt, as on a busy machine: all unknown)
        assert (stats.dropped["shutdown_deadline"], stats.unknown) in ((20, 0), (0, 20))
    else:  # in a request nobody answered (unless it had not gone out yet): PostHog may have them
        assert stats.unknown + stats.dropped["shutdown_deadline"] == 20
    lines = [r.getMessage() for r in caplog.records if "shutdown deadline" in r.getMessage()]
    assert len(lines) == 1 and "20 event(s)" in lines[0]


def test_trickling_server_cannot_hold_a_request_past_its_deadline(
    fake: FakePostHog, served: str
) -> None:
    fake.trickle(0.5, times=1)
    client = fake.client(host=served, session=None, timeout=1.0)
    client.capture("u1", "e")
    started = time.monotonic()
    assert client.flush(timeout=10)
    assert time.monotonic() - started < 5
    assert len(fake.capture_requests) == 2 and len(fake.events) == 1
    assert "within 1 s" in (client.stats().last_error or "")


# -- hooks ---------------------------------------------------------------------------------------


def test_before_send_chain_can_change_and_drop(fake: FakePostHog) -> None:
    def redact(event: dict[str, Any]) -> dict[str, Any]:
        event["properties"].pop("email", None)
        return event

    def drop_internal(event: dict[str, Any]) -> dict[str, Any] | None:
        return None if event["distinct_id"].startswith("internal-") else event

    client = fake.client(before_send=[redact, drop_internal])
    assert client.capture("u1", "e", {"email": "a@b.c", "plan": "pro"}) is not None
    assert client.capture("internal-1", "e") is None
    client.flush()
    [event] = fake.events
    assert "email" not in event.properties and event.properties["plan"] == "pro"
    assert event.properties["$lib"] == "posthog-client"  # hooks see the enriched event
    assert client.stats().dropped["before_send"] == 1
    assert_invariant(client)


@pytest.mark.parametrize("bad", [lambda e: 1 / 0, lambda e: "not an event", lambda e: {}])
def test_failing_before_send_fails_closed(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture, bad: Any
) -> None:
    client = fake.client(before_send=bad)
    assert client.capture("u1", "secret stuff") is None
    client.flush()
    assert fake.events == [] and client.stats().dropped["before_send"] == 1
    assert "dropped" in caplog.text


def test_on_error_gets_the_failed_events_and_is_guarded(fake: FakePostHog) -> None:
    seen: list[tuple[Exception, list[dict[str, Any]]]] = []

    def on_error(exc: Exception, events: list[dict[str, Any]]) -> None:
        seen.append((exc, events))
        raise RuntimeError("user callback bug")

    fake.fail(status=400)
    client = fake.client(on_error=on_error)
    uid = client.capture("u1", "e")
    assert client.flush(timeout=5) is False
    [(exc, events)] = seen
    assert getattr(exc, "status", None) == 400 and "rejected_4xx" in str(exc)
    assert [e["uuid"] for e in events] == [uid]
    assert "api_key" not in str(events)
