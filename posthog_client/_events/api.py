"""The public event methods of ``Client``, bound onto it in ``_client`` (the one module of
``_events`` that is not pure): each binds its arguments, builds the event with the pure
builders of ``_events`` and hands it to the intake. Every one never raises: a bad call is named
once at the caller's line and returns None."""

from __future__ import annotations

import functools
import sys
import uuid as uuidlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict, overload

from .._errors import InvalidCall
from .._runtime import misuse
from .._runtime.guard import guard
from . import calls, messages
from . import context as _context
from . import exceptions as _exceptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._client import Client
    from .._flags.snapshot import FeatureFlagEvaluations


class CaptureOptions(TypedDict, total=False):
    """The keyword options of ``capture`` (the official SDK's names)."""

    groups: Mapping[str, str | int] | None
    timestamp: Any
    uuid: Any
    disable_geoip: bool | None
    send_feature_flags: bool | Mapping[str, Any]
    flags: FeatureFlagEvaluations | None


@overload
def capture(
    self: Client,
    distinct_id: str | int | None,
    event: str,
    /,
    properties: Mapping[str, Any] | None = None,
    **options: Unpack[CaptureOptions],
) -> str | None: ...


@overload
def capture(
    self: Client,
    event: str,
    /,
    *,
    distinct_id: str | int | None = None,
    properties: Mapping[str, Any] | None = None,
    **options: Unpack[CaptureOptions],
) -> str | None: ...


@overload
def capture(
    self: Client,
    /,
    *,
    event: str,
    distinct_id: str | int | None = None,
    properties: Mapping[str, Any] | None = None,
    **options: Unpack[CaptureOptions],
) -> str | None: ...


@guard(None)
def capture(self: Client, /, *args: Any, **kwargs: Any) -> str | None:
    """Capture an event; returns its uuid, or None when it was not accepted.

    ``capture(distinct_id, event, properties)`` and the official SDK's
    ``capture(event, distinct_id=..., properties=...)`` both work: a lone positional argument
    is the event, else positional arguments are ``distinct_id, event, properties`` in the
    places no keyword named (see ``_events/calls.py``). Keywords: ``groups``, ``timestamp``,
    ``uuid``, ``disable_geoip``, ``send_feature_flags`` (True, or the official SDK's dict of
    options), ``flags`` (an ``evaluate_flags()`` snapshot: its values, no request).

    Without a distinct id, the request context's is used (``identify_context``); without
    one there, the event is sent personless. Context tags and ``$session_id`` go under your
    own properties, which always win.
    """
    call = calls.bind_capture(args, kwargs)
    if self._config.disabled:
        return None
    if call.flags is not None and not hasattr(call.flags, "_capture_properties"):
        # As the official SDK: flags= takes an evaluate_flags() snapshot (FeatureFlagEvaluations).
        problem = f"flags must be an evaluate_flags() result, got {type(call.flags).__name__}"
        misuse.warn("capture", problem, "the event is sent without them")
        call = call._replace(flags=None)
    return capture_call(self, call)


def capture_call(self: Client, call: calls.CaptureCall) -> str | None:
    stamp, uid, uid_value = self._intake.stamp(call.timestamp, call.uuid, compact=True)
    props: object = call.properties
    distinct_id, context = call.distinct_id, _context.current()
    if distinct_id is None:  # the person comes from the context, else none: personless
        distinct_id = context.distinct_id
        if distinct_id is None and (props is None or isinstance(props, Mapping)):
            distinct_id = str(uuidlib.uuid4())
            props = {"$process_person_profile": False, **(props or {})}
    under = {}  # the context's, flags, geoip: all under the caller's properties
    if context is not _context.EMPTY:
        under = _context.context_properties(context)
    if call.flags is not None or call.disable_geoip is not None:
        under.update(calls.extra_properties(call))
    if under and (props is None or isinstance(props, Mapping)):
        props = {**under, **(props or {})}
    enrich = options = None
    if call.send_feature_flags is not False and call.flags is None:  # flags= wins: no request
        options = calls.flag_options(call.send_feature_flags, call.groups)
    if options is not None:
        flags = self._flags.enrichment(distinct_id, options, wait=False)
        if flags is not None:  # local values, now: the caller's properties win
            props = {**flags, **props} if isinstance(props, Mapping) else props or flags
        else:  # not known without waiting: asked on the background thread
            enrich = functools.partial(self._flags.enrichment, distinct_id, options, True)
    return self._intake.submit(
        "capture",
        uid,
        lambda: messages.capture(distinct_id, call.event, props, call.groups, stamp, uid_value),
        enrich,
    )


@guard(None)
def identify(
    self: Client,
    distinct_id: str | int | None,
    properties: Mapping[str, Any] | None = None,
    *,
    timestamp: Any = None,
    uuid: Any = None,
    disable_geoip: bool | None = None,
) -> str | None:
    """Set person properties with an ``$identify`` event (``properties.$set``)."""
    return _person(self, "$identify", distinct_id, properties, timestamp, uuid, disable_geoip)


