"""Celery integration: the person and session of the code that sent a task follow it to the
worker, each task runs in a fresh context, and failed tasks become ``$exception`` events.

::

    from celery import Celery
    import posthog_client as posthog
    from . import celery as posthog_celery

    app = Celery("shop", broker="redis://localhost")
    posthog_celery.setup(app)     # in the code that sends tasks and in the worker

    @app.task
    def send_receipt(order_id):
        posthog.capture("receipt sent", properties={"order": order_id})  # the sender's person

    # in a request handler, where the context knows the person (see the web integrations):
    send_receipt.delay(42)

``setup()`` connects Celery signals (they are global; ``app`` limits the worker side to that
app's tasks):

- ``before_task_publish`` copies the current context's distinct id and session id into the task
  message headers ``posthog_distinct_id`` and ``posthog_session_id``. Headers you set yourself
  (``apply_async(headers={"posthog_distinct_id": ...})``) are never overwritten.
- ``task_prerun`` enters a fresh context holding them (tagged ``$celery_task`` and
  ``$celery_task_id``) and ``task_postrun`` leaves it, so nothing leaks between tasks. Eager
  tasks (``task_always_eager``, ``.apply()``) run inside their caller's context.
- ``task_failure`` captures the exception as an unhandled ``$exception`` (``capture_exceptions``).
- ``worker_process_shutdown`` flushes the client: prefork pool processes exit without running
  ``atexit`` hooks.

Calling ``setup()`` again replaces the previous setup; ``disconnect()`` on what it returns
removes it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from celery import signals  # type: ignore[import-untyped]

import posthog_client

from .._client import Client
from .._runtime import internal as _internal
from ._common import (
    capture_unhandled,
    current_ids,
    enter_context,
    exit_context,
    header_value,
)

__all__ = ["DISTINCT_ID_TASK_HEADER", "SESSION_ID_TASK_HEADER", "PostHogCelery", "setup"]

DISTINCT_ID_TASK_HEADER = "posthog_distinct_id"
SESSION_ID_TASK_HEADER = "posthog_session_id"

_installed: PostHogCelery | None = None
_install_lock = threading.Lock()


def setup(
    app: Any = None,
    *,
    client: Client | None = None,
    capture_exceptions: bool = True,
    tag_tasks: bool = True,
    shutdown_flush_timeout: float = 5.0,
) -> PostHogCelery:
    """Connect the Celery signals (replacing a previous ``setup()``); returns the handle.

    ``app``: only that app's tasks get a context in the worker (None: every task).
    ``client``: the ``Client`` to capture exceptions with and flush (None: the module-level
    client).
    """
    global _installed
    integration = PostHogCelery(
        app,
        client=client,
        capture_exceptions=capture_exceptions,
        tag_tasks=tag_tasks,
        shutdown_flush_timeout=shutdown_flush_timeout,
    )
    with _install_lock:
        previous, _installed = _installed, integration
    if previous is not None:
        previous.disconnect()
    integration.connect()
    return integration


class PostHogCelery:
    """The signal handlers ``setup()`` connects."""

    def __init__(
        self,
        app: Any = None,
        *,
        client: Client | None = None,
        capture_exceptions: bool = True,
        tag_tasks: bool = True,
        shutdown_flush_timeout: float = 5.0,
    ) -> None:
        get_current = getattr(app, "_get_current_object", None)  # celery.current_app is a proxy
        self.app = get_current() if callable(get_current) else app
        self.client = client
        self.capture_exceptions = capture_exceptions
        self.tag_tasks = tag_tasks
        self.shutdown_flush_timeout = shutdown_flush_timeout
        self._scopes: dict[tuple[str, int], AbstractContextManager[None] | None] = {}
        self._lock = threading.Lock()
        self._connected = False

    def connect(self) -> None:
        if self._connected:
            return
        self._connected = True
        signals.before_task_publish.connect(self.on_before_task_publish, weak=False)
        signals.task_prerun.connect(self.on_task_prerun, weak=False)
        signals.task_postrun.connect(self.on_task_postrun, weak=False)
        signals.task_failure.connect(self.on_task_failure, weak=False)
        signals.worker_process_shutdown.connect(self.on_worker_process_shutdown, weak=False)

    def disconnect(self) -> None:
        global _installed
        if not self._connected:
            return
        self._connected = False
        signals.before_task_publish.disconnect(self.on_before_task_publish)
        signals.task_prerun.disconnect(self.on_task_prerun)
        signals.task_postrun.disconnect(self.on_task_postrun)
        signals.task_failure.disconnect(self.on_task_failure)
        signals.worker_process_shutdown.disconnect(self.on_worker_process_shutdown)
        with _install_lock:
            if _installed is self:
                _installed = None

    # -- sending side ----------------------------------------------------------------------------

    def on_before_task_publish(self, headers: Any = None, **kwargs: Any) -> None:
        """Copy the current person and session into the task message headers."""
        try:
            if not isinstance(headers, dict):  # protocol 1 messages carry no headers dict
                return
            distinct_id, session_id = current_ids()
            if distinct_id is not None:
                headers.setdefault(DISTINCT_ID_TASK_HEADER, distinct_id)
            if session_id is not None:
                headers.setdefault(SESSION_ID_TASK_HEADER, session_id)
        except Exception as exc:
            _internal.report(exc)

    # -- worker side -----------------------------------------------------------------------------

    def on_task_prerun(self, task_id: Any = None, task: Any = None, **kwargs: Any) -> None:
        """Enter the task's context (fresh; a copy of the caller's for eager tasks)."""
        try:
            if task is None or not self._ours(task):
                return
            request = getattr(task, "request", None)
            eager = bool(getattr(request, "is_eager", False))
            tags: dict[str, Any] = {}
            if self.tag_tasks:
                tags = {"$celery_task": str(getattr(task, "name", "")), "$celery_task_id": task_id}
            scope = enter_context(
                header_value(_task_header(request, DISTINCT_ID_TASK_HEADER)),
                header_value(_task_header(request, SESSION_ID_TASK_HEADER)),
                {k: v for k, v in tags.items() if v},
                fresh=not eager,
            )
            with self._lock:
                self._scopes[(str(task_id), threading.get_ident())] = scope
        except Exception as exc:
            _internal.report(exc)

    def on_task_postrun(self, task_id: Any = None, task: Any = None, **kwargs: Any) -> None:
        """Leave the context ``on_task_prerun`` entered for this task."""
        try:
            with self._lock:
                scope = self._scopes.pop((str(task_id), threading.get_ident()), None)
        except Exception as exc:
            _internal.report(exc)
            return
        exit_context(scope)

    def on_task_failure(
        self, sender: Any = None, exception: BaseException | None = None, **kwargs: Any
    ) -> None:
        """Capture a failed task's exception (the task's context is still current)."""
        if not self.capture_exceptions or exception is None:
            return
        try:
            if sender is not None and not self._ours(sender):
                return
        except Exception as exc:
            _internal.report(exc)
            return
        capture_unhandled(self.client, exception, "celery.task_failure", mechanism="task")

    def on_worker_process_shutdown(self, **kwargs: Any) -> None:
        """Deliver what is queued before a pool process exits (it skips ``atexit``)."""
        try:
            if self.client is not None:
                self.client.flush(timeout=self.shutdown_flush_timeout)
            else:
                posthog_client.flush(timeout=self.shutdown_flush_timeout)
        except Exception as exc:
            _internal.report(exc)

    def _ours(self, task: Any) -> bool:
        return self.app is None or getattr(task, "app", None) is self.app


def _task_header(request: Any, name: str) -> Any:
    """A custom message header as the worker sees it: an attribute of ``task.request`` (message
    protocol 2) or an entry of ``task.request.headers`` (eager tasks, older protocols)."""
    if request is None:
        return None
    value = getattr(request, name, None)
    if value is None:
        headers = getattr(request, "headers", None)
        if isinstance(headers, Mapping):
            value = headers.get(name)
    return value
