"""The module-level API (``posthog_client.capture(...)`` and friends) and its default client.

The package ``__init__`` keeps the settings (``posthog_client.api_key`` ...) and loads this
module when a function of it is first used, so ``import posthog_client`` (and with it the pytest
plugin, loaded in every test run of a project that installs the package) costs next to nothing.
The settings are read from the package at each use: code assigns them there.
"""

from __future__ import annotations

import copy as _copy
import logging as _logging
import os as _os
import threading as _threading
from collections.abc import Callable as _Callable
from collections.abc import Mapping as _Mapping
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any
from typing import Concatenate as _Concatenate
from typing import ParamSpec as _ParamSpec
from typing import TypeVar as _TypeVar
from typing import overload as _overload

import posthog_client as _package

from ._client import Client
from ._errors import ConfigError
from ._errors import InvalidCall as _InvalidCall
from ._flags.snapshot import FeatureFlagEvaluations
from ._runtime import scopes as _scopes
from ._runtime.guard import guard as _guard
from ._types import Stats

if _TYPE_CHECKING:
    from typing_extensions import Unpack as _Unpack

    from ._events.api import CaptureOptions as _CaptureOptions

_default: Client | None = None
_default_settings: tuple[_Any, ...] | None = None
_default_lock = _threading.Lock()
_TRUE = ("1", "true", "yes", "on")
_logger = _logging.getLogger("posthog_client")


def _new_lock_after_fork() -> None:  # a lock held by another thread at fork would never be freed
    global _default_lock
    _default_lock = _threading.Lock()


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_new_lock_after_fork)
_warned_no_key = False


def _settings() -> tuple[_Any, ...]:
    """The module settings as the default client takes them, the environment filling in."""
    env, s = _os.environ, _package
    return (
        s.project_api_key or s.api_key or env.get("POSTHOG_API_KEY") or None,
        s.host or env.get("POSTHOG_HOST") or None,
        s.secret_key or s.personal_api_key or env.get("POSTHOG_PERSONAL_API_KEY") or None,
        s.debug,
        s.sync_mode,
        s.disable_geoip,
        s.super_properties,
        s.on_error,
        s.before_send,
        s.session,
        s.definitions_store,
    )


def _disabled() -> bool:
    if _package.disabled is not None:
        return bool(_package.disabled)
    return _os.environ.get("POSTHOG_DISABLED", "").strip().lower() in _TRUE


@_guard(None)
def get_client() -> Client | None:
    """The client behind the module-level functions, or None when disabled or unconfigured.

    It is created on first use from the module attributes (and the environment), and created
    again (the old one delivering what it holds on its own thread) if those change.
    """
    global _default, _default_settings, _warned_no_key
    if _disabled():
        return None
    settings = _settings()
    if _default is not None and settings == _default_settings:
        return _default
    if not settings[0]:
        if not _warned_no_key:
            _warned_no_key = True
            _logger.warning(
                "posthog_client: no project API key (posthog_client.api_key, or the "
                "POSTHOG_API_KEY environment variable); module-level calls do nothing"
            )
        return None
    with _default_lock:
        if _default is not None and settings == _default_settings:
            return _default
        old, _default = _default, None
        names = ("host", "personal_api_key", *_package._SETTINGS[5:])
        options = dict(zip(names, settings[1:], strict=True))
        try:
            _default = Client(settings[0], **options)
        except (ConfigError, TypeError) as exc:
            _logger.error("posthog_client: bad module settings: %s", exc)
            return None
        _default_settings = settings
    if old is not None:  # its thread delivers what it holds, without making this call wait
        old._retire()
    return _default


_P = _ParamSpec("_P")
_R = _TypeVar("_R")


def _forward(
    method: _Callable[_Concatenate[Client, _P], _R],
    neutral: _R,
    positional: tuple[str, ...] = (),
    fallback: _Callable[[tuple[_Any, ...], dict[str, _Any]], _Any] | None = None,
    *,
    fixed: int = 2,
) -> _Callable[_P, _R]:
    """The module-level function for ``method``: the default client's, or ``neutral`` when
    there is none. ``positional``: names of keyword options the official module-level function
    also takes by position, after its first ``fixed`` arguments."""

    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if positional and len(args) > fixed:
            extra = dict(zip(positional, args[fixed:], strict=False))
            if len(args) > fixed + len(positional) or extra.keys() & kwargs.keys():
                raise _InvalidCall("too many positional arguments, or an argument given twice")
            args, kwargs = args[:fixed], {**extra, **kwargs}  # type: ignore[assignment]
        client = get_client()
        if client is None:
            if fallback is not None:
                return fallback(args, kwargs)  # type: ignore[no-any-return]
            return _copy.deepcopy(neutral)  # a fresh dict each time: callers may mutate it
        return method(client, *args, **kwargs)

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return _guard(neutral, fallback=fallback)(call)


