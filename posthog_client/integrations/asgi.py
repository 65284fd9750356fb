"""ASGI integration (Starlette, FastAPI, Quart, any ASGI app): ``PostHogMiddleware``, and flag
calls that never block the event loop.

::

    from fastapi import FastAPI
    import posthog_client as posthog
    from .asgi import PostHogMiddleware, async_feature_enabled

    posthog.api_key = "phc_..."
    app = FastAPI()
    app.add_middleware(PostHogMiddleware)       # or: app = PostHogMiddleware(app, client=client)

    @app.post("/checkout")
    async def checkout():
        posthog.capture("checkout started")    # the person from X-POSTHOG-DISTINCT-ID
        if await async_feature_enabled(None, "new-checkout"):   # runs in a worker thread
            ...

Every HTTP request and WebSocket connection gets a fresh context: the person and session come
from the posthog-js tracing headers ``X-POSTHOG-DISTINCT-ID`` and ``X-POSTHOG-SESSION-ID``, and
events are tagged with ``$request_method`` and ``$request_path``. Without a posthog-js distinct
id, an authenticated ``scope["user"]`` (Starlette's ``AuthenticationMiddleware``, which must then
run before this middleware: add it after this one) gives it: its ``identity``, ``pk``, ``id`` or
``username``; ``identify_users=False`` turns that off. Lifespan (and any other scope)
passes straight through. Exceptions that escape the app become ``$exception`` events and are
re-raised unchanged. This is a pure ASGI middleware: it imports no framework.

Flags on the event loop. ``capture()`` never blocks (it appends to a queue), but a flag call may:
when local evaluation cannot decide, it asks PostHog over HTTP (up to ``flags_timeout``), and the
first call waits up to ``flags_timeout`` for the first definitions download. In async code:

- ``only_evaluate_locally=True`` is the non-blocking choice on the loop: never a network call
  (undecided flags return None). Call ``client.load_feature_flags()`` once at startup (in your
  lifespan, in a thread) so the first call does not wait for the first download.
- otherwise run the call in a worker thread: ``await async_feature_enabled(client, key)`` or
  ``await run_flag_in_thread(client.get_feature_flag, key, distinct_id)``. The current context
  (person, session) goes with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, ParamSpec, TypeVar

from .._client import Client
from .._types import FlagValue
from ._common import (
    DISTINCT_ID_HEADER,
    SESSION_ID_HEADER,
    capture_unhandled,
    header_value,
    request_context,
    request_tags,
    resolve_client,
    user_id,
)

__all__ = [
    "PostHogMiddleware",
    "async_feature_enabled",
    "async_get_feature_flag",
    "run_flag_in_thread",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DISTINCT_ID = DISTINCT_ID_HEADER.lower().encode("latin-1")  # ASGI header names are lowercase
_SESSION_ID = SESSION_ID_HEADER.lower().encode("latin-1")

# How an authenticated ``scope["user"]`` (Starlette's AuthenticationMiddleware) names itself.
_USER_ID_NAMES = ("identity", "pk", "id", "username")

_P = ParamSpec("_P")
_T = TypeVar("_T")


class PostHogMiddleware:
    """A fresh PostHog context per HTTP request / WebSocket connection; ``$exception`` events
    for exceptions that escape the app.

    ``client``: the ``Client`` to capture exceptions with (None: the module-level client).
    """

    def __init__(
        self,
        app: ASGIApp,
        client: Client | None = None,
        capture_exceptions: bool = True,
        *,
        tag_requests: bool = True,
        identify_users: bool = True,
    ) -> None:
        self.app = app
        self.client = client
        self.capture_exceptions = capture_exceptions
        self.tag_requests = tag_requests
        self.identify_users = identify_users

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket"):  # lifespan and the like
            await self.app(scope, receive, send)
            return
        distinct_id, session_id, tags = self._scope_values(scope)
        with request_context(distinct_id, session_id, tags):
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                if self.capture_exceptions:
                    capture_unhandled(self.client, exc, "asgi.middleware")
                raise

    def _scope_values(self, scope: Scope) -> tuple[str | None, str | None, dict[str, Any]]:
        distinct_id = session_id = None
        try:
            for name, value in scope.get("headers") or ():
                lowered = bytes(name).lower()
                if lowered == _DISTINCT_ID:
                    distinct_id = header_value(value)
                elif lowered == _SESSION_ID:
                    session_id = header_value(value)
            tags = request_tags(scope.get("method"), scope.get("path")) if self.tag_requests else {}
            if distinct_id is None and self.identify_users:  # set by an auth middleware before us
                distinct_id = user_id(scope.get("user"), _USER_ID_NAMES)
        except Exception:  # malformed headers: serve the request anyway, context-less
            return None, None, {}
        return distinct_id, session_id, tags


async def run_flag_in_thread(func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a (possibly remote) flag call in a worker thread, so the event loop never waits on
    the network. The current PostHog context goes with it (``asyncio.to_thread`` copies
    context variables)."""
    return await asyncio.to_thread(func, *args, **kwargs)


async def async_feature_enabled(
    client: Client | None,
    key: str,
    distinct_id: str | int | None = None,
    **options: Any,
) -> bool | None:
    """``client.feature_enabled(key, distinct_id, **options)`` in a worker thread.

    ``client`` None means the module-level client; ``distinct_id`` None means the context's.
    """
    target = resolve_client(client)
    if target is None:
        default: bool | None = options.get("default")
        return default
    return await run_flag_in_thread(target.feature_enabled, key, distinct_id, **options)


async def async_get_feature_flag(
    client: Client | None,
    key: str,
    distinct_id: str | int | None = None,
    **options: Any,
) -> FlagValue | None:
    """``client.get_feature_flag(key, distinct_id, **options)`` in a worker thread."""
    target = resolve_client(client)
    if target is None:
        return None
    return await run_flag_in_thread(target.get_feature_flag, key, distinct_id, **options)
