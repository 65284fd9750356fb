"""Process-wide hooks: one ``atexit`` handler and one fork handler for every live object.

Both hold weak references, so a client that is dropped is not kept alive by them.
"""

from __future__ import annotations

import atexit
import logging
import os
import weakref
from typing import Protocol

logger = logging.getLogger("posthog_client")


class _ForkAware(Protocol):
    def reset_after_fork(self) -> None: ...


class _ExitAware(Protocol):
    def close_at_exit(self) -> None: ...


_fork_aware: weakref.WeakSet[_ForkAware] = weakref.WeakSet()
_exit_aware: weakref.WeakSet[_ExitAware] = weakref.WeakSet()


def on_fork(obj: _ForkAware) -> None:
    """Call ``obj.reset_after_fork()`` in the child after every ``os.fork()``."""
    _fork_aware.add(obj)


def on_exit(obj: _ExitAware) -> None:
    """Call ``obj.close_at_exit()`` when the interpreter exits."""
    _exit_aware.add(obj)


def live_count() -> int:
    """How many objects (clients) are registered for exit."""
    return len(_exit_aware)


def forget(obj: object) -> None:
    _fork_aware.discard(obj)  # type: ignore[arg-type]
    _exit_aware.discard(obj)  # type: ignore[arg-type]


class _Stoppable(Protocol):
    def release(self) -> None: ...


class _Stop(Protocol):
    def stop(self) -> None: ...


def release(consumer: _Stoppable, flags: _Stop) -> None:
    """A client was dropped without ``shutdown()``: its threads deliver what is queued, then
    end (called by the client's ``weakref.finalize``, so it must not refer to the client)."""
    consumer.release()
    flags.stop()


_MANY_CLIENTS = 20
_warned_many = False


def warn_if_many_clients() -> None:
    """One warning when a process holds many clients: almost always a client per request."""
    global _warned_many
    live = live_count()
    if live > _MANY_CLIENTS and not _warned_many:
        _warned_many = True
        logger.warning(
            "posthog_client: %d clients are alive in this process; create one Client per "
            "process and reuse it (each has its own threads and queue)",
            live,
        )


def _after_fork_in_child() -> None:
    for obj in list(_fork_aware):
        try:
            obj.reset_after_fork()
        except Exception:  # one broken object must not stop the others from resetting
            logger.exception("posthog_client: reset after fork failed")


def _at_exit() -> None:
    for obj in list(_exit_aware):
        try:
            obj.close_at_exit()
        except Exception:
            logger.exception("posthog_client: shutdown at exit failed")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
