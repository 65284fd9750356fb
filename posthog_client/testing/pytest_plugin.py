"""pytest plugin (registered through the ``pytest11`` entry point): fixtures for your tests.

- ``posthog_fake``: a fresh ``FakePostHog`` per test.
- ``posthog_client``: a ``Client`` wired to it, shut down at teardown.
- ``posthog_module``: the module-level API (``import posthog_client as posthog``) routed to the
  fake for the test, restored afterwards.

Loaded in every test run of a project that installs posthog-client, so it imports the fake (and
with it ``requests`` and the flag engine) only when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .._client import Client
    from ._fake import FakePostHog


@pytest.fixture
def posthog_fake() -> Iterator[FakePostHog]:
    """An in-memory PostHog: assert on ``posthog_fake.events`` and ``posthog_fake.requests``."""
    from ._fake import FakePostHog

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
