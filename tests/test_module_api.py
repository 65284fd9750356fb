"""The module-level API: ``import posthog_client as posthog; posthog.api_key = ...``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import posthog_client as posthog
from posthog_client.testing import FakePostHog


@pytest.fixture
def configured(fake: FakePostHog) -> Iterator[FakePostHog]:
    with fake.patch_module(personal_api_key=None):
        yield fake


def test_module_level_calls_reach_the_server(configured: FakePostHog) -> None:
    assert posthog.capture("ian@posthog.com", "login", groups={"company": "posthog"})
    assert posthog.identify("ian@posthog.com", {"plan": "pro"})
    assert posthog.group_identify("company", "posthog", {"name": "PostHog"})
    assert posthog.alias("ian@posthog.com", "ian")
    assert posthog.set("ian", {"a": 1}) and posthog.set_once("ian", {"b": 2})
    assert posthog.flush()
    assert configured.events.names() == [
        "login",
        "$identify",
        "$groupidentify",
        "$create_alias",
        "$set",
        "$set_once",
    ]
    assert posthog.stats().sent == 6
    assert posthog.shutdown()


def test_disabled_turns_every_call_into_a_no_op(configured: FakePostHog) -> None:
    posthog.disabled = True
    assert posthog.capture("u1", "e") is None
    assert posthog.flush()
    assert configured.requests == []


def test_missing_key_is_a_no_op(configured: FakePostHog) -> None:
    posthog.api_key = None
    assert posthog.capture("u1", "e") is None
    assert posthog.get_client() is None


def test_changing_settings_rebuilds_the_client(configured: FakePostHog) -> None:
    first = posthog.get_client()
    assert first is posthog.get_client()
    posthog.sync_mode = True
    second = posthog.get_client()
    assert second is not first and second is not None
    posthog.capture("u1", "e")
    assert configured.events.names() == ["e"]


def test_changing_settings_never_makes_the_caller_wait_for_the_old_client(
    configured: FakePostHog,
) -> None:
    """The old client's events are delivered by its own thread, not by the next capture()."""
    with configured.serve() as url:
        posthog.host, posthog.session = url, None
        configured.delay(2.0)  # a slow server: the old client's request takes 2 s
        assert posthog.capture("u1", "to the old client")
        old = posthog.get_client()
        assert old is not None
        assert len(configured.wait_for_requests(1)) == 1  # its request is under way (2 s)
        posthog.debug = True  # a settings change: a new client on the next call
        started = time.monotonic()
        assert posthog.capture("u1", "to the new client")
        assert time.monotonic() - started < 0.5
        assert posthog.flush(timeout=5)
        assert old.flush(timeout=5)  # its own thread delivered it
        assert sorted(configured.events.names()) == ["to the new client", "to the old client"]
        old.shutdown()


def test_module_flush_does_not_create_a_client(configured: FakePostHog) -> None:
    posthog.shutdown()
    assert posthog.flush() is True
    assert posthog._default is None and configured.requests == []
