"""posthog_client: a fast, typed server-side SDK for PostHog analytics and feature flags.

Use a ``Client``::

    from posthog_client import Client
    client = Client("phc_...", host="https://eu.i.posthog.com")
    client.capture("user-123", "order completed", {"amount": 29.5})

or the module-level API, configured through module attributes::

    import posthog_client as posthog
    posthog.api_key = "phc_..."
    posthog.capture("user-123", "order completed")
    posthog.shutdown()
"""

from __future__ import annotations

import copy as _copy
import logging as _logging
import os as _os
import threading as _threading
from collections.abc import Callable as _Callable
from typing import Any as _Any
from typing import Concatenate as _Concatenate
from typing import ParamSpec as _ParamSpec
from typing import TypeVar as _TypeVar

from ._client import Client
from ._config import DEFAULT_HOST as _DEFAULT_HOST
from ._errors import APIError, ConfigError, ConfigTypeError, PostHogError, QuotaLimitedError
from ._events.context import (
    get_context_distinct_id,
    identify_context,
    new_context,
    reset_group_properties_for_flags,
    reset_person_properties_for_flags,
    set_context_session,
    set_group_properties_for_flags,
    set_person_properties_for_flags,
    tag,
)
from ._flags.snapshot import FeatureFlagEvaluations
from ._types import FlagResult, FlagStats, FlagValue, Stats
from ._version import VERSION as __version__

__all__ = [
    "APIError",
    "Client",
    "ConfigError",
    "ConfigTypeError",
    "FeatureFlagEvaluations",
    "FlagResult",
    "FlagStats",
    "FlagValue",
    "PostHogError",
    "QuotaLimitedError",
    "Stats",
    "__version__",
    "alias",
    "capture",
    "evaluate_flags",
    "feature_enabled",
    "flush",
    "get_all_flags",
    "get_all_flags_and_payloads",
    "get_client",
    "get_context_distinct_id",
    "get_feature_flag",
    "get_feature_flag_payload",
    "get_feature_flag_result",
    "group_identify",
    "identify",
    "identify_context",
    "load_feature_flags",
    "new_context",
    "reset_group_properties_for_flags",
    "reset_person_properties_for_flags",
    "set",
    "set_context_session",
    "set_group_properties_for_flags",
    "set_once",
    "set_person_properties_for_flags",
    "shutdown",
    "stats",
    "tag",
]

# -- module-level configuration, read when the default client is first needed -------------------
api_key: str | None = None
host: str = _DEFAULT_HOST
personal_api_key: str | None = None
debug: bool = False
disabled: bool = False
sync_mode: bool = False
on_error: _Any = None
before_send: _Any = None
session: _Any = None  # a requests.Session: the seam FakePostHog plugs into
definitions_store: _Any = None  # a URL or store: one flag-definitions poll per fleet

_SETTINGS = (
    "api_key",
    "host",
    "personal_api_key",
    "debug",
    "sync_mode",
    "on_error",
    "before_send",
    "session",
    "definitions_store",
)
_default: Client | None = None
_default_settings: tuple[_Any, ...] | None = None
_default_lock = _threading.Lock()


def _new_lock_after_fork() -> None:  # a lock held by another thread at fork would never be freed
    global _default_lock
    _default_lock = _threading.Lock()


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_new_lock_after_fork)
_warned_no_key = False


def get_client() -> Client | None:
    """The client behind the module-level functions, or None when disabled or unconfigured.

    It is created on first use from the module attributes, and created again (the old one
    flushed and shut down) if those attributes change.
    """
    global _default, _default_settings, _warned_no_key
    if disabled:
        return None
    settings = tuple(globals()[name] for name in _SETTINGS)
    if _default is not None and settings == _default_settings:
        return _default
    if not api_key:
        if not _warned_no_key:
            _warned_no_key = True
            _logging.getLogger("posthog_client").warning(
                "posthog_client: posthog_client.api_key is not set; module-level calls do nothing"
            )
        return None
    with _default_lock:
        if _default is not None and settings == _default_settings:
            return _default
        old, _default = _default, None
        options = dict(zip(_SETTINGS[1:], settings[1:], strict=True))
        try:
            _default = Client(api_key, **options)
        except (ConfigError, TypeError) as exc:
            _logging.getLogger("posthog_client").error(
                "posthog_client: bad module settings: %s", exc
            )
            return None
        _default_settings = settings
    if old is not None:  # its thread delivers what it holds, without making this call wait
        old._retire()
    return _default


_P = _ParamSpec("_P")
_R = _TypeVar("_R")


def _forward(method: _Callable[_Concatenate[Client, _P], _R], neutral: _R) -> _Callable[_P, _R]:
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        client = get_client()
        if client is None:
            return _copy.deepcopy(neutral)  # a fresh dict each time: callers may mutate it
        return method(client, *args, **kwargs)

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


capture = _forward(Client.capture, None)
identify = _forward(Client.identify, None)
set = _forward(Client.set, None)  # noqa: A001 - the PostHog API name
set_once = _forward(Client.set_once, None)
alias = _forward(Client.alias, None)
group_identify = _forward(Client.group_identify, None)
stats = _forward(Client.stats, Stats())
feature_enabled = _forward(Client.feature_enabled, None)
get_feature_flag = _forward(Client.get_feature_flag, None)
get_feature_flag_payload = _forward(Client.get_feature_flag_payload, None)
get_feature_flag_result = _forward(Client.get_feature_flag_result, None)
get_all_flags = _forward(Client.get_all_flags, {})
get_all_flags_and_payloads = _forward(
    Client.get_all_flags_and_payloads, {"featureFlags": {}, "featureFlagPayloads": {}}
)
load_feature_flags = _forward(Client.load_feature_flags, False)
evaluate_flags = _forward(Client.evaluate_flags, FeatureFlagEvaluations.empty())


def flush(timeout: float = 10.0) -> bool:
    """Deliver what the module-level client captured; True when all of it was delivered (and
    when there is no module-level client: then there is nothing to deliver)."""
    client = _default
    return True if client is None else client.flush(timeout)


def shutdown(timeout: float = 10.0) -> bool:
    """Flush and stop the default client, if one was created."""
    global _default, _default_settings
    with _default_lock:
        client, _default, _default_settings = _default, None, None
    return True if client is None else client.shutdown(timeout)
