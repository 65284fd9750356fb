"""Django integration: a context per request, tracing headers, unhandled exceptions, settings.

::

    # settings.py
    INSTALLED_APPS = [
        ...,
        "posthog_client.integrations.django.PostHogAppConfig",  # reads the settings below
    ]
    MIDDLEWARE = [
        "posthog_client.integrations.django.PostHogMiddleware",  # near the top
        ...,
    ]
    POSTHOG_API_KEY = "phc_..."
    POSTHOG_HOST = "https://eu.i.posthog.com"
    POSTHOG_PERSONAL_API_KEY = "phx_..."    # optional: local flag evaluation
    POSTHOG_DISABLED = DEBUG                # optional: every call becomes a no-op
    POSTHOG_CAPTURE_EXCEPTIONS = True       # optional (default True)

    # views.py
    import posthog_client as posthog

    def checkout(request):
        posthog.capture("checkout started")   # the person from X-POSTHOG-DISTINCT-ID
        ...

The middleware gives every request a fresh context (nothing leaks into the next request), takes
the person and session from the posthog-js tracing headers ``X-POSTHOG-DISTINCT-ID`` and
``X-POSTHOG-SESSION-ID``, tags events with ``$request_method`` and ``$request_path``, and captures
exceptions that become a 500 (``Http404``, ``PermissionDenied``, ``BadRequest`` and
``SuspiciousOperation`` are not errors of yours) as ``$exception`` events. It works in sync (WSGI)
and async (ASGI) stacks. Without a posthog-js distinct id, events are attributed to the
authenticated user (``str(request.user.pk)``, as the official middleware does): read when the
request reaches this middleware if ``AuthenticationMiddleware`` ran before it, else just before
the view. ``identify_users = False`` (a subclass, or a keyword argument) turns that off. Header
values with control characters or over 1,000 characters are ignored.

The context ends when the middleware returns the response: events captured while a
``StreamingHttpResponse`` is being iterated are not in it.

``POSTHOG_*`` settings configure the module-level client (``posthog_client.api_key`` and
friends); they are read by ``PostHogAppConfig.ready()`` (so Celery workers and management
commands see them too) and by the middleware, once. Settings that are absent leave what you set
in code alone. To use your own ``Client`` instead, subclass the middleware and set ``client``.

Shutting down: queued events are delivered by the SDK's ``atexit`` hook (bounded by
``exit_timeout``); flushing on every ``request_finished`` would cost a round trip per request.
Servers that skip ``atexit`` (``os._exit`` in a worker) can call ``shutdown()`` from their worker
exit hook, e.g. gunicorn's ``worker_exit``.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.apps import AppConfig  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]
from django.core.exceptions import (  # type: ignore[import-untyped]
    BadRequest,
    PermissionDenied,
    SuspiciousOperation,
)
from django.http import Http404  # type: ignore[import-untyped]

import posthog_client

from .._client import Client
from .._events.context import identify_context
from ._common import (
    CAPTURE_EXCEPTIONS_SETTING,
    DISTINCT_ID_HEADER,
    SESSION_ID_HEADER,
    SETTINGS_TO_MODULE,
    capture_unhandled,
    configure_module,
    current_ids,
    flag,
    header_value,
    request_context,
    request_tags,
    safely,
    user_id,
)

__all__ = ["PostHogAppConfig", "PostHogMiddleware", "configure_from_settings", "shutdown"]

# Exceptions Django answers with a 4xx: not bugs, so not captured.
_CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)

_configured = False
_configure_lock = threading.Lock()


def configure_from_settings() -> list[str]:
    """Configure the module-level client from ``POSTHOG_API_KEY``, ``POSTHOG_HOST``,
    ``POSTHOG_PERSONAL_API_KEY`` and ``POSTHOG_DISABLED`` (those present in settings).

    Returns the names of the module attributes that were set.
    """
    values = {name: getattr(settings, name, None) for name in SETTINGS_TO_MODULE}
    return configure_module(values)


def _configure_once() -> None:
    global _configured
    with _configure_lock:
        if _configured:
            return
        _configured = True
    safely(configure_from_settings)


def shutdown(timeout: float = 5.0) -> bool:
    """Deliver what is queued and stop the module-level client (for worker exit hooks)."""
    result = safely(lambda: posthog_client.shutdown(timeout))
    return bool(result)


class PostHogAppConfig(AppConfig):  # type: ignore[misc]
    """Add ``"posthog_client.integrations.django.PostHogAppConfig"`` to ``INSTALLED_APPS`` to
    configure the module-level client from settings at startup."""

    name = "posthog_client.integrations"
    label = "posthog_client"
    verbose_name = "PostHog"

    def ready(self) -> None:
        _configure_once()


class PostHogMiddleware:
    """A fresh PostHog context per request; ``$exception`` events for unhandled exceptions.

    ``client`` (None: the module-level client) and ``capture_exceptions`` (None: the
    ``POSTHOG_CAPTURE_EXCEPTIONS`` setting, default True) can be set by a subclass or passed as
    keyword arguments.
    """

    sync_capable = True
    async_capable = True

    client: Client | None = None
    capture_exceptions: bool | None = None
    tag_requests: bool = True
    identify_users: bool = True  # the logged-in user's pk when posthog-js sent no distinct id

    def __init__(
        self,
        get_response: Callable[[Any], Any],
        *,
        client: Client | None = None,
        capture_exceptions: bool | None = None,
        tag_requests: bool | None = None,
        identify_users: bool | None = None,
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)  # Django then awaits us
        _configure_once()
        if client is not None:
            self.client = client
        if tag_requests is not None:
            self.tag_requests = tag_requests
        if identify_users is not None:
            self.identify_users = identify_users
        if capture_exceptions is None:
            capture_exceptions = self.capture_exceptions
        if capture_exceptions is None:
            capture_exceptions = getattr(settings, CAPTURE_EXCEPTIONS_SETTING, None)
        self.capture_exceptions = flag(capture_exceptions, True)

    def __call__(self, request: Any) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        distinct_id, session_id, tags = self._request_values(request)
        if distinct_id is None and self.identify_users and hasattr(request, "user"):
            distinct_id = user_id(request.user)
        with request_context(distinct_id, session_id, tags):
            return self.get_response(request)

    async def __acall__(self, request: Any) -> Any:
        distinct_id, session_id, tags = self._request_values(request)
        if distinct_id is None and self.identify_users and hasattr(request, "auser"):
            try:
                distinct_id = user_id(await request.auser())
            except Exception:
                distinct_id = None
        with request_context(distinct_id, session_id, tags):
            response: Awaitable[Any] = self.get_response(request)
            return await response

    def process_view(self, request: Any, view: Any, args: Any, kwargs: Any) -> None:
        """Before the view (every middleware has run, so ``request.user`` is known): without a
        person from the tracing headers, the authenticated user's id is the context's."""
        if self.identify_users and current_ids()[0] is None and hasattr(request, "user"):
            distinct_id = safely(lambda: user_id(request.user))
            if distinct_id is not None:
                safely(lambda: identify_context(distinct_id))

    def process_exception(self, request: Any, exception: Exception) -> None:
        """Called by Django for an exception raised by a view; returns None so Django goes on
        handling it as usual."""
        if self.capture_exceptions and not isinstance(exception, _CLIENT_ERRORS):
            capture_unhandled(self.client, exception, "django.middleware")

    def _request_values(self, request: Any) -> tuple[str | None, str | None, dict[str, Any]]:
        try:
            headers = request.headers  # case-insensitive
            distinct_id = header_value(headers.get(DISTINCT_ID_HEADER))
            session_id = header_value(headers.get(SESSION_ID_HEADER))
            tags = request_tags(request.method, request.path) if self.tag_requests else {}
            return distinct_id, session_id, tags
        except Exception:  # a request object we cannot read: still serve it, context-less
            return None, None, {}
