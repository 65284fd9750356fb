"""Fixtures shared by the suite.

Any internal error inside the SDK fails the test that caused it (users only get a log line).
"""

from __future__ import annotations

import logging
import os
import socket
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

# The suite never uses the network: a name lookup other than the loopback's fails at once (as it
# would offline) and fails the test it happened in (or, from a client some earlier test left
# running, the next one of this process). Child processes are not watched.
_real_getaddrinfo = socket.getaddrinfo
_LOOPBACK = frozenset(("localhost", "127.0.0.1", "::1", "0.0.0.0", ""))
_network_attempts: list[str] = []


def _offline_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
    name = host.decode() if isinstance(host, bytes) else "" if host is None else str(host)
    if name in _LOOPBACK or name.startswith("127."):
        return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]
    _network_attempts.append(name)
    raise socket.gaierror(socket.EAI_NONAME, f"the test suite does not use the network: {name}")


socket.getaddrinfo = _offline_getaddrinfo  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def no_network() -> Iterator[None]:
    yield  # (a lookup made between two tests is counted against the next one)
    attempts, _network_attempts[:] = list(_network_attempts), []
    assert not attempts, f"name lookups of {sorted(set(attempts))}: the suite stays off the network"


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
