"""Fixtures shared by the suite.

Any internal error inside the SDK fails the test that caused it (users only get a log line).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator

import pytest
from hypothesis import settings

from posthog_client._runtime import internal as _internal
from posthog_client._runtime import misuse
from posthog_client.testing import FakePostHog

# The property tests draw the same examples on every run (the suite is deterministic; a failure
# prints its example). HYPOTHESIS_PROFILE=explore draws fresh ones, to hunt for new failures.
settings.register_profile("suite", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


@pytest.fixture(autouse=True)
def internal_errors_fail_the_test() -> Iterator[list[BaseException]]:
    errors: list[BaseException] = []
    previous = _internal.hook
    _internal.hook = errors.append
    try:
        yield errors
    finally:
        _internal.hook = previous
    if errors:
        raise AssertionError(f"posthog_client raised internally: {errors!r}") from errors[0]


@pytest.fixture(autouse=True)
def fresh_misuse_call_sites() -> None:
    """Each test sees the first warning of each of its call sites (they are rate-limited)."""
    misuse.reset()


@pytest.fixture(autouse=True)
def no_leftover_non_daemon_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leftovers = [
        t for t in threading.enumerate() if t not in before and not t.daemon and t.is_alive()
    ]
    assert not leftovers, f"test left non-daemon threads running: {leftovers}"


@pytest.fixture(autouse=True)
def restore_sdk_logger() -> Iterator[None]:
    """``debug=True`` adds a handler and lowers the level of our logger: undo it per test."""
    logger = logging.getLogger("posthog_client")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    """One real redis-server for the session (tests keep apart by namespace); skips, with the
    reason shown, where redis-server is not installed. CI installs it (.ci/run)."""
    from servers import redis_server

    with redis_server() as port:
        yield port


@pytest.fixture
def fake() -> Iterator[FakePostHog]:
    with FakePostHog() as server:
        yield server
