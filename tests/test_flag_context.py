"""Flag inputs stored per request context (PostHog's sdk-specs ``set-``/``reset-person-`` and
``group-properties-for-flags.feature``) and the ``$feature_flag_called`` tracker
(``feature-flag-called-tracker.feature``), checked on what reached the fake."""

from __future__ import annotations

import threading
from typing import Any

from flag_helpers import PRO_ONLY, called, flag_requests

import posthog_client as posthog
from posthog_client._events import context as _context
from posthog_client.testing import FakePostHog

# -- person and group properties for flags ------------------------------------------------------


def test_person_properties_are_stored_and_sent_with_flag_requests(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    client = fake.client(personal_api_key=None)
    with posthog.new_context():
        posthog.set_person_properties_for_flags({"plan": "pro"})
        posthog.set_person_properties_for_flags({"seats": 3})  # merged over the first
        assert _context.current().person_properties_for_flags == {"plan": "pro", "seats": 3}
        client.get_feature_flag("beta", "u1", send_feature_flag_events=False)
        client.get_feature_flag(
            "beta", "u1", person_properties={"plan": "free"}, send_feature_flag_events=False
        )
        client.evaluate_flags("u1")
        posthog.reset_person_properties_for_flags()
        assert _context.current().person_properties_for_flags == {}
        client.get_feature_flag("beta", "u1", send_feature_flag_events=False)
    sent = [r.json["person_properties"] for r in flag_requests(fake)]
    assert sent == [
        {"plan": "pro", "seats": 3},
        {"plan": "free", "seats": 3},  # the call's own properties win
        {"plan": "pro", "seats": 3},
        {},
    ]


def test_group_properties_are_stored_per_group_type(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    client = fake.client(personal_api_key=None)
    groups = {"company": "company-123"}
    with posthog.new_context():
        posthog.set_group_properties_for_flags({"company": {"plan": "pro"}, "team": {"n": 1}})
        posthog.set_group_properties_for_flags({"company": {"size": 5}})
        client.get_feature_flag("beta", "u1", groups=groups, send_feature_flag_events=False)
        client.evaluate_flags("u1", groups=groups, group_properties={"company": {"plan": "free"}})
        posthog.reset_group_properties_for_flags("team")
        client.get_feature_flag("beta", "u1", groups=groups, send_feature_flag_events=False)
        posthog.reset_group_properties_for_flags()
        client.get_feature_flag("beta", "u1", groups=groups, send_feature_flag_events=False)
    sent = [r.json["group_properties"] for r in flag_requests(fake)]
    assert sent == [
        {"company": {"plan": "pro", "size": 5}, "team": {"n": 1}},
        {"company": {"plan": "free", "size": 5}, "team": {"n": 1}},
        {"company": {"plan": "pro", "size": 5}},
        {},
    ]


def test_stored_properties_decide_locally(fake: FakePostHog) -> None:
    fake.set_flag("pro", filters=PRO_ONLY)
    client = fake.client()
    with posthog.new_context():
        posthog.set_person_properties_for_flags({"plan": "pro"})
        assert client.feature_enabled("pro", "u1") is True
        assert client.evaluate_flags("u1").get_flag("pro") is True
        assert client.get_all_flags("u1") == {"pro": True}
    assert client.get_feature_flag("pro", "u1", only_evaluate_locally=True) is None
    assert flag_requests(fake) == []


def test_stored_properties_stay_in_their_context(fake: FakePostHog) -> None:
    seen: list[Any] = []
    with posthog.new_context():
        posthog.set_person_properties_for_flags({"plan": "pro"})
        with posthog.new_context():  # inherited, and changes inside do not leak out
            posthog.set_person_properties_for_flags({"seats": 2})
            seen.append(dict(_context.current().person_properties_for_flags))
        seen.append(dict(_context.current().person_properties_for_flags))
        thread = threading.Thread(
            target=lambda: seen.append(dict(_context.current().person_properties_for_flags))
        )
        thread.start()
        thread.join()
        with posthog.new_context(fresh=True):
            seen.append(dict(_context.current().person_properties_for_flags))
    seen.append(dict(_context.current().person_properties_for_flags))
    assert seen == [{"plan": "pro", "seats": 2}, {"plan": "pro"}, {}, {}, {}]


def test_bad_stored_properties_are_refused_with_a_warning(caplog: Any) -> None:
    with posthog.new_context():
        posthog.set_person_properties_for_flags(["plan"])  # type: ignore[arg-type]
        posthog.set_group_properties_for_flags({"company": "acme"})  # type: ignore[dict-item]
        assert _context.current().person_properties_for_flags == {}
        assert _context.current().group_properties_for_flags == {}
    assert "set_person_properties_for_flags" in caplog.text
    assert "set_group_properties_for_flags" in caplog.text


# -- the $feature_flag_called tracker ----------------------------------------------------------


def test_one_event_per_value_and_again_when_it_changes(fake: FakePostHog) -> None:
    fake.set_flag("beta-ui")
    client = fake.client(personal_api_key=None)
    client.get_feature_flag("beta-ui", "u1")
    client.get_feature_flag("beta-ui", "u1")
    fake.set_remote_flags("u1", {"beta-ui": False})
    client.get_feature_flag("beta-ui", "u1")
    responses = [e.properties["$feature_flag_response"] for e in called(fake, client)]
    assert responses == [True, False]


def test_group_order_does_not_matter_but_group_keys_do(fake: FakePostHog) -> None:
    fake.set_flag("beta-ui")
    client = fake.client(personal_api_key=None)
    client.get_feature_flag("beta-ui", "u1", groups={"company": "a", "team": "t"})
    client.get_feature_flag("beta-ui", "u1", groups={"team": "t", "company": "a"})
    client.evaluate_flags("u1", groups={"team": "t", "company": "a"}).get_flag("beta-ui")
    client.get_feature_flag("beta-ui", "u1", groups={"company": "b", "team": "t"})
    events = called(fake, client)
    assert [e.properties["$groups"]["company"] for e in events] == ["a", "b"]


def test_shutdown_clears_the_tracker(fake: FakePostHog) -> None:
    fake.set_flag("beta-ui")
    client = fake.client(personal_api_key=None)
    client.get_feature_flag("beta-ui", "u1")
    events = client._flags.resolver.events
    assert events._reported
    client.shutdown()
    assert not events._reported
