"""Process-wide hooks: fork and exit, for every live client part.

- **Fork.** After ``os.fork()`` every registered object resets itself in the child (new queue,
  threads, connections, locks). ``os.register_at_fork`` runs the reset for Python-level forks;
  C-level forks (uWSGI's workers, ``ctypes`` ``fork()``) run no hooks, so the paths that need
  it call ``check_fork()``, which compares the process id (one cheap call).
- **Exit.** One ``atexit`` hook flushes every consumer that still holds events, in parallel,
  within one process-wide budget (the largest ``exit_timeout``), then counts what is left.

Registries hold weak references, so a client that is dropped is not kept alive by them.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import time
import weakref
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger("posthog_client")


class _ForkAware(Protocol):
    def reset_after_fork(self) -> None: ...


class _ExitAware(Protocol):
    exit_timeout: float

    def pending(self) -> int: ...

    def begin_flush(self) -> Callable[[float], bool]: ...

    def stop(self, deadline: float, *, log: bool = True) -> int: ...


_fork_aware: weakref.WeakSet[_ForkAware] = weakref.WeakSet()
_exit_aware: weakref.WeakSet[_ExitAware] = weakref.WeakSet()
_clients: weakref.WeakSet[object] = weakref.WeakSet()
_pid = os.getpid()


def on_fork(obj: _ForkAware) -> None:
    """Call ``obj.reset_after_fork()`` in the child after every fork."""
    _fork_aware.add(obj)


def on_exit(obj: _ExitAware) -> None:
    """Flush ``obj`` (within the process-wide budget) when the interpreter exits."""
    _exit_aware.add(obj)


def forget(obj: object) -> None:
    _fork_aware.discard(obj)  # type: ignore[arg-type]
    _exit_aware.discard(obj)  # type: ignore[arg-type]


def check_fork() -> None:
    """Reset everything if this process is a child that no fork hook told us about."""
    if os.getpid() != _pid:
        _after_fork_in_child()


class _Stoppable(Protocol):
    def release(self) -> None: ...


class _Stop(Protocol):
    def stop(self) -> None: ...


def release(consumer: _Stoppable, poller: _Stop | None) -> None:
    """A client was dropped without ``shutdown()``: its threads deliver what is queued, then
    end (called by the client's ``weakref.finalize``, so it must not refer to the client)."""
    consumer.release()
    if poller is not None:
        poller.stop()


_MANY_CLIENTS = 20
_warned_many = False


def add_client(client: object) -> None:
    """Count a live client; one warning when a process holds many (a client per request)."""
    global _warned_many
    _clients.add(client)
    live = len(_clients)
    if live > _MANY_CLIENTS and not _warned_many:
        _warned_many = True
        logger.warning(
            "posthog_client: %d clients are alive in this process; create one Client per "
            "process and reuse it (each has its own threads and queue)",
            live,
        )


def _after_fork_in_child() -> None:
    global _pid
    _pid = os.getpid()
    # A fork without Python's at-fork hooks (uWSGI's workers) skips the reseed `random` does in
    # its own hook: every worker would draw the master's random stream, so the random bits of
    # their event uuids would repeat across workers. (Harmless twice after an os.fork().)
    random.seed()
    for obj in list(_fork_aware):
        try:
            obj.reset_after_fork()
        except Exception:  # one broken object must not stop the others from resetting
            logger.exception("posthog_client: reset after fork failed")


def _at_exit() -> None:
    if os.getpid() != _pid:  # a child that never sent anything of its own
        return
    holders = [obj for obj in list(_exit_aware) if obj.pending()]
    if not holders:
        return
    budget = max(obj.exit_timeout for obj in holders)
    deadline = time.monotonic() + budget
    waits = []
    for obj in holders:
        try:
            waits.append(obj.begin_flush())
        except Exception:
            logger.exception("posthog_client: flush at exit failed")
    for wait in waits:
        wait(max(0.0, deadline - time.monotonic()))
    left = 0
    for obj in holders:
        try:
            left += obj.stop(deadline, log=False)
        except Exception:
            logger.exception("posthog_client: shutdown at exit failed")
    if left:
        logger.warning(
            "posthog_client: %d event(s) could not be delivered before exit (budget %g s, "
            "exit_timeout); see stats() and on_error",
            left,
            budget,
        )


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
