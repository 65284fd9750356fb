"""Clients sharing a definitions store, in one process: followers without a personal key,
outages of PostHog and of the store, corrupt snapshots, fencing, cold start, fork, stats.
The many-process tests are in test_fleet_processes.py."""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

import pytest
import redis
from servers import free_port, redis_server
from waiting import wait_until

from posthog_client import Stats
from posthog_client._flags import envelope
from posthog_client.stores import FileStore, MemoryStore
from posthog_client.testing import FakePostHog

DEFS = "/flags/definitions"


def redis_url(port: int, **options: object) -> str:
    query = "&".join(
        [f"prefix=t{uuid.uuid4().hex[:10]}", *(f"{k}={v}" for k, v in options.items())]
    )
    return f"redis://127.0.0.1:{port}/0?{query}"


def keys(url: str, project: str = "phc_test") -> dict[str, str]:
    prefix = url.split("prefix=")[1].split("&")[0]
    base = f"{prefix}:{{{envelope.project_id(project)}}}"
    return {name: f"{base}:{name}" for name in ("lease", "fence", "version", "snapshot")}


def remote_flag_requests(fake: FakePostHog) -> int:
    return len(fake.requests_to("/flags"))


@pytest.fixture
def r(redis_port: int) -> Any:
    client = redis.Redis(port=redis_port)
    yield client
    client.close()


def test_a_follower_without_a_personal_key_evaluates_locally(
    fake: FakePostHog, redis_port: int
) -> None:
    fake.set_flag("beta", payload={"plan": "pro"})
    url = redis_url(redis_port)
    leader = fake.client(definitions_store=url, poll_interval=0.3)
    assert leader.load_feature_flags()
    follower = fake.client(personal_api_key=None, definitions_store=url, poll_interval=0.3)
    result = follower.get_feature_flag_result("beta", "u1")
    assert result is not None and result.value is True and result.locally_evaluated
    assert result.payload == {"plan": "pro"}
    assert remote_flag_requests(fake) == 0  # nothing was asked of the server
    assert len(fake.requests_to(DEFS)) >= 1  # all of them the leader's
    flags = follower.stats().flags
    assert (flags.role, flags.fetches, flags.loaded) == ("follower", 0, True)
    assert leader.stats().flags.role == "leader" and leader.stats().flags.fence == 1


def test_a_process_started_while_posthog_is_down_uses_the_shared_snapshot(
    fake: FakePostHog, redis_port: int
) -> None:
    fake.set_flag("beta")
    url = redis_url(redis_port)
    first = fake.client(definitions_store=url, poll_interval=0.2)
    assert first.load_feature_flags()
    fake.fail(path=DEFS, status=503, times=None)
    first.shutdown()  # gives the lease back: the next process leads, during the outage
    second = fake.client(definitions_store=url, poll_interval=0.2)
    result = second.get_feature_flag_result("beta", "u1", only_evaluate_locally=True)
    assert result is not None and result.value is True and result.locally_evaluated
    wait_until(lambda: second.stats().flags.role == "leader")
    wait_until(lambda: second.stats().flags.fetches >= 2)  # it polls, and gets 503s
    assert second.get_feature_flag("beta", "u2", only_evaluate_locally=True) is True
    fake.clear_faults()


def test_a_304_keeps_the_shared_snapshot_alive_past_its_expiry(
    fake: FakePostHog, redis_port: int, r: Any
) -> None:
    fake.set_flag("beta")
    url = redis_url(redis_port, ttl=1)
    leader = fake.client(definitions_store=url, poll_interval=0.25)
    assert leader.load_feature_flags()
    names = keys(url)
    first_version = envelope.parse_version(r.get(names["version"]))
    time.sleep(2.0)  # twice the snapshot's expiry, with only 304s in between
    assert r.exists(names["snapshot"]) and 0 < r.pttl(names["snapshot"]) <= 1000
    version = envelope.parse_version(r.get(names["version"]))
    assert first_version is not None and version is not None
    assert version.content_id == first_version.content_id
    assert version.fetched_at_ms - first_version.fetched_at_ms >= 1500
    statuses = [r.status for r in fake.requests_to(DEFS)]
    assert statuses[0] == 200 and statuses.count(304) >= 5 and statuses.count(200) == 1
    assert leader.stats().flags.snapshot_age < 1.0  # type: ignore[operator]


