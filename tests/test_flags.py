"""Feature flags end to end: remote evaluation, local evaluation, the poller, and events."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flag_helpers import PRO_ONLY, flag_requests

import posthog_client as posthog
from posthog_client import Client
from posthog_client.testing import FakePostHog


def remote_client(fake: FakePostHog, **options: Any) -> Client:
    """A client without a personal key: every flag is asked of the server."""
    return fake.client(personal_api_key=None, **options)


def definition_requests(fake: FakePostHog) -> list[Any]:
    return [r for r in fake.requests if r.path == "/flags/definitions"]


# -- remote ------------------------------------------------------------------------------------


def test_remote_request_shape(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    client = remote_client(fake)
    assert client.feature_enabled("beta", "u1", person_properties={"plan": "pro"}) is True
    [request] = flag_requests(fake)
    assert request.method == "POST" and request.path == "/flags/" and request.query == {"v": "4"}
    assert request.header("Authorization") is None
    assert request.json == {
        "api_key": "phc_test",
        "distinct_id": "u1",
        "groups": {},
        "person_properties": {"plan": "pro"},
        "group_properties": {},
        "geoip_disable": True,
        "flag_keys_to_evaluate": ["beta"],
    }


def test_remote_answers_are_not_cached(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    client = remote_client(fake)
    for _ in range(3):
        assert client.get_feature_flag("beta", "u1", send_feature_flag_events=False) is True
    assert len(flag_requests(fake)) == 3


def test_remote_v2_shape_with_payload_and_metadata(fake: FakePostHog) -> None:
    fake.set_flag("multi", variants={"a": 100}, payload={"a": {"color": "red"}})
    client = remote_client(fake)
    result = client.get_feature_flag_result("multi", "u1")
    assert result is not None
    assert (result.value, result.payload, result.locally_evaluated) == (
        "a",
        {"color": "red"},
        False,
    )
    assert result.request_id and result.flag_id == 1


def test_remote_legacy_shape(fake: FakePostHog) -> None:
    legacy = {
        "featureFlags": {"beta": True, "multi": "test", "off": False},
        "featureFlagPayloads": {"beta": json.dumps({"a": 1}), "multi": '"text"'},
    }
    fake.fail(path="/flags", status=200, body=legacy, times=2)
    client = remote_client(fake)
    assert client.get_feature_flag_payload("beta", "u1") == {"a": 1}
    assert client.get_all_flags_and_payloads("u1") == {
        "featureFlags": {"beta": True, "multi": "test", "off": False},
        "featureFlagPayloads": {"beta": {"a": 1}, "multi": "text"},
    }


@pytest.mark.parametrize(
    ("fault", "retried"),
    [("connection", True), ("timeout", True), (502, True), (504, True), (500, False)],
)
def test_remote_retries_once_on_transient_failures_only(
    fake: FakePostHog, fault: Any, retried: bool
) -> None:
    fake.set_flag("beta")
    if isinstance(fault, str):
        fake.fail_with(fault, path="/flags")
    else:
        fake.fail(path="/flags", status=fault)
    client = remote_client(fake)
    value = client.get_feature_flag("beta", "u1", send_feature_flag_events=False)
    attempts = flag_requests(fake)
    assert len(attempts) == (2 if retried else 1)
    assert value is (True if retried else None)
    if retried:
        assert attempts[1].at - attempts[0].at >= 0.3


def test_remote_failure_gives_none_default_and_an_error_event(fake: FakePostHog) -> None:
    fake.fail(path="/flags", status=500, times=None)
    client = remote_client(fake)
    assert client.feature_enabled("beta", "u1") is None
    assert client.feature_enabled("beta", "u1", default=True) is True
    client.flush()
    [event] = fake.events.named("$feature_flag_called")
    assert event.properties["$feature_flag_error"] == "api_error_500"
    assert event.properties["$feature_flag_response"] is None


def test_quota_limited(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    fake.set_quota_limited()
    client = remote_client(fake)
    result = client.get_feature_flag_result("beta", "u1")
    assert result is not None and result.value is None and result.error == "quota_limited"


def test_flag_missing_from_the_answer(fake: FakePostHog) -> None:
    client = remote_client(fake)
    # PostHog's sdk-specs: no structured result for a flag that exists nowhere; the
    # diagnosis stays available through explain_flags.
    assert client.get_feature_flag_result("nope", "u1") is None
    assert client.get_feature_flag("nope", "u1") is None


def test_remote_deadline_holds_against_a_trickling_server(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    fake.trickle(0.5, path="/flags")
    with fake.serve() as url:
        client = Client(fake.api_key, host=url, flags_timeout=1.0)
        started = time.monotonic()
        assert client.get_feature_flag("beta", "u1", send_feature_flag_events=False) is None
        assert time.monotonic() - started < 1.6
        client.shutdown(1)


# -- local -------------------------------------------------------------------------------------


def test_local_evaluation_needs_no_remote_call(fake: FakePostHog) -> None:
    fake.set_flag("pro", filters=PRO_ONLY)
    client = fake.client()
    result = client.get_feature_flag_result("pro", "u1", person_properties={"plan": "pro"})
    assert result is not None and result.value is True and result.locally_evaluated
    assert flag_requests(fake) == []
    [definitions] = definition_requests(fake)
    assert definitions.header("Authorization") == "Bearer phx_test"
    assert definitions.query == {"token": "phc_test", "send_cohorts": ""}


def test_undecidable_flag_goes_remote_once_and_says_why(fake: FakePostHog) -> None:
    fake.set_flag("pro", filters=PRO_ONLY)
    fake.set_remote_flags("u1", {"pro": True})  # the server knows u1's stored plan
    client = fake.client()
    result = client.get_feature_flag_result("pro", "u1")
    assert result is not None
    assert (result.value, result.locally_evaluated, result.unresolved) == (
        True,
        False,
        "missing_property",
    )
    assert len(flag_requests(fake)) == 1
    local = client.get_feature_flag_result("pro", "u1", only_evaluate_locally=True)
    assert local is not None and local.value is None and local.unresolved == "missing_property"
    assert "plan" in (local.reason or "")
    assert len(flag_requests(fake)) == 1


def test_get_all_flags_makes_at_most_one_remote_call_and_merges(fake: FakePostHog) -> None:
    fake.set_flag("everyone")
    fake.set_flag("pro", filters=PRO_ONLY)
    fake.set_flag("continuity", filters={"groups": [{"rollout_percentage": 100}]})
    fake.set_remote_flags("u1", {"pro": True})
    client = fake.client()
    assert client.get_all_flags("u1") == {"everyone": True, "pro": True, "continuity": True}
    [remote] = flag_requests(fake)
    assert remote.json["flag_keys_to_evaluate"] == ["pro"]
    assert client.get_all_flags("u1", only_evaluate_locally=True) == {
        "everyone": True,
        "continuity": True,
    }
    assert len(flag_requests(fake)) == 1


def test_get_all_flags_keeps_local_results_when_remote_fails(fake: FakePostHog) -> None:
    fake.set_flag("everyone")
    fake.set_flag("pro", filters=PRO_ONLY)
    fake.fail(path="/flags", status=500, times=None)
    client = fake.client()
    assert client.get_all_flags("u1") == {"everyone": True}


def test_group_flags(fake: FakePostHog) -> None:
    fake.set_flag("company-beta", group_type="company", rollout=100)
    client = fake.client()
    assert client.feature_enabled("company-beta", "u1") is False  # group not passed
    assert client.feature_enabled("company-beta", "u1", groups={"company": "acme"}) is True
    assert flag_requests(fake) == []


def test_regex_cannot_freeze_a_request(fake: FakePostHog) -> None:
    fake.set_flag(
        "redos",
        filters={
            "groups": [
                {
                    "properties": [
                        {"key": "name", "value": "^(a|a)+$", "operator": "regex", "type": "person"}
                    ],
                    "rollout_percentage": 100,
                }
            ]
        },
    )
    client = fake.client()
    evil = "a" * 10_000 + "!"
    value = client.get_feature_flag(
        "redos", "u1", person_properties={"name": evil}, only_evaluate_locally=True
    )
    assert value is False


# -- the poller --------------------------------------------------------------------------------


def test_etag_and_304_keep_the_snapshot(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    client = fake.client()
    assert client.load_feature_flags()
    assert client.load_feature_flags()
    first, *later = definition_requests(fake)  # the poller's first fetch may come first
    assert first.header("If-None-Match") is None and later
    assert all(r.header("If-None-Match") == fake.definitions_etag for r in later)
    assert {r.status for r in later} == {304}
    assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
    fake.set_flag("beta", rollout=0)
    assert client.load_feature_flags()
    assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is False


@pytest.mark.parametrize("status", [401, 402])
def test_401_and_402_clear_definitions_with_one_log_line(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    fake.set_flag("beta")
    client = fake.client()
    assert client.load_feature_flags()
    fake.fail(path="/flags/definitions", status=status, times=None)
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        for _ in range(3):
            assert client.load_feature_flags() is False
    assert len([r for r in caplog.records if str(status) in r.getMessage()]) == 1
    assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is None
    assert client.get_feature_flag("beta", "u1") is True  # remote still answers


@pytest.mark.parametrize("body", [b"not json", b'{"flags": 3}', b"[1, 2]"])
def test_malformed_definitions_keep_the_old_snapshot(fake: FakePostHog, body: bytes) -> None:
    fake.set_flag("beta")
    client = fake.client()
    assert client.load_feature_flags()
    from posthog_client.testing import FakeResponse

    fake.respond_with(
        lambda request: FakeResponse(200, body, {"ETag": '"x"'}), path="/flags/definitions"
    )
    assert client.load_feature_flags() is True  # still loaded: the last good snapshot
    assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True


def test_a_failed_first_load_does_not_refetch_on_every_call(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    fake.fail(path="/flags/definitions", status=500, times=None)
    client = fake.client(poll_interval=60)
    for _ in range(20):
        assert client.get_feature_flag("beta", "u1", send_feature_flag_events=False) is True
    assert len(definition_requests(fake)) == 1
    assert len(flag_requests(fake)) == 20


def test_poller_keeps_definitions_fresh(fake: FakePostHog) -> None:
    fake.set_flag("beta", rollout=0)
    client = fake.client(poll_interval=0.05)
    assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is False
    fake.set_flag("beta", rollout=100)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if client.get_feature_flag("beta", "u1", only_evaluate_locally=True):
            break
        fake.wait_for_requests(len(fake.requests) + 1, timeout=1)
    assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True


def test_personal_key_only_travels_in_the_definitions_authorization_header(
    fake: FakePostHog,
) -> None:
    fake.set_flag("pro", filters=PRO_ONLY)
    client = fake.client()
    client.get_feature_flag("pro", "u1")
    client.capture("u1", "e")
    client.flush()
    for request in fake.requests:
        carried = "phx_test" in json.dumps([request.query, request.body.decode(), request.path])
        assert not carried
        auth = request.header("Authorization")
        assert (auth == "Bearer phx_test") == (request.path == "/flags/definitions")


# -- events ------------------------------------------------------------------------------------


def test_feature_flag_called_is_deduplicated(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    client = fake.client()
    for _ in range(5):
        client.feature_enabled("beta", "u1")
    client.feature_enabled("beta", "u1", groups={"company": "acme"})
    client.feature_enabled("beta", "u2")
    client.feature_enabled("beta", "u2", send_feature_flag_events=False)
    client.flush()
    events = fake.events.named("$feature_flag_called")
    assert [(e.distinct_id, e.properties.get("$groups")) for e in events] == [
        ("u1", None),
        ("u1", {"company": "acme"}),
        ("u2", None),
    ]
    props = events[0].properties
    assert props["$feature_flag"] == "beta" and props["$feature_flag_response"] is True
    assert props["locally_evaluated"] is True and props["$feature/beta"] is True
    assert props["$feature_flag_id"] == 1


def test_a_burst_of_unique_flag_calls_is_counted_not_silently_lost(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    client = fake.client(max_queue_size=5_000, flush_at=1000, flush_interval=60)
    for i in range(20_000):
        client.feature_enabled("beta", f"user-{i}")
    stats = client.stats()
    assert stats.accepted == 20_000
    assert stats.dropped["queue_full"] + stats.sent + stats.pending == 20_000
    client.flush(timeout=10)
    assert len(fake.events) == client.stats().sent


def test_capture_with_send_feature_flags(fake: FakePostHog) -> None:
    fake.set_flag("on")
    fake.set_flag("off", rollout=0)
    fake.set_flag("pro", filters=PRO_ONLY)
    client = fake.client()
    client.capture("u1", "e", {"$feature/on": "mine"}, send_feature_flags=True)
    client.flush()
    props = fake.events[0].properties
    assert props["$feature/on"] == "mine" and props["$feature/off"] is False
    assert props["$active_feature_flags"] == ["on"] and "$feature/pro" not in props
    assert flag_requests(fake) == []


# -- never raise ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.feature_enabled(None, "u1"),
        lambda c: c.feature_enabled("beta", ""),
        lambda c: c.get_feature_flag("beta", "u1", groups="acme"),
        lambda c: c.get_feature_flag("beta", "u1", person_properties=[1]),
        lambda c: c.get_feature_flag("beta", "u1", group_properties={"company": 1}),
        lambda c: c.get_all_flags(None),
    ],
)
def test_bad_flag_calls_return_neutral_values(fake: FakePostHog, call: Any) -> None:
    fake.set_flag("beta")
    client = fake.client()
    assert call(client) in (None, {})


@pytest.fixture
def module_api(fake: FakePostHog) -> Iterator[FakePostHog]:
    with fake.patch_module():
        yield fake


def test_module_level_flags(module_api: FakePostHog) -> None:
    module_api.set_flag("beta", payload={"a": 1})
    assert posthog.feature_enabled("beta", "u1") is True
    assert posthog.get_feature_flag("beta", "u1") is True
    assert posthog.get_feature_flag_payload("beta", "u1") == {"a": 1}
    assert posthog.get_all_flags("u1") == {"beta": True}
    assert posthog.load_feature_flags() is True
    posthog.disabled = True
    assert posthog.get_all_flags("u1") == {}


def test_property_matching_version_switches_with_a_new_poll(fake: FakePostHog) -> None:
    flag = {
        "id": 7,
        "key": "f",
        "active": True,
        "filters": {"groups": [{"properties": [{"key": "k", "value": False, "type": "person"}]}]},
    }
    fake.set_definitions(
        {"flags": [flag], "group_type_mapping": {}, "property_matching_version": 1}
    )
    client = fake.client()
    args: dict[str, Any] = {"person_properties": {"k": "banana"}, "only_evaluate_locally": True}
    assert client.get_feature_flag("f", "u1", **args) is True  # legacy: both falsy
    fake.set_definitions(
        {"flags": [flag], "group_type_mapping": {}, "property_matching_version": 2}
    )
    assert client.load_feature_flags()
    assert client.get_feature_flag("f", "u1", **args) is False  # explicit: "banana" != false
    fake.set_definitions({"flags": [flag], "group_type_mapping": {}})
    assert client.load_feature_flags()
    assert client.get_feature_flag("f", "u1", **args) is True  # no field: legacy again


def test_fuzzed_flag_calls_never_raise(fake: FakePostHog) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    fake.set_flag("beta", filters=PRO_ONLY)
    client = fake.client()
    values = st.one_of(st.none(), st.text(max_size=5), st.integers(), st.floats(), st.booleans())
    props = st.one_of(st.none(), st.dictionaries(st.text(max_size=4), values, max_size=3), values)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        key=st.one_of(st.just("beta"), st.text(max_size=5), st.none()),
        distinct_id=st.one_of(st.text(max_size=5), st.integers(), st.none()),
        person=props,
        groups=st.one_of(st.none(), st.dictionaries(st.text(max_size=3), values, max_size=2)),
    )
    def check(key: Any, distinct_id: Any, person: Any, groups: Any) -> None:
        client.get_feature_flag_result(
            key, distinct_id, person_properties=person, groups=groups, only_evaluate_locally=True
        )
        client.get_all_flags(distinct_id, person_properties=person, only_evaluate_locally=True)

    check()


def test_disable_geoip_per_call_and_unknown_options(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_flag("beta")
    client = remote_client(fake)
    client.get_feature_flag("beta", "u1", disable_geoip=False)
    client.get_feature_flag("beta", "u1")
    assert [r.json["geoip_disable"] for r in flag_requests(fake)] == [False, True]
    assert client.get_feature_flag("beta", "u1", not_an_option=1) is None  # type: ignore[call-arg]
    assert "unknown keyword argument 'not_an_option'" in caplog.text


def test_payload_for_a_value_already_evaluated(fake: FakePostHog) -> None:
    fake.set_flag("multi", variants={"a": 50, "Bee": 50}, payload={"a": 1, "Bee": 2})
    local = fake.client()
    assert local.get_feature_flag_payload("multi", "u1", match_value="Bee") == 2
    assert local.get_feature_flag_payload("multi", "u1", match_value="bee") is None  # exact case
    assert flag_requests(fake) == [] and not fake.events.named("$feature_flag_called")
    remote = remote_client(fake)
    value = remote.get_feature_flag("multi", "u1", send_feature_flag_events=False)
    other = "a" if value == "Bee" else "Bee"
    assert (
        remote.get_feature_flag_payload("multi", "u1", match_value=value)
        == {"a": 1, "Bee": 2}[str(value)]
    )
    assert remote.get_feature_flag_payload("multi", "u1", match_value=other) is None


def test_minimal_flag_called_events_when_the_server_asks(fake: FakePostHog) -> None:
    everyone = {"groups": [{"properties": [], "rollout_percentage": 100}]}
    fake.set_definitions(
        {
            "flags": [
                {"id": 1, "key": "plain", "active": True, "filters": everyone},
                {
                    "id": 2,
                    "key": "exp",
                    "active": True,
                    "filters": everyone,
                    "has_experiment": True,
                },
            ],
            "group_type_mapping": {},
            "minimal_flag_called_events": True,
        }
    )
    for client in (fake.client(), remote_client(fake)):
        with posthog.new_context():
            posthog.tag("route", "/x")
            posthog.set_context_session("s-1")
            client.feature_enabled("plain", "u1")
            client.feature_enabled("exp", "u1")
        client.flush()
    events = fake.events.named("$feature_flag_called")
    assert [e.properties["$feature_flag"] for e in events] == ["plain", "exp"] * 2
    for minimal, full in (events[0:2], events[2:4]):
        assert "$feature/plain" not in minimal.properties and "route" not in minimal.properties
        assert minimal.properties["$session_id"] == "s-1" and minimal.properties["$lib"]
        assert full.properties["$feature/exp"] is True and full.properties["route"] == "/x"
