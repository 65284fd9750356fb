"""Request context: who the current request is for, its session, and tags, in a ``ContextVar``.

Code deep in a request handler can then ``capture("clicked")`` without threading the distinct id
through every call. Context never leaks: each ``new_context()`` block restores the previous
context on exit, and threads and asyncio tasks each see their own copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Context:
    distinct_id: str | None = None
    session_id: str | None = None
    tags: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    device_id: str | None = None  # for flag calls that do not pass one


EMPTY = Context()
_current: ContextVar[Context] = ContextVar("posthog_client_context", default=EMPTY)


def current() -> Context:
    return _current.get()


@contextmanager
def new_context(fresh: bool = False) -> Iterator[None]:
    """A context for the block: it starts as a copy of the enclosing one (empty with
    ``fresh=True``), and whatever is set inside is gone when the block ends."""
    token = enter(fresh)
    try:
        yield
    finally:
        _current.reset(token)


def enter(fresh: bool) -> Token[Context]:
    """Start a context (a copy of the current one, or empty); ``leave`` ends it."""
    return _current.set(EMPTY if fresh else _current.get())


def leave(token: Token[Context]) -> None:
    """Restore the context from before ``enter`` (ValueError: entered in another context)."""
    _current.reset(token)


def identify_context(distinct_id: str) -> None:
    """Events captured in this context without a distinct id are for ``distinct_id``."""
    _current.set(replace(_current.get(), distinct_id=str(distinct_id)))


def set_context_session(session_id: str) -> None:
    """Events captured in this context carry ``$session_id`` (from posthog-js, say)."""
    _current.set(replace(_current.get(), session_id=str(session_id)))


def set_context_device_id(device_id: str) -> None:
    """Flag calls in this context without a ``device_id`` use this one (device bucketing)."""
    _current.set(replace(_current.get(), device_id=str(device_id)))


def tag(key: str, value: Any) -> None:
    """Add a property to every event captured in this context (explicit properties win)."""
    context = _current.get()
    _current.set(replace(context, tags=MappingProxyType({**context.tags, str(key): value})))


def context_properties(context: Context) -> dict[str, Any]:
    """The properties the context adds to an event, under the caller's own."""
    props = dict(context.tags)
    if context.session_id is not None:
        props["$session_id"] = context.session_id
    return props
