"""Fixtures for the framework integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import posthog_client
from posthog_client.testing import EventList, FakePostHog


@pytest.fixture
def module_fake(fake: FakePostHog) -> Iterator[FakePostHog]:
    """The module-level API (what integrations use without an explicit client) -> ``fake``."""
    with fake.patch_module():
        yield fake


@pytest.fixture
def delivered(fake: FakePostHog) -> Callable[[], EventList]:
    """Flush the module-level client; return what reached the fake."""

    def flush_and_read() -> EventList:
        assert posthog_client.flush(timeout=5)
        return fake.events

    return flush_and_read
