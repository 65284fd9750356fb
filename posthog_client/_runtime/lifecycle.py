"""Process-wide hooks: fork and exit, for every live client part.

- **Fork.** After ``os.fork()`` every registered object resets itself in the child (new queue,
  threads, connections, locks). ``os.register_at_fork`` runs the reset for Python-level forks;
  C-level forks (uWSGI's workers, ``ctypes`` ``fork()``) run no hooks, so the paths that need
  it call ``check_fork()``, which compares the process id (one cheap call).
- **Exit.** One ``atexit`` hook flushes every consumer that still holds events, in parallel,
  within one process-wide budget (the largest ``exit_timeout``), then counts what is left.
  uWSGI skips Python's ``atexit`` in a worker stopped mid-request, so under uWSGI the same flush
  is also registered with the C library's exit handlers (see ``_flush_at_c_exit``).

Registries hold weak references, so a client that is dropped is not kept alive by them.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import sys
import time
import weakref
from collections.abc import Callable
from types import FrameType
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
_PACKAGE = __name__.partition(".")[0]


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


def _flush_holders() -> tuple[list[_ExitAware], float, float]:
    """Start a flush on every client part that holds events and wait for all of them within
    the largest ``exit_timeout``; returns the holders, the deadline and the budget."""
    holders = [obj for obj in list(_exit_aware) if obj.pending()]
    if not holders:
        return holders, 0.0, 0.0
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
    return holders, deadline, budget


def _warn_left(left: int, budget: float) -> None:
    if left:
        logger.warning(
            "posthog_client: %d event(s) could not be delivered before exit (budget %g s, "
            "exit_timeout); see stats() and on_error",
            left,
            budget,
        )


def _at_exit() -> None:
    if os.getpid() != _pid:  # a child that never sent anything of its own
        return
    holders, deadline, budget = _flush_holders()
    left = 0
    for obj in holders:
        try:
            left += obj.stop(deadline, log=False)
        except Exception:
            logger.exception("posthog_client: shutdown at exit failed")
    _warn_left(left, budget)


def _flush_at_c_exit(_arg: object = None) -> None:
    """Run by the C library's ``exit()`` in a uWSGI worker.

    uWSGI stops its workers with ``exit()`` from a signal handler (SIGINT from the master on
    SIGINT/SIGQUIT, or SIGTERM with ``--die-on-term``), and its Python plugin then skips Python's
    ``atexit`` in a worker that is busy with a request (``uwsgi_python_atexit`` in uWSGI's
    ``plugins/python/python_plugin.c`` returns early on ``uwsgi_worker_is_busy``): the events
    of the requests the worker had already served would be lost without a word. The C exit
    handlers still run, so this one flushes (within the exit budget) without stopping anything:
    where Python's ``atexit`` does run afterwards, ``_at_exit`` finds the work done.

    It runs on the thread that took the signal, in the middle of whatever that thread was
    doing, as uWSGI's own exit path does. If that thread was inside this package (it may hold
    one of our locks), flushing could wait on itself: it does nothing then, and says so.
    """
    try:
        if os.getpid() != _pid or _uwsgi_worker_id() <= 0:
            return  # uWSGI's master runs Python's atexit as usual
        try:
            frame: FrameType | None = sys._getframe(1)  # what the signal interrupted
        except ValueError:  # called straight from C: no Python code was interrupted
            frame = None
        while frame is not None:
            if str(frame.f_globals.get("__name__", "")).partition(".")[0] == _PACKAGE:
                if any(obj.pending() for obj in list(_exit_aware)):
                    logger.warning(
                        "posthog_client: uWSGI stopped this worker inside the SDK; events "
                        "still queued could not be flushed"
                    )
                return
            frame = frame.f_back
        holders, _, budget = _flush_holders()
        _warn_left(sum(obj.pending() for obj in holders), budget)
    except BaseException:  # an exit handler must never raise into C
        pass


def _uwsgi_worker_id() -> int:
    module = sys.modules.get("uwsgi")
    try:
        return int(module.worker_id()) if module is not None else 0
    except Exception:
        return 0


_c_exit_hook: object = None


def _register_c_exit_hook() -> None:
    """Under uWSGI (its ``uwsgi`` module is loaded), register ``_flush_at_c_exit`` with the C
    library's exit handlers, once: the registration is inherited by forked workers."""
    global _c_exit_hook
    if _c_exit_hook is not None or "uwsgi" not in sys.modules or os.name != "posix":
        return
    try:
        import ctypes

        hook = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(_flush_at_c_exit)
        libc = ctypes.CDLL(None)
        # glibc exports ``__cxa_atexit`` (its ``atexit`` is a static stub); musl exports both
        if hasattr(libc, "__cxa_atexit"):
            registered = libc.__cxa_atexit(hook, None, None) == 0
        else:
            registered = libc.atexit(hook) == 0
        if registered:
            _c_exit_hook = hook  # kept alive for as long as the process
    except Exception:
        logger.debug("posthog_client: could not register the uWSGI exit flush", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
_register_c_exit_hook()
