"""``evaluate_flags()`` snapshots, checked on what reached the fake: PostHog's sdk-specs
``acceptance/public/evaluate-flags.feature`` (scenario numbers in the comments) and the official
SDK's rules (one ``/flags`` call at most, local values win, reads report, payloads are silent)."""

from __future__ import annotations

import copy
import logging
import threading
import time

import pytest
from flag_helpers import PRO_ONLY, called, flag_requests

import posthog_client as posthog
from posthog_client import Client, FeatureFlagEvaluations, FlagResult
from posthog_client.testing import FakePostHog


@pytest.fixture
def served(fake: FakePostHog) -> FakePostHog:
    """beta-ui on, checkout "blue" with a payload, search off (all decided by the server)."""
    fake.set_flag("beta-ui")
    fake.set_flag("checkout", variants={"blue": 100}, payload={"blue": {"copy": "new"}})
    fake.set_flag("search", rollout=0)
    return fake


@pytest.fixture
def remote(served: FakePostHog) -> Client:
    return served.client(personal_api_key=None)  # no definitions: the server decides


# -- one snapshot, one request ------------------------------------------------------------------


def test_one_snapshot_powers_many_branches(served: FakePostHog, remote: Client) -> None:  # 1
    flags = remote.evaluate_flags("user-123")
    assert isinstance(flags, FeatureFlagEvaluations)
    assert flags.is_enabled("beta-ui") is True
    assert flags.get_flag("checkout") == "blue"
    assert flags.is_enabled("beta-ui") is True
    [request] = flag_requests(served)
    assert request.query == {"v": "4"} and "flag_keys_to_evaluate" not in request.json


def test_snapshot_replaces_getters_and_capture_time_evaluation(
    served: FakePostHog, remote: Client
) -> None:  # 2
    flags = remote.evaluate_flags("user-123")
    assert flags.is_enabled("beta-ui") and flags.get_flag("checkout") == "blue"
    assert flags.get_flag_payload("checkout") == {"copy": "new"}
    assert set(flags.keys) == {"beta-ui", "checkout", "search"}
    remote.capture("user-123", "order completed", {"amount": 3}, flags=flags)
    assert remote.flush()
    [event] = served.events.named("order completed")
    assert event.properties["$feature/beta-ui"] is True
    assert event.properties["$feature/checkout"] == "blue"
    assert event.properties["amount"] == 3
    assert len(flag_requests(served)) == 1


def test_accessors_tell_disabled_missing_and_variant(remote: Client) -> None:  # 3
    flags = remote.evaluate_flags("user-123")
    assert flags.is_enabled("search") is False and flags.get_flag("search") is False
    assert flags.is_enabled("search", default_value=True) is False  # a value beats the default
    assert flags.is_enabled("checkout") is True and flags.get_flag("checkout") == "blue"
    assert flags.is_enabled("missing") is False and flags.get_flag("missing") is None
    assert flags.is_enabled("missing", True) is True


def test_no_event_until_a_value_is_read_then_one(served: FakePostHog, remote: Client) -> None:
    flags = remote.evaluate_flags("user-123")  # 4
    assert called(served, remote) == []
    flags.is_enabled("beta-ui")
    flags.get_flag("beta-ui")
    flags.is_enabled("beta-ui")
    [event] = called(served, remote)
    props = event.properties
    assert event.distinct_id == "user-123"
    assert (props["$feature_flag"], props["$feature_flag_response"]) == ("beta-ui", True)
    assert props["$feature/beta-ui"] is True and props["locally_evaluated"] is False
    assert isinstance(props["$feature_flag_request_id"], str)
    assert isinstance(props["$feature_flag_evaluated_at"], int)


def test_payload_reads_are_silent(served: FakePostHog, remote: Client) -> None:  # 5
    flags = remote.evaluate_flags("user-123")
    assert flags.get_flag_payload("checkout") == {"copy": "new"}
    assert flags.get_flag_payload("missing") is None
    assert flags.only_accessed().keys == []
    assert called(served, remote) == []
    assert len(flag_requests(served)) == 1


def test_capture_reuses_the_exact_snapshot_values(served: FakePostHog, remote: Client) -> None:
    served.set_remote_flags("user-123", {"beta-ui": False})  # 6
    flags = remote.evaluate_flags("user-123")
    served.set_remote_flags("user-123", {"beta-ui": True})  # later answers do not matter
    remote.capture("user-123", "paid", {"$feature/search": "mine"}, flags=flags)
    remote.capture("user-123", "paid again", flags=flags, send_feature_flags=True)
    assert remote.flush()
    [paid] = served.events.named("paid")
    assert paid.properties["$feature/beta-ui"] is False
    assert paid.properties["$feature/checkout"] == "blue"
    assert paid.properties["$feature/search"] == "mine"  # the caller's properties win
    assert paid.properties["$active_feature_flags"] == ["checkout"]
    [again] = served.events.named("paid again")  # the snapshot wins over send_feature_flags
    assert again.properties["$active_feature_flags"] == ["checkout"]
    assert len(flag_requests(served)) == 1
    assert called(served, remote) == []  # stamping an event is not a read


