"""Retry by time: an outage shorter than the retry window loses nothing; a longer one loses only
what the bounds force out, oldest first, and every loss is counted and reported."""

from __future__ import annotations

import time
from typing import Any

from posthog_client import Client
from posthog_client.testing import FakePostHog


def invariant(client: Client) -> None:
    s = client.stats()
    assert s.accepted == s.sent + s.dropped_total + s.unknown + s.spooled + s.pending, s


def test_an_outage_shorter_than_the_window_loses_nothing(fake: FakePostHog) -> None:
    fake.fail(status=503, times=None)
    client = fake.client(flush_at=10, retry_base_delay=0.05, retry_max_delay=0.2, retry_window=30)
    uids = {client.capture("u1", "e", {"i": i}) for i in range(100)}
    deadline = time.monotonic() + 15
    while len(fake.capture_requests) <= 10:  # many more attempts than the old count of four
        assert time.monotonic() < deadline, len(fake.capture_requests)
        time.sleep(0.01)
    fake.clear_faults()
    assert client.flush(timeout=10)
    assert {e.uuid for e in fake.events} == uids
    assert client.stats().dropped_total == 0
    invariant(client)


def test_a_longer_outage_drops_at_the_window_counted_and_reported(fake: FakePostHog) -> None:
    lost: list[Any] = []
    fake.fail(status=503, times=None)
    client = fake.client(
        flush_at=10,
        retry_base_delay=0.05,
        retry_max_delay=0.1,
        retry_window=0.5,
        on_error=lambda exc, events: lost.extend((exc.reason, e["uuid"]) for e in events),
    )
    uids = {client.capture("u1", "e", {"i": i}) for i in range(30)}
    assert client.flush(timeout=10) is False
    stats = client.stats()
    assert stats.dropped["retry_window"] == 30 and stats.pending == 0
    assert {u for reason, u in lost if reason == "retry_window"} == uids
    invariant(client)


def test_new_events_take_the_room_of_the_oldest_waiting_ones(fake: FakePostHog) -> None:
    """Memory is full of events waiting for a retry: the oldest make room, counted."""
    evicted: list[str] = []
    fake.fail(status=503, times=None)
    client = fake.client(
        flush_at=10,
        max_queue_size=50,
        retry_base_delay=0.05,
        retry_max_delay=0.1,
        on_error=lambda exc, events: evicted.extend(e["uuid"] for e in events),
    )
    first = [client.capture("u1", "old", {"i": i}) for i in range(50)]
    deadline = time.monotonic() + 5
    while client.stats().retried < 50 and time.monotonic() < deadline:
        time.sleep(0.02)  # all 50 wait for a retry
    newer = [client.capture("u1", "new", {"i": i}) for i in range(30)]
    assert all(newer)  # none refused: the oldest made room
    fake.clear_faults()
    client.flush(timeout=10)
    stats = client.stats()
    assert stats.dropped["evicted"] == 30 and stats.dropped["queue_full"] == 0
    assert sorted(evicted) == sorted(first[:30])  # oldest first
    assert {e.uuid for e in fake.events} == set(first[30:] + newer)
    invariant(client)


def test_without_waiting_events_a_full_queue_still_refuses_new_ones(fake: FakePostHog) -> None:
    client = fake.client(max_queue_size=10, flush_interval=60)
    accepted = [client.capture("u1", "e") for _ in range(15)]
    assert sum(a is not None for a in accepted) == 10
    assert client.stats().dropped["queue_full"] == 5
