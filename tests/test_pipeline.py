"""Batching, flushing, retries and overflow, observed at the fake server."""

from __future__ import annotations

import logging

import pytest

from posthog_client.testing import FakePostHog


def test_uuid_and_timestamp_are_stable_across_retries(fake: FakePostHog) -> None:
    fake.fail(status=503, times=2)
    client = fake.client()
    client.capture("u1", "paid", {"amount": 10})
    assert client.flush(timeout=5)
    attempts = fake.capture_requests
    assert [r.status for r in attempts] == [503, 503, 200]
    bodies = [r.json["batch"][0] for r in attempts]
    assert len({(e["uuid"], e["timestamp"]) for e in bodies}) == 1
    assert len(fake.events) == 1
    stats = client.stats()
    assert (stats.sent, stats.retried, stats.requests) == (1, 2, 3)


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_no_retry_on_client_errors(fake: FakePostHog, status: int) -> None:
    fake.fail(status=status, times=None)
    client = fake.client()
    client.capture("u1", "e")
    assert client.flush(timeout=5) is False  # it was dropped, not delivered
    assert len(fake.capture_requests) == 1
    stats = client.stats()
    reason = "oversize" if status == 413 else "rejected_4xx"
    assert stats.dropped[reason] == 1 and stats.pending == 0


@pytest.mark.parametrize("mode", ["v1", "v0"])
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses(fake: FakePostHog, status: int, mode: str) -> None:
    fake.fail(status=status, times=1)
    client = fake.client(capture_mode=mode)
    client.capture("u1", "e")
    if status == 429 and mode == "v1":  # terminal on capture v1 (its spec), retried on /batch/
        assert client.flush(timeout=5) is False
        assert client.stats().dropped["rejected_4xx"] == 1
        return
    assert client.flush(timeout=5)
    assert [r.status for r in fake.capture_requests] == [status, 200]


def test_network_errors_are_retried(fake: FakePostHog) -> None:
    fake.fail_with("connection", times=1)
    fake.fail_with("timeout", times=1)
    client = fake.client()
    client.capture("u1", "e")
    assert client.flush(timeout=5)
    assert len(fake.capture_requests) == 3 and len(fake.events) == 1


def test_max_retries_gives_exactly_four_attempts(fake: FakePostHog) -> None:
    fake.fail(status=503, times=None)
    client = fake.client(max_retries=3)
    client.capture("u1", "e")
    assert client.flush(timeout=5) is False
    assert len(fake.capture_requests) == 4
    stats = client.stats()
    assert stats.dropped["retries_exhausted"] == 1 and stats.pending == 0
    assert "503" in (stats.last_error or "")


def test_retry_after_is_honoured(fake: FakePostHog) -> None:
    fake.fail(status=503, times=1, retry_after=1)
    client = fake.client()  # retry delays of 0.01 s to 0.05 s: Retry-After is the floor
    client.capture("u1", "e")
    assert client.flush(timeout=10)
    first, second = fake.capture_requests
    assert second.at - first.at >= 1.0


def test_flush_sends_queued_events_as_one_request(fake: FakePostHog) -> None:
    client = fake.client(flush_at=10, flush_interval=60)
    for i in range(5):
        client.capture("u1", f"e{i}")
    assert client.flush(timeout=5)
    assert len(fake.capture_requests) == 1
    assert fake.events.names() == [f"e{i}" for i in range(5)]


def test_flush_splits_by_flush_at(fake: FakePostHog) -> None:
    client = fake.client(flush_at=10, flush_interval=60)
    for i in range(25):
        client.capture("u1", f"e{i}")
    assert client.flush(timeout=5)
    assert [len(r.json["batch"]) for r in fake.capture_requests] == [10, 10, 5]


def test_flush_on_empty_queue_sends_nothing(fake: FakePostHog) -> None:
    client = fake.client()
    assert client.flush(timeout=1)
    client.capture("u1", "e")
    assert client.flush(timeout=5)
    assert client.flush(timeout=1)
    assert len(fake.capture_requests) == 1