def test_only_accessed_keeps_what_was_read(served: FakePostHog, remote: Client) -> None:  # 7, 8
    flags = remote.evaluate_flags("user-123")
    assert flags.only_accessed().keys == []  # before branching: empty, never everything
    flags.is_enabled("beta-ui")
    flags.get_flag("search")
    accessed = flags.only_accessed()
    assert sorted(accessed.keys) == ["beta-ui", "search"]
    accessed.get_flag("checkout")  # the copy's reads do not mark the original
    assert sorted(flags.only_accessed().keys) == ["beta-ui", "search"]
    remote.capture("user-123", "viewed", flags=accessed)
    assert remote.flush()
    [event] = served.events.named("viewed")
    features = {k: v for k, v in event.properties.items() if k.startswith("$feature/")}
    assert features == {"$feature/beta-ui": True, "$feature/search": False}
    assert event.properties["$active_feature_flags"] == ["beta-ui"]
    assert len(flag_requests(served)) == 1


def test_empty_key_list_evaluates_nothing(served: FakePostHog, remote: Client) -> None:  # 9
    flags = remote.evaluate_flags("user-123", flag_keys=[])
    assert flags.keys == [] and flag_requests(served) == []


def test_request_time_keys_scope_the_request_and_only_filters_in_memory(
    served: FakePostHog, remote: Client, caplog: pytest.LogCaptureFixture
) -> None:  # 10
    flags = remote.evaluate_flags("user-123", flag_keys=["beta-ui", "checkout"])
    [request] = flag_requests(served)
    assert request.json["flag_keys_to_evaluate"] == ["beta-ui", "checkout"]
    assert sorted(flags.keys) == ["beta-ui", "checkout"]
    with caplog.at_level(logging.WARNING, "posthog_client"):
        narrowed = flags.only(["beta-ui", "missing"])
    assert narrowed.keys == ["beta-ui"]
    assert "missing" in caplog.text
    assert len(flag_requests(served)) == 1


def test_a_requested_key_missing_locally_falls_back_once(fake: FakePostHog) -> None:  # 11
    fake.set_flag("beta-ui")
    fake.set_remote_flags("user-123", {"beta-ui": False, "checkout": "blue"})
    client = fake.client()
    flags = client.evaluate_flags("user-123", flag_keys=["beta-ui", "checkout"])
    [request] = flag_requests(fake)
    assert request.json["flag_keys_to_evaluate"] == ["beta-ui", "checkout"]
    assert flags.get_flag("beta-ui") is True  # the local value wins
    assert flags.get_flag("checkout") == "blue"
    assert flags.explain("beta-ui").locally_evaluated is True
    assert flags.explain("checkout").locally_evaluated is False


def test_request_time_keys_scope_local_results(fake: FakePostHog) -> None:  # 12
    for key in ("beta-ui", "checkout", "search"):
        fake.set_flag(key)
    client = fake.client()
    flags = client.evaluate_flags("user-123", flag_keys=["beta-ui", "checkout"])
    assert sorted(flags.keys) == ["beta-ui", "checkout"]
    assert all(flags.explain(k).locally_evaluated for k in flags.keys)
    assert flag_requests(fake) == []


def test_everything_local_means_no_request(fake: FakePostHog) -> None:
    fake.set_flag("beta-ui")
    fake.set_flag("pro", filters=PRO_ONLY)
    client = fake.client()
    flags = client.evaluate_flags("user-123", person_properties={"plan": "pro"})
    assert flags.get_flag("beta-ui") is True and flags.get_flag("pro") is True
    assert flag_requests(fake) == []


def test_local_only_never_falls_back_and_says_why(fake: FakePostHog) -> None:  # 14
    fake.set_flag("beta-ui")
    fake.set_flag("checkout", filters=PRO_ONLY)
    client = fake.client()
    flags = client.evaluate_flags("user-123", only_evaluate_locally=True)
    assert flags.keys == ["beta-ui"]
    assert dict(flags.unresolved_flags) == {"checkout": "missing_property"}
    why = flags.explain("checkout")
    assert isinstance(why, FlagResult) and why.value is None
    assert why.unresolved == "missing_property" and "plan" in (why.unresolved_detail or "")
    assert set(flags.results) == {"beta-ui", "checkout"}
    assert flag_requests(fake) == []


def test_undecided_flags_are_asked_once_and_merged(fake: FakePostHog) -> None:
    fake.set_flag("beta-ui")
    fake.set_flag("checkout", filters=PRO_ONLY)
    fake.set_remote_flags("user-123", {"checkout": True, "beta-ui": False})
    client = fake.client()
    flags = client.evaluate_flags("user-123")
    assert (flags.get_flag("beta-ui"), flags.get_flag("checkout")) == (True, True)
    assert flags.explain("checkout").unresolved == "missing_property"  # why it went remote
    assert flags.unresolved_flags == {}
    [request] = flag_requests(fake)
    assert "flag_keys_to_evaluate" not in request.json  # all flags, as the official SDK asks


