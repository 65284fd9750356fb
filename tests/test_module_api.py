"""The module-level API: ``import posthog_client as posthog; posthog.api_key = ...``."""

from __future__ import annotations

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