def test_batches_go_out_by_interval_without_flush(fake: FakePostHog) -> None:
    client = fake.client(flush_interval=0.05)
    client.capture("u1", "e")
    assert len(fake.wait_for_events(1, timeout=5)) == 1


def test_full_batches_go_out_without_waiting_for_the_interval(fake: FakePostHog) -> None:
    client = fake.client(flush_at=5, flush_interval=60)
    for i in range(5):
        client.capture("u1", f"e{i}")
    assert len(fake.wait_for_events(5, timeout=5)) == 5


def test_queue_overflow_is_counted_with_one_warning(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture
) -> None:
    # The consumer holds its batch (big flush_at, long interval), so the bound is exact.
    client = fake.client(max_queue_size=10, flush_at=1000, flush_interval=60)
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        results = [client.capture("u1", f"e{i}") for i in range(50)]
    assert sum(r is not None for r in results) == 10
    stats = client.stats()
    assert stats.dropped["queue_full"] == 40 and stats.accepted == 50
    warnings = [r for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(warnings) == 1
    assert client.flush(timeout=5)
    assert len(fake.events) == 10
    stats = client.stats()
    assert stats.accepted == stats.sent + stats.dropped_total + stats.unknown + stats.pending


def test_sync_mode_sends_on_the_calling_thread(fake: FakePostHog) -> None:
    client = fake.client(sync_mode=True)
    fake.fail(status=503, times=1)
    client.capture("u1", "e")
    assert len(fake.events) == 1 and len(fake.capture_requests) == 2
    assert client._consumer._thread is None  # no background thread was started


def test_shutdown_is_idempotent_and_flushes(fake: FakePostHog) -> None:
    client = fake.client(flush_interval=60)
    client.capture("u1", "e")
    assert client.shutdown(timeout=5)
    assert client.shutdown(timeout=5)
    assert len(fake.events) == 1
    assert client.capture("u1", "late") is None


def test_context_manager_shuts_down(fake: FakePostHog) -> None:
    with fake.client(flush_interval=60) as client:
        client.capture("u1", "e")
    assert len(fake.events) == 1


def test_disabled_and_keyless_clients_do_nothing(fake: FakePostHog) -> None:
    for client in (fake.client(disabled=True), fake.client(api_key="")):
        assert client.capture("u1", "e") is None
        assert client.identify("u1", {"a": 1}) is None
        assert client.flush(timeout=1)
    assert fake.capture_requests == []


def test_empty_api_key_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    from posthog_client import Client

    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        client = Client("   ")
        client.capture("u1", "e")
        client.capture("u1", "e")
    assert len([r for r in caplog.records if r.name == "posthog_client"]) == 1
    assert client.disabled


def test_events_after_a_quiet_spell_go_out_without_flush(fake: FakePostHog) -> None:
    client = fake.client(flush_interval=0.05)
    client.capture("u1", "first")
    assert client.flush(timeout=5)
    for i in range(3):  # the consumer is idle with nothing to wait for: it must be woken
        client.capture("u1", f"later-{i}")
    assert fake.wait_for_events(4, timeout=5).names() == ["first", "later-0", "later-1", "later-2"]


def test_a_dropped_client_delivers_and_releases_its_threads(fake: FakePostHog) -> None:
    import gc

    fake.set_flag("beta")
    client = fake.client(flush_interval=60)
    client.capture("u1", "last words")
    client.feature_enabled("beta", "u1")
    consumer = client._consumer
    thread, poller = consumer._thread, client._flags.poller
    assert thread is not None and poller is not None
    fake._clients.clear()  # the fake would otherwise keep it alive
    del client
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()
    assert poller._stop.is_set()
    assert fake.events.names()[0] == "last words"


def test_many_clients_get_one_warning(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posthog_client._runtime import lifecycle

    monkeypatch.setattr(lifecycle, "_warned_many", False)  # an earlier test may have warned
    clients = [fake.client() for _ in range(25)]
    assert caplog.text.count("clients are alive in this process") == 1
    assert clients
