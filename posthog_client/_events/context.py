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

from .._errors import InvalidCall

_NOTHING: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Context:
    distinct_id: str | None = None
    session_id: str | None = None
    tags: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # Flag evaluation inputs stored for the context; each flag call's own properties win.
    person_properties_for_flags: Mapping[str, Any] = field(default_factory=lambda: _NOTHING)
    group_properties_for_flags: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: _NOTHING
    )
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


def get_context_distinct_id() -> str | None:
    """The distinct id ``identify_context()`` set for the current context, or None."""
    return _current.get().distinct_id


def set_person_properties_for_flags(properties: Mapping[str, Any]) -> None:
    """Person properties every flag evaluation in this context uses (merged over the ones set
    before; the properties passed to a flag call win over these)."""
    if not isinstance(properties, Mapping):
        raise InvalidCall(f"properties must be a dict, got {type(properties).__name__}")
    context = _current.get()
    merged = {**context.person_properties_for_flags, **dict(properties)}
    _current.set(replace(context, person_properties_for_flags=MappingProxyType(merged)))


def reset_person_properties_for_flags() -> None:
    """Forget the person properties set for flags in this context."""
    _current.set(replace(_current.get(), person_properties_for_flags=_NOTHING))


def set_group_properties_for_flags(properties: Mapping[str, Mapping[str, Any]]) -> None:
    """Group properties, by group type, every flag evaluation in this context uses (merged over
    the ones set before, per group type; the properties passed to a flag call win)."""
    if not isinstance(properties, Mapping) or not all(
        isinstance(v, Mapping) for v in properties.values()
    ):
        raise InvalidCall("properties must be a dict of {group type: dict of properties}")
    context = _current.get()
    merged = {k: dict(v) for k, v in context.group_properties_for_flags.items()}
    for group_type, values in dict(properties).items():
        merged[str(group_type)] = {**merged.get(str(group_type), {}), **dict(values)}
    frozen = {k: MappingProxyType(v) for k, v in merged.items()}
    _current.set(replace(context, group_properties_for_flags=MappingProxyType(frozen)))


def reset_group_properties_for_flags(group_type: str | None = None) -> None:
    """Forget the group properties set for flags in this context (of one group type, or all)."""
    context = _current.get()
    kept: Mapping[str, Mapping[str, Any]] = _NOTHING
    if group_type is not None:
        kept = MappingProxyType(
            {k: v for k, v in context.group_properties_for_flags.items() if k != group_type}
        )
    _current.set(replace(context, group_properties_for_flags=kept))


def flag_options(context: Context, options: Mapping[str, Any]) -> Mapping[str, Any]:
    """A flag call's options with the context's stored properties merged under its own."""
    stored_person = context.person_properties_for_flags
    stored_groups = context.group_properties_for_flags
    if not stored_person and not stored_groups:
        return options
    merged = dict(options)
    person = options.get("person_properties")
    if stored_person and (person is None or isinstance(person, Mapping)):
        merged["person_properties"] = {**stored_person, **(person or {})}
    groups = options.get("group_properties")
    if stored_groups and (groups is None or isinstance(groups, Mapping)):
        combined = {k: dict(v) for k, v in stored_groups.items()}
        for group_type, values in (groups or {}).items():
            if not isinstance(values, Mapping):
                return options  # a bad call: validation names it
            combined[group_type] = {**combined.get(group_type, {}), **values}
        merged["group_properties"] = combined
    return merged