def test_a_change_reaches_followers_within_an_interval(fake: FakePostHog, redis_port: int) -> None:
    fake.set_flag("beta", rollout=0)
    url = redis_url(redis_port)
    leader = fake.client(definitions_store=url, poll_interval=0.2)
    follower = fake.client(personal_api_key=None, definitions_store=url, poll_interval=0.2)
    assert follower.get_feature_flag("beta", "u1", only_evaluate_locally=True) is False
    assert leader.load_feature_flags()
    fake.set_flag("beta", rollout=100)  # the kill switch goes the other way
    started = time.monotonic()
    wait_until(lambda: follower.get_feature_flag("beta", "u1", only_evaluate_locally=True))
    assert time.monotonic() - started < 0.2 * 1.1 * 2 + 0.2


def test_a_corrupt_snapshot_is_rejected_and_the_previous_one_kept(
    fake: FakePostHog, redis_port: int, r: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_flag("beta")
    url = redis_url(redis_port)
    follower = fake.client(personal_api_key=None, definitions_store=url, poll_interval=0.1)
    leader = fake.client(definitions_store=url, poll_interval=30)
    assert leader.load_feature_flags()
    wait_until(lambda: follower.stats().flags.loaded)
    leader.shutdown()
    names = keys(url)
    good = r.get(names["snapshot"])
    fence = int(r.get(names["fence"]))
    damaged = [good[: len(good) // 2], good[:-1] + bytes([good[-1] ^ 0xFF]), b"\x00garbage"]
    for n, data in enumerate(damaged, start=1):
        r.set(names["snapshot"], data)
        r.set(names["version"], envelope.make_version(fence, f"bad{n}", int(time.time() * 1000)))
        wait_until(lambda n=n: follower.stats().flags.rejected_snapshots == n)  # type: ignore[misc]
    time.sleep(0.3)  # several more intervals: the same bad version is not fetched again
    assert follower.stats().flags.rejected_snapshots == 3
    assert follower.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
    rejected = [m for m in caplog.messages if "were rejected" in m]
    assert rejected and "truncated" in rejected[0]


def test_a_paused_ex_leader_is_refused_by_the_fence(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture
) -> None:
    class Paused:
        """The shared store, as seen by a leader that was paused past its lease: its renewals
        'succeed' (the pause hid the expiry), so only the fence can stop its write."""

        def __init__(self, inner: MemoryStore) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def renew(self, owner: str, fence: int, lease: float) -> bool:
            return True

    caplog.set_level(logging.INFO, "posthog_client")
    shared = MemoryStore()
    fake.set_flag("beta", rollout=0)
    old = fake.client(definitions_store=Paused(shared), poll_interval=3600)
    assert old.load_feature_flags()
    poller: Any = old._flags.poller
    assert poller.stats().role == "leader"
    stale = poller.stats().fence
    shared._lease = None  # its lease ran out during the pause (GC, SIGSTOP, a slow disk)
    fake.set_flag("beta", rollout=100)
    new = fake.client(definitions_store=shared, poll_interval=0.2)
    wait_until(lambda: new.stats().flags.role == "leader")
    poller._next_fetch = 0  # the paused leader wakes up and polls: PostHog has news
    poller._tick()
    assert poller.stats().role == "follower" and poller.stats().lease_changes == 2
    assert any("larger fence" in m for m in caplog.messages)
    wait_until(lambda: envelope.parse_version(shared.poll(None, 1).version).fence > stale)  # type: ignore[union-attr]
    assert new.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True


def test_the_first_flag_call_waits_at_most_flags_timeout_once(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    client = fake.client(
        personal_api_key=None, definitions_store=MemoryStore(), flags_timeout=0.3, poll_interval=5
    )
    started = time.monotonic()
    assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is None
    assert 0.2 < time.monotonic() - started < 1.0  # nobody leads: it gave up after the bound
    started = time.monotonic()
    for _ in range(20):
        client.get_feature_flag("beta", "u1", only_evaluate_locally=True)
    assert time.monotonic() - started < 0.1  # and never waits again
    assert client.get_feature_flag("beta", "u1") is True  # the server answers meanwhile


def test_a_flag_check_never_touches_the_store(fake: FakePostHog) -> None:
    class CountingStore(MemoryStore):
        calls = 0

        def __getattribute__(self, name: str) -> Any:
            if name in ("poll", "renew", "read", "write", "touch", "release"):
                CountingStore.calls += 1
            return super().__getattribute__(name)

    fake.set_flag("beta")
    store = CountingStore()
    client = fake.client(definitions_store=store, poll_interval=3600)
    assert client.load_feature_flags()
    before = CountingStore.calls
    for n in range(2000):
        client.feature_enabled("beta", f"u{n}", send_feature_flag_events=False)
    client.get_all_flags("u1")
    assert CountingStore.calls == before


def test_a_refused_port_logs_one_line_and_falls_back(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_flag("beta")
    url = f"redis://127.0.0.1:{free_port()}/0"
    keyed = fake.client(definitions_store=url, poll_interval=0.1)
    keyless = fake.client(personal_api_key=None, definitions_store=url, poll_interval=0.1)
    result = keyed.get_feature_flag_result("beta", "u1")  # polls PostHog itself meanwhile
    assert result is not None and result.value is True and result.locally_evaluated
    assert keyless.get_feature_flag("beta", "u1") is True  # asked of the server
    wait_until(lambda: keyless.stats().flags.store_errors >= 4)
    lines = [m for m in caplog.messages if "definitions store" in m]
    assert len(lines) == 2  # one per client, however many failures
    assert all("ConnectionError" in line and "refused" in line.lower() for line in lines)
    assert "polling PostHog from this process" in lines[0] + lines[1]
    assert keyed.stats().flags.last_store_error is not None


@pytest.mark.parametrize("password", [None, "wrong"])
def test_wrong_redis_credentials_log_one_clear_line(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture, password: str | None
) -> None:
    fake.set_flag("beta")
    with redis_server(args=("--requirepass", "right")) as port:
        auth = f":{password}@" if password else ""
        url = f"redis://{auth}127.0.0.1:{port}/0"
        client = fake.client(personal_api_key=None, definitions_store=url, poll_interval=0.1)
        wait_until(lambda: client.stats().flags.store_errors >= 3)
        lines = [m for m in caplog.messages if "definitions store" in m]
        assert len(lines) == 1, lines
        assert "password" in lines[0] and "Authentication" in lines[0]
        assert "wrong" not in lines[0]  # the password never reaches the log
        assert client.get_feature_flag("beta", "u1") is True
        client.shutdown()


def test_a_redis_outage_keeps_the_last_snapshot_and_is_logged_once_per_episode(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_flag("beta")
    caplog.set_level(logging.WARNING, "posthog_client")
    port = free_port()
    url = redis_url(port)
    with redis_server(port):
        leader = fake.client(definitions_store=url, poll_interval=0.1)
        follower = fake.client(personal_api_key=None, definitions_store=url, poll_interval=0.1)
        assert leader.load_feature_flags()
        wait_until(lambda: follower.stats().flags.loaded)
    wait_until(lambda: follower.stats().flags.store_errors >= 3)  # the server is gone
    assert follower.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
    assert leader.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
    assert leader.stats().flags.role == "follower"  # it cannot hold a lease it cannot renew
    with redis_server(port):  # the store comes back
        wait_until(lambda: leader.stats().flags.role == "leader")
        wait_until(lambda: any("answers again" in m for m in caplog.messages))
        follower_lines = [m for m in caplog.messages if "store" in m]
        assert len([m for m in follower_lines if "failed" in m]) == 2  # one per client
        leader.shutdown()
        follower.shutdown()


def test_a_forked_worker_follows_and_keeps_the_parents_snapshot(
    fake: FakePostHog, tmp_path: Any
) -> None:
    fake.set_flag("beta")
    parent = fake.client(definitions_store=f"file://{tmp_path}", poll_interval=0.2)
    assert parent.load_feature_flags()
    wait_until(lambda: parent.stats().flags.role == "leader")
    pid = os.fork()
    if pid == 0:  # the child: a follower at once, with the parent's snapshot, no download
        code = 1
        try:
            fetched = parent.stats().flags.fetches  # the parent's count, copied by the fork
            value = parent.get_feature_flag("beta", "u1", only_evaluate_locally=True)
            time.sleep(0.5)  # a few intervals: the parent keeps the lease
            flags = parent.stats().flags
            code = 0 if (value, flags.role, flags.fetches) == (True, "follower", fetched) else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert parent.stats().flags.role == "leader"
    parent.shutdown()


def test_stats_stay_backward_compatible(fake: FakePostHog) -> None:
    assert Stats().flags.role == "remote" and Stats(accepted=1).accepted == 1
    assert fake.client(personal_api_key=None).stats().flags.role == "remote"
    standalone = fake.client()
    standalone.load_feature_flags()
    flags = standalone.stats().flags
    assert (flags.role, flags.store, flags.fence, flags.loaded) == ("standalone", None, None, True)
    assert flags.fetches >= 1 and flags.snapshot_age is not None


def test_the_file_store_shares_one_poll_between_clients(fake: FakePostHog, tmp_path: Any) -> None:
    fake.set_flag("beta")
    url = f"file://{tmp_path}"
    clients = [fake.client(definitions_store=url, poll_interval=0.2) for _ in range(4)]
    for client in clients:
        assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
    roles = sorted(c.stats().flags.role for c in clients)
    assert roles == ["follower", "follower", "follower", "leader"]
    assert isinstance(clients[0]._config.definitions_store, FileStore)


def test_a_refused_personal_key_leaves_polling_to_a_good_one(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_flag("beta")
    store = MemoryStore()
    wrong = fake.client(personal_api_key="phx_revoked", definitions_store=store, poll_interval=0.1)
    wait_until(lambda: wrong.stats().flags.lease_changes >= 2)  # led, got a 401, stepped down
    good = fake.client(definitions_store=store, poll_interval=0.1)
    wait_until(lambda: good.stats().flags.role == "leader")
    wait_until(lambda: wrong.stats().flags.loaded)  # it follows the good key's snapshot
    assert wrong.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
    refused = [m for m in caplog.messages if "(401)" in m]
    assert len(refused) == 1 and "leaves polling to others" in refused[0]
    time.sleep(0.3)
    assert wrong.stats().flags.role == "follower"  # stays out while the key is refused


def test_over_quota_clears_the_whole_fleet_once(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_flag("beta")
    store = MemoryStore()
    leader = fake.client(definitions_store=store, poll_interval=0.1)
    follower = fake.client(personal_api_key=None, definitions_store=store, poll_interval=0.1)
    assert leader.load_feature_flags()
    wait_until(lambda: follower.stats().flags.loaded)
    fake.fail(path=DEFS, status=402, times=None)
    wait_until(lambda: not follower.stats().flags.loaded)
    assert follower.get_feature_flag("beta", "u1", only_evaluate_locally=True) is None
    time.sleep(0.3)
    quota = [m for m in caplog.messages if "(402)" in m]
    assert len(quota) == 2  # one line per client, not one per interval
    fake.clear_faults()
    wait_until(lambda: follower.stats().flags.loaded)  # and back when the quota is


def test_pubsub_wakes_followers_as_soon_as_a_snapshot_is_written(
    fake: FakePostHog, redis_port: int
) -> None:
    fake.set_flag("beta", rollout=0)
    url = redis_url(redis_port, wake=1)
    leader = fake.client(definitions_store=url, poll_interval=0.1)
    follower = fake.client(personal_api_key=None, definitions_store=url, poll_interval=30)
    assert leader.load_feature_flags()
    assert follower.get_feature_flag("beta", "u1", only_evaluate_locally=True) is False
    time.sleep(0.2)  # the follower now sleeps on its subscription (its interval is 30 s)
    fake.set_flag("beta", rollout=100)
    started = time.monotonic()
    wait_until(lambda: follower.get_feature_flag("beta", "u1", only_evaluate_locally=True), 3)
    assert time.monotonic() - started < 1.0  # the leader's interval, not the follower's
    thread = follower._flags.poller._thread  # type: ignore[union-attr]
    assert thread is not None
    follower.shutdown()  # a subscribed follower stops like any other, at once
    thread.join(2)
    assert not thread.is_alive()


def test_what_a_process_fetched_during_a_store_outage_is_not_rolled_back(
    fake: FakePostHog,
) -> None:
    class Flaky(MemoryStore):
        down = False

        def __getattribute__(self, name: str) -> Any:
            if name in ("poll", "renew", "read", "write", "touch") and object.__getattribute__(
                self, "down"
            ):
                raise ConnectionError("store down")
            return super().__getattribute__(name)

    fake.set_flag("beta", rollout=0)
    store = Flaky()
    client = fake.client(definitions_store=store, poll_interval=0.1)
    assert client.load_feature_flags()
    store.down = True
    fake.set_flag("beta", rollout=100)  # changed while the store is down: fetched directly
    wait_until(lambda: client.get_feature_flag("beta", "u1", only_evaluate_locally=True))
    store.down = False  # the store still holds the old definitions
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # never back to the store's older copy
        assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
        time.sleep(0.005)
    assert client.stats().flags.role == "leader"
    reader = fake.client(personal_api_key=None, definitions_store=store, poll_interval=0.1)
    assert reader.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
