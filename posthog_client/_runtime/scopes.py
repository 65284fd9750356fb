"""The request-context API as the public functions and methods offer it: guarded (a bad call is
named at the caller's line, never raised), with a ``new_context`` that can capture the exception
leaving its block, as the official SDK's does."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from contextvars import Token
from types import TracebackType
from typing import Any, TypeVar

from .._errors import InvalidCall
from .._events import context as _context
from . import internal as _internal
from .guard import guard

logger = logging.getLogger("posthog_client")

Capture = Callable[[BaseException], object]


class Scope:
    """``with new_context(): ...``: a context for the block. With a ``capture`` function, an
    exception leaving the block is captured (inside the block's context, so with its person and
    tags) and then re-raised."""

    def __init__(self, fresh: bool, capture: Capture | None) -> None:
        self._fresh = fresh
        self._capture = capture
        self._tokens: list[Token[_context.Context]] = []

    def __enter__(self) -> Scope:
        self._tokens.append(_context.enter(self._fresh))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, Exception) and self._capture is not None:
            try:
                self._capture(exc)
            except Exception as error:
                _internal.report(error)
        if not self._tokens:
            return
        try:
            _context.leave(self._tokens.pop())
        except ValueError:  # left in another contextvars context: nothing of ours to restore
            logger.debug("posthog_client: a context ended in another contextvars context")


F = TypeVar("F", bound=Callable[..., Any])


def decorator(fresh: object, capture: Capture | None) -> Callable[[F], F]:
    """``@scoped()``: run each call of the function (sync or async) in its own context."""
    if not isinstance(fresh, bool):
        raise InvalidCall(f"fresh must be True or False, got {type(fresh).__name__}")

    def decorate(function: F) -> F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with Scope(fresh, capture):
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with Scope(fresh, capture):
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate


decorator_guard = guard(None, fallback=lambda args, kwargs: lambda function: function)


def scope(fresh: object, capture: Capture | None) -> Scope:
    if not isinstance(fresh, bool):
        raise InvalidCall(f"fresh must be True or False, got {type(fresh).__name__}")
    return Scope(fresh, capture)


context_guard = guard(None, fallback=lambda args, kwargs: contextlib.nullcontext())


def _text(value: object, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise InvalidCall(f"{name} must be a non-empty string, got {value!r:.40}")
    return str(value)


@guard(None)
def identify_context(distinct_id: str) -> None:
    """Events captured in this context without a distinct id are for ``distinct_id``."""
    _context.identify_context(_text(distinct_id, "distinct_id"))


@guard(None)
def set_context_session(session_id: str) -> None:
    """Events captured in this context carry ``$session_id`` (from posthog-js, say)."""
    _context.set_context_session(_text(session_id, "session_id"))


@guard(None)
def set_context_device_id(device_id: str) -> None:
    """Flag calls in this context without a ``device_id`` use this one."""
    _context.set_context_device_id(_text(device_id, "device_id"))


@guard(None)
def tag(name: str, value: Any) -> None:
    """Add a property to every event captured in this context (explicit properties win)."""
    _context.tag(_text(name, "name"), value)


@guard({})
def get_tags() -> dict[str, Any]:
    """The tags of the current context (a copy)."""
    return dict(_context.current().tags)


@guard(None)
def get_context_distinct_id() -> str | None:
    """The distinct id ``identify_context()`` set for the current context, or None."""
    return _context.get_context_distinct_id()


@guard(None)
def set_person_properties_for_flags(properties: Mapping[str, Any]) -> None:
    """Person properties every flag evaluation in this context uses (merged over the ones set
    before; the properties passed to a flag call win over these)."""
    _context.set_person_properties_for_flags(properties)


@guard(None)
def reset_person_properties_for_flags() -> None:
    """Forget the person properties set for flags in this context."""
    _context.reset_person_properties_for_flags()


@guard(None)
def set_group_properties_for_flags(properties: Mapping[str, Mapping[str, Any]]) -> None:
    """Group properties, by group type, every flag evaluation in this context uses (merged over
    the ones set before, per group type; the properties passed to a flag call win)."""
    _context.set_group_properties_for_flags(properties)


@guard(None)
def reset_group_properties_for_flags(group_type: str | None = None) -> None:
    """Forget the group properties set for flags in this context (of one group type, or all)."""
    _context.reset_group_properties_for_flags(group_type)
