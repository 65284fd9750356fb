"""Flask integration: the ``PostHog`` extension.

::

    from flask import Flask
    import posthog_client as posthog
    from .flask import PostHog

    app = Flask(__name__)
    app.config["POSTHOG_API_KEY"] = "phc_..."
    app.config["POSTHOG_HOST"] = "https://eu.i.posthog.com"
    PostHog(app)                     # or: ext = PostHog(); ext.init_app(app)

    @app.post("/checkout")
    def checkout():
        posthog.capture("checkout started")   # the person from X-POSTHOG-DISTINCT-ID
        return "ok"

Every request gets a fresh context (pushed before any other ``before_request`` hook, popped at
teardown, so nothing leaks into the next request even when a hook fails): the person and session
come from the posthog-js tracing headers ``X-POSTHOG-DISTINCT-ID`` and ``X-POSTHOG-SESSION-ID``,
and events are tagged with ``$request_method`` and ``$request_path``. Exceptions Flask turns
into a 500 become ``$exception`` events (``got_request_exception``); HTTP errors (``abort(404)``)
do not.

Without a ``client``, ``init_app`` configures the module-level client from ``POSTHOG_API_KEY``,
``POSTHOG_HOST``, ``POSTHOG_PERSONAL_API_KEY`` and ``POSTHOG_DISABLED`` when they are in
``app.config`` (absent keys leave what you set in code alone). ``POSTHOG_CAPTURE_EXCEPTIONS``
(default True) is read when ``capture_exceptions`` is not given. The extension is available as
``app.extensions["posthog"]``. Queued events are delivered at exit by the SDK's ``atexit`` hook.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, got_request_exception, request

from .._client import Client
from .._runtime import internal as _internal
from ._common import (
    CAPTURE_EXCEPTIONS_SETTING,
    DISTINCT_ID_HEADER,
    SESSION_ID_HEADER,
    capture_unhandled,
    configure_module,
    enter_context,
    exit_context,
    flag,
    header_value,
    request_tags,
)

__all__ = ["PostHog"]

_SCOPE_KEY = "posthog_client.context"  # where a request's context lives in its WSGI environ


class PostHog:
    """Flask extension: a PostHog context per request and ``$exception`` events.

    ``client``: the ``Client`` to capture exceptions with (None: the module-level client).
    ``capture_exceptions``: None reads ``app.config["POSTHOG_CAPTURE_EXCEPTIONS"]`` (default
    True).
    """

    def __init__(
        self,
        app: Flask | None = None,
        client: Client | None = None,
        capture_exceptions: bool | None = None,
        *,
        tag_requests: bool = True,
    ) -> None:
        self.client = client
        self.capture_exceptions = capture_exceptions
        self.tag_requests = tag_requests
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if app.extensions.get("posthog") is self:
            return
        if self.client is None:
            configure_module(app.config)
        app.extensions["posthog"] = self
        # First of the app's before_request hooks: the ones after it can identify_context().
        app.before_request_funcs.setdefault(None, []).insert(0, self._before_request)
        app.teardown_request(self._teardown_request)
        got_request_exception.connect(self._on_exception, app)

    def _before_request(self) -> None:
        try:
            environ = request.environ
            if _SCOPE_KEY in environ:  # already entered for this request
                return
            headers = request.headers  # case-insensitive
            tags = request_tags(request.method, request.path) if self.tag_requests else {}
            environ[_SCOPE_KEY] = enter_context(
                header_value(headers.get(DISTINCT_ID_HEADER)),
                header_value(headers.get(SESSION_ID_HEADER)),
                tags,
            )
        except Exception as exc:
            _internal.report(exc)

    def _teardown_request(self, exc: BaseException | None) -> None:
        try:
            scope = request.environ.pop(_SCOPE_KEY, None)
        except Exception as error:
            _internal.report(error)
            return
        exit_context(scope)

    def _on_exception(self, sender: Flask, exception: BaseException, **extra: Any) -> None:
        try:
            enabled = self.capture_exceptions
            if enabled is None:
                enabled = flag(sender.config.get(CAPTURE_EXCEPTIONS_SETTING), True)
        except Exception as error:
            _internal.report(error)
            return
        if enabled:
            capture_unhandled(self.client, exception, "flask.got_request_exception")
