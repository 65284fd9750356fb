"""pytest plugin (registered through the ``pytest11`` entry point): fixtures for your tests.

- ``posthog_fake``: a fresh ``FakePostHog`` per test.
- ``posthog_client``: a ``Client`` wired to it, shut down at teardown.
- ``posthog_module``: the module-level API (``import posthog_client as posthog``) routed to the
  fake for the test, restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ._fake import FakePostHog

if TYPE_CHECKING:
    from .._client import Client


@pytest.fixture
def posthog_fake() -> Iterator[FakePostHog]:
    """An in-memory PostHog: assert on ``posthog_fake.events`` and ``posthog_fake.requests``."""
    with FakePostHog() as fake:
        yield fake


@pytest.fixture
def posthog_client(posthog_fake: FakePostHog) -> Client:
    """A real ``Client`` wired to ``posthog_fake`` (shut down at teardown)."""
    return posthog_fake.client()


@pytest.fixture
def posthog_module(posthog_fake: FakePostHog) -> Iterator[FakePostHog]:
    """Route ``posthog_client.capture(...)`` and friends to ``posthog_fake`` for this test."""
    with posthog_fake.patch_module():
        yield posthog_fake