def test_remote_failure_keeps_the_local_flags(fake: FakePostHog) -> None:  # 15
    fake.set_flag("beta-ui")
    fake.set_flag("checkout", filters=PRO_ONLY)
    fake.fail(path="/flags", status=500, times=None)
    client = fake.client()
    flags = client.evaluate_flags("user-123")
    assert flags.keys == ["beta-ui"]
    assert flags.get_flag("checkout") is None and flags.get_flag("beta-ui") is True
    assert len(flag_requests(fake)) == 1  # reading sends no further request
    events = {e.properties["$feature_flag"]: e.properties for e in called(fake, client)}
    assert events["checkout"]["$feature_flag_response"] is None
    error = events["checkout"]["$feature_flag_error"]
    assert error == "local_evaluation_inconclusive,api_error_500"
    assert "$feature_flag_error" not in events["beta-ui"]


def test_missing_identity_gives_an_empty_silent_snapshot(served: FakePostHog) -> None:  # 16
    client = served.client(personal_api_key=None)
    flags = client.evaluate_flags()
    assert flags.keys == [] and flags.distinct_id == ""
    assert flags.is_enabled("beta-ui") is False
    assert flag_requests(served) == [] and called(served, client) == []


def test_the_context_supplies_the_distinct_id(served: FakePostHog, remote: Client) -> None:
    with posthog.new_context():
        posthog.identify_context("user-123")
        assert posthog.get_context_distinct_id() == "user-123"
        flags = remote.evaluate_flags()
        assert flags.distinct_id == "user-123" and flags.get_flag("checkout") == "blue"
    assert posthog.get_context_distinct_id() is None
    [request] = flag_requests(served)
    assert request.json["distinct_id"] == "user-123"


def test_disabled_client_and_bad_calls_give_empty_snapshots(served: FakePostHog) -> None:
    disabled = served.client(disabled=True)
    assert disabled.evaluate_flags("user-123").keys == []
    client = served.client(personal_api_key=None)
    assert client.evaluate_flags("user-123", flag_keys="beta-ui").keys == []  # type: ignore[arg-type]
    assert client.evaluate_flags("user-123", groups="acme").keys == []  # type: ignore[arg-type]
    client.capture("user-123", "x", flags={"beta-ui": True})  # type: ignore[arg-type]
    assert client.flush()
    assert "$feature/beta-ui" not in served.events.named("x")[0].properties
    assert flag_requests(served) == []


# -- events: shared with the getters --------------------------------------------------------------


def test_reads_and_getters_share_one_dedupe(served: FakePostHog, remote: Client) -> None:
    assert remote.get_feature_flag("checkout", "user-123") == "blue"
    flags = remote.evaluate_flags("user-123")
    flags.get_flag("checkout")
    flags.get_flag("missing")  # a missing key on the original snapshot is reported
    flags.get_flag("beta-ui", send_feature_flag_events=False)  # counts as read, sends nothing
    events = called(served, remote)
    assert [e.properties["$feature_flag"] for e in events] == ["checkout", "missing"]
    assert events[1].properties["$feature_flag_error"] == "flag_missing"
    assert sorted(flags.only_accessed().keys) == ["beta-ui", "checkout"]


def test_concurrent_reads_send_one_event(served: FakePostHog, remote: Client) -> None:
    flags = remote.evaluate_flags("user-123")
    start = threading.Barrier(8)

    def read() -> None:
        start.wait()
        for _ in range(200):
            flags.is_enabled("beta-ui")

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(called(served, remote)) == 1


def test_module_level_evaluate_flags(served: FakePostHog) -> None:
    with served.patch_module(personal_api_key=None):
        flags = posthog.evaluate_flags("user-123", flag_keys=["checkout"])
        assert flags.get_flag("checkout") == "blue"
        posthog.capture("user-123", "bought", flags=flags)
        posthog.flush()
    assert served.events.named("bought")[0].properties["$feature/checkout"] == "blue"
    assert len(flag_requests(served)) == 1


def test_copies_share_values_and_the_unconfigured_module_gives_an_empty_snapshot(
    served: FakePostHog, remote: Client
) -> None:
    flags = remote.evaluate_flags("user-123")
    flags.get_flag("checkout")
    twin = copy.deepcopy(flags)
    assert twin.keys == flags.keys and twin.only_accessed().keys == ["checkout"]
    with served.patch_module(disabled=True):
        empty = posthog.evaluate_flags("user-123")
    assert isinstance(empty, FeatureFlagEvaluations) and empty.keys == []
    assert len(flag_requests(served)) == 1


def test_the_one_request_is_bounded_by_flags_timeout(served: FakePostHog) -> None:
    served.trickle(0.5, path="/flags")
    with served.serve() as url:
        client = Client(served.api_key, host=url, flags_timeout=1.0)
        started = time.monotonic()
        flags = client.evaluate_flags("user-123")
        assert time.monotonic() - started < 1.6
        assert flags.keys == [] and flags.explain("beta-ui").error == "flag_missing,timeout"
        client.shutdown(1)
