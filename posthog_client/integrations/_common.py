"""What every framework integration shares: a fresh context per request or task, the posthog-js
tracing headers, capturing unhandled exceptions, settings, and never raising into the app.

Nothing here imports a framework.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import posthog_client

from .._client import Client
from .._events.calls import CaptureCall
from .._events.context import current, identify_context, new_context, set_context_session, tag
from .._runtime import internal as _internal

logger = logging.getLogger("posthog_client")

# The headers posthog-js adds to requests to your backend ("tracing headers").
DISTINCT_ID_HEADER = "X-POSTHOG-DISTINCT-ID"
SESSION_ID_HEADER = "X-POSTHOG-SESSION-ID"

# Settings (Django settings, Flask config) and the module attributes they configure.
SETTINGS_TO_MODULE = {
    "POSTHOG_API_KEY": "api_key",
    "POSTHOG_HOST": "host",
    "POSTHOG_PERSONAL_API_KEY": "personal_api_key",
    "POSTHOG_DISABLED": "disabled",
}
CAPTURE_EXCEPTIONS_SETTING = "POSTHOG_CAPTURE_EXCEPTIONS"


def resolve_client(explicit: Client | None) -> Client | None:
    """The client to use: the one given, else the module-level default (None: do nothing)."""
    if explicit is not None:
        return explicit
    try:
        return posthog_client.get_client()
    except Exception as exc:  # get_client does not raise; be defensive anyway
        _internal.report(exc)
        return None


# A tracing header longer than this is not a posthog-js id: it is ignored.
MAX_HEADER_LENGTH = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def header_value(value: object) -> str | None:
    """A tracing header's value as a clean string, or None when absent, blank, longer than
    ``MAX_HEADER_LENGTH`` or holding control characters (such a value is dropped, not
    repaired: it is not an id posthog-js sent)."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")  # what HTTP headers are made of
    if not isinstance(value, str):
        return None
    text = value.strip(" ")  # not str.strip(): it would take control characters away too
    if not text or len(text) > MAX_HEADER_LENGTH or _CONTROL.search(text):
        return None
    return text


def user_id(user: object, names: tuple[str, ...] = ("pk",)) -> str | None:
    """The id of an authenticated user object (Django's ``request.user``, Starlette's
    ``scope["user"]``): the first of ``names`` that it has, as text; None when there is no
    user, it is anonymous, or anything goes wrong reading it."""
    if user is None:
        return None
    try:
        authenticated = getattr(user, "is_authenticated", False)
        if callable(authenticated):
            authenticated = authenticated()
        if not authenticated:
            return None
        for name in names:
            try:
                value = getattr(user, name, None)
            except NotImplementedError:  # Starlette's BaseUser.identity
                continue
            if value is not None and not isinstance(value, bool):
                return header_value(str(value))
    except Exception:
        return None
    return None


def request_tags(method: object, path: object) -> dict[str, Any]:
    """Context tags describing the request: added to every event captured while handling it."""
    tags: dict[str, Any] = {}
    if method:
        tags["$request_method"] = str(method)
    if path:
        tags["$request_path"] = str(path)
    return tags


def enter_context(
    distinct_id: str | None,
    session_id: str | None,
    tags: Mapping[str, Any] | None = None,
    *,
    fresh: bool = True,
) -> AbstractContextManager[None] | None:
    """Enter a new context (empty with ``fresh``) holding the person, session and tags.

    Returns what ``exit_context`` needs, or None if entering failed (then there is nothing to
    exit). Never raises.
    """
    try:
        scope = new_context(fresh=fresh)
        scope.__enter__()
    except Exception as exc:
        _internal.report(exc)
        return None
    try:
        if distinct_id is not None:
            identify_context(distinct_id)
        if session_id is not None:
            set_context_session(session_id)
        for key, value in (tags or {}).items():
            tag(key, value)
    except Exception as exc:
        _internal.report(exc)
    return scope


def exit_context(scope: AbstractContextManager[None] | None) -> None:
    """Leave a context entered by ``enter_context``, restoring the one before it. Never raises."""
    if scope is None:
        return
    try:
        scope.__exit__(None, None, None)
    except ValueError:
        # The framework ran our "enter" and "exit" hooks in different contextvars contexts: the
        # context we set is not visible here, so there is nothing to restore.
        logger.debug("posthog_client: request context ended in another contextvars context")
    except Exception as exc:
        _internal.report(exc)


@contextmanager
def request_context(
    distinct_id: str | None,
    session_id: str | None,
    tags: Mapping[str, Any] | None = None,
    *,
    fresh: bool = True,
) -> Iterator[None]:
    """``enter_context`` for a ``with`` block; the block's own exceptions pass through."""
    scope = enter_context(distinct_id, session_id, tags, fresh=fresh)
    try:
        yield
    finally:
        exit_context(scope)


def current_ids() -> tuple[str | None, str | None]:
    """The current context's distinct id and session id (to carry them to another process)."""
    try:
        context = current()
        return context.distinct_id, context.session_id
    except Exception as exc:
        _internal.report(exc)
        return None, None


def capture_unhandled(
    client: Client | None,
    exc: BaseException,
    source: str,
    properties: Mapping[str, Any] | None = None,
    *,
    mechanism: str = "middleware",
) -> None:
    """Capture ``exc`` as an unhandled ``$exception`` (once, however many integrations see it),
    with ``$exception_source`` ``source`` (``django.middleware``, ...) and ``mechanism.type``
    ``mechanism``, as PostHog's exception metadata contract names framework captures.

    ``client`` None means the module-level default client. Never raises.
    """
    try:
        target = resolve_client(client)
        if target is None:
            return
        call = CaptureCall(None, "$exception", properties)
        target._capture_exception(exc, call, handled=False, mechanism=mechanism, source=source)
    except Exception as error:
        _internal.report(error)


def safely(call: Callable[[], Any]) -> Any:
    """Run one of our own steps; an unexpected error is reported, never raised into the app."""
    try:
        return call()
    except Exception as exc:
        _internal.report(exc)
        return None


def configure_module(settings: Mapping[str, Any]) -> list[str]:
    """Configure the module-level client from framework settings (``POSTHOG_API_KEY``, ...).

    Only settings that are present (and not None) are applied, so values set in code are kept
    otherwise. Returns the names of the module attributes that were set.
    """
    applied = []
    for setting, attribute in SETTINGS_TO_MODULE.items():
        value = settings.get(setting)
        if value is None:
            continue
        if attribute == "disabled":
            value = bool(value)
        setattr(posthog_client, attribute, value)
        applied.append(attribute)
    return applied


def flag(value: object, default: bool) -> bool:
    """A boolean option that may be unset (None)."""
    return default if value is None else bool(value)
