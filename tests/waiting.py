"""Waiting in tests, always with a deadline: for a condition, or for a forked child to exit."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float = 5.0, every: float = 0.01) -> None:
    """Check ``condition`` every ``every`` seconds until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(every)


def wait_child(pid: int, timeout: float = 20.0) -> int:
    """The exit code of the forked child ``pid``; one still running after ``timeout`` is killed
    and the test fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child hung")