@guard(None)
def set(
    self: Client,
    distinct_id: str | int | None = None,
    properties: Mapping[str, Any] | None = None,
    *,
    timestamp: Any = None,
    uuid: Any = None,
    disable_geoip: bool | None = None,
) -> str | None:
    """Set person properties (a ``$set`` event). Without a distinct id, the context's."""
    return _person(self, "$set", distinct_id, properties, timestamp, uuid, disable_geoip)


@guard(None)
def set_once(
    self: Client,
    distinct_id: str | int | None = None,
    properties: Mapping[str, Any] | None = None,
    *,
    timestamp: Any = None,
    uuid: Any = None,
    disable_geoip: bool | None = None,
) -> str | None:
    """Set person properties only where they are not set yet (``$set_once``)."""
    return _person(self, "$set_once", distinct_id, properties, timestamp, uuid, disable_geoip)


@guard(None)
def alias(
    self: Client,
    previous_id: str | int,
    distinct_id: str | int | None = None,
    timestamp: Any = None,
    uuid: Any = None,
    disable_geoip: bool | None = None,
) -> str | None:
    """Tell PostHog that ``previous_id`` and ``distinct_id`` (default: the context's) are
    the same person."""
    if self._config.disabled:
        return None
    new_id = _context.current().distinct_id if distinct_id is None else distinct_id
    build = functools.partial(messages.alias, previous_id, new_id)
    return _submit(self, "alias", build, timestamp, uuid, disable_geoip)


@guard(None)
def group_identify(
    self: Client,
    group_type: str,
    group_key: str | int,
    properties: Mapping[str, Any] | None = None,
    timestamp: Any = None,
    uuid: Any = None,
    disable_geoip: bool | None = None,
    distinct_id: str | int | None = None,
) -> str | None:
    """Set properties of a group (``$groupidentify``)."""
    if self._config.disabled:
        return None
    build = functools.partial(
        messages.group_identify, group_type, group_key, properties, distinct_id
    )
    return _submit(self, "group_identify", build, timestamp, uuid, disable_geoip)


def _person(
    self: Client,
    kind: str,
    distinct_id: object,
    properties: object,
    timestamp: Any,
    uuid: Any,
    geoip: bool | None,
) -> str | None:
    if self._config.disabled:
        return None
    if distinct_id is None:
        distinct_id = _context.current().distinct_id
        if distinct_id is None:
            raise InvalidCall("no distinct_id given, and none in the context")
    build = functools.partial(messages.person, kind, distinct_id, properties)
    return _submit(self, kind.lstrip("$"), build, timestamp, uuid, geoip)


def _submit(
    self: Client,
    method: str,
    build: Callable[[str | float, str], dict[str, Any]],
    timestamp: Any,
    uuid: Any,
    geoip: bool | None,
) -> str | None:
    """Stamp and queue an event ``build(timestamp, uuid)`` makes (not ``capture``'s)."""
    stamp, uid, _ = self._intake.stamp(timestamp, uuid, method=method)
    return self._intake.submit(method, uid, lambda: build(stamp, uid), geoip=geoip)


@guard(None)
def capture_exception(
    self: Client,
    exception: BaseException | tuple[Any, Any, Any] | None = None,
    distinct_id: str | int | None = None,
    properties: Mapping[str, Any] | None = None,
    *,
    groups: Mapping[str, str | int] | None = None,
    timestamp: Any = None,
    uuid: Any = None,
    disable_geoip: bool | None = None,
) -> str | None:
    """Capture an ``$exception`` event for ``exception`` (default: the one being handled):
    type, message, chained causes, and stack frames with in-app detection and source
    context. Frame variables are never sent. An exception is captured once."""
    call = calls.CaptureCall(distinct_id, "$exception", properties, groups, timestamp, uuid)
    return capture_exception_with(self, exception, call._replace(disable_geoip=disable_geoip))


def capture_exception_with(
    self: Client, exception: object, call: calls.CaptureCall, **metadata: Any
) -> str | None:
    """``capture_exception`` with an integration's ``metadata`` (``handled``, ``mechanism``,
    ``source``): see ``exception_properties``."""
    if self._config.disabled:
        return None
    exc = _exceptions.exception_arg(exception, sys.exc_info()[1])
    if _exceptions.captured(exc):
        return None
    props = _exceptions.exception_properties(exc, **metadata)
    if call.properties is not None:
        if not isinstance(call.properties, Mapping):
            raise InvalidCall(f"properties must be a dict, got {type(call.properties)}")
        props = {**call.properties, **props}  # the SDK's $exception_* keys win
    uid = capture_call(self, call._replace(properties=props))
    if uid is not None:
        _exceptions.mark_captured(exc)
    return uid