def _default_value(args: tuple[_Any, ...], kwargs: dict[str, _Any]) -> _Any:
    return kwargs.get("default")


_FLAG_OPTIONS = (
    "groups",
    "person_properties",
    "group_properties",
    "only_evaluate_locally",
    "send_feature_flag_events",
    "disable_geoip",
    "device_id",
)
_ALL_OPTIONS = tuple(o for o in _FLAG_OPTIONS if o != "send_feature_flag_events") + (
    "flag_keys_to_evaluate",
)

_capture = _forward(Client.capture, None)


@_overload
def capture(
    distinct_id: str | int | None,
    event: str,
    /,
    properties: _Mapping[str, _Any] | None = None,
    **options: _Unpack[_CaptureOptions],
) -> str | None: ...


@_overload
def capture(
    event: str,
    /,
    *,
    distinct_id: str | int | None = None,
    properties: _Mapping[str, _Any] | None = None,
    **options: _Unpack[_CaptureOptions],
) -> str | None: ...


@_overload
def capture(
    *,
    event: str,
    distinct_id: str | int | None = None,
    properties: _Mapping[str, _Any] | None = None,
    **options: _Unpack[_CaptureOptions],
) -> str | None: ...


def capture(*args: _Any, **kwargs: _Any) -> str | None:
    """Capture an event with the module-level client (see ``Client.capture``)."""
    return _capture(*args, **kwargs)


identify = _forward(Client.identify, None)
set = _forward(Client.set, None)  # noqa: A001 - the PostHog API name
set_once = _forward(Client.set_once, None)
alias = _forward(Client.alias, None)
group_identify = _forward(Client.group_identify, None)
capture_exception = _forward(Client.capture_exception, None)
stats = _forward(Client.stats, Stats())
feature_enabled = _forward(Client.feature_enabled, None, _FLAG_OPTIONS, _default_value)
get_feature_flag = _forward(Client.get_feature_flag, None, _FLAG_OPTIONS)
get_feature_flag_payload = _forward(
    Client.get_feature_flag_payload, None, ("match_value", *_FLAG_OPTIONS)
)
get_feature_flag_result = _forward(Client.get_feature_flag_result, None, _FLAG_OPTIONS)
get_all_flags = _forward(Client.get_all_flags, {}, _ALL_OPTIONS, fixed=1)
get_all_flags_and_payloads = _forward(
    Client.get_all_flags_and_payloads,
    {"featureFlags": {}, "featureFlagPayloads": {}},
    _ALL_OPTIONS,
    fixed=1,
)
load_feature_flags = _forward(Client.load_feature_flags, False)
evaluate_flags = _forward(Client.evaluate_flags, FeatureFlagEvaluations.empty())


@_scopes.context_guard
def new_context(
    fresh: bool = False, capture_exceptions: bool | None = None, client: Client | None = None
) -> _scopes.Scope:
    """``with posthog_client.new_context(): ...``: a request context for the block.

    It starts as a copy of the enclosing context (empty with ``fresh=True``); whatever
    ``identify_context``, ``set_context_session`` and ``tag`` set inside is gone when the block
    ends, and never leaks between threads or asyncio tasks. ``capture_exceptions=True``: an
    exception leaving the block is captured (with ``client``, default the module-level one),
    then re-raised.
    """
    if not capture_exceptions:
        return _scopes.scope(fresh, None)
    return _scopes.scope(fresh, capture_exception if client is None else client.capture_exception)


@_scopes.decorator_guard
def scoped(
    fresh: bool = False, capture_exceptions: bool | None = None
) -> _Callable[[_scopes.F], _scopes.F]:
    """``@posthog_client.scoped()``: each call of the decorated function (sync or async) runs
    in a ``new_context`` of its own (see ``new_context``)."""
    return _scopes.decorator(fresh, capture_exception if capture_exceptions else None)


@_guard(True)
def flush(timeout: float = 10.0, *, timeout_seconds: float | None = None) -> bool:
    """Deliver what the module-level client captured; True when all of it was delivered (and
    when there is no module-level client: then there is nothing to deliver).
    ``timeout_seconds``: the official SDK's name for ``timeout``."""
    client = _default
    return True if client is None else client.flush(timeout, timeout_seconds=timeout_seconds)


@_guard(True)
def shutdown(timeout: float = 10.0) -> bool:
    """Flush and stop the default client, if one was created."""
    global _default, _default_settings
    with _default_lock:
        client, _default, _default_settings = _default, None, None
    return True if client is None else client.shutdown(timeout)


@_guard(True)
def join(timeout: float = 10.0) -> bool:
    """``shutdown()``, under the official SDK's name."""
    return bool(shutdown(timeout))
