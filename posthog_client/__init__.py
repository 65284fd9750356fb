"""posthog_client: a fast, typed server-side SDK for PostHog analytics and feature flags.

Use a ``Client``::

    from posthog_client import Client
    client = Client("phc_...", host="https://eu.i.posthog.com")
    client.capture("user-123", "order completed", {"amount": 29.5})

or the module-level API, configured through module attributes (or the ``POSTHOG_API_KEY``,
``POSTHOG_HOST``, ``POSTHOG_PERSONAL_API_KEY`` and ``POSTHOG_DISABLED`` environment variables)::

    import posthog_client as posthog
    posthog.api_key = "phc_..."
    posthog.capture("user-123", "order completed")
    posthog.shutdown()

Code written for the official ``posthog`` package runs with ``import posthog_client as posthog``
(see the README's migration section).
"""

from __future__ import annotations

from ._version import VERSION as __version__

# benchmarks: "pytest plugin" row. Not ``typing.TYPE_CHECKING``: importing ``typing`` alone takes
# 6 ms, most of what the package costs on import.
TYPE_CHECKING = False
if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first use
    from typing import Any as _Any

    from ._client import Client, Posthog
    from ._errors import APIError, ConfigError, ConfigTypeError, PostHogError, QuotaLimitedError
    from ._flags.snapshot import FeatureFlagEvaluations
    from ._module import (
        alias,
        capture,
        capture_exception,
        evaluate_flags,
        feature_enabled,
        flush,
        get_all_flags,
        get_all_flags_and_payloads,
        get_client,
        get_feature_flag,
        get_feature_flag_payload,
        get_feature_flag_result,
        group_identify,
        identify,
        join,
        load_feature_flags,
        new_context,
        scoped,
        set,
        set_once,
        shutdown,
        stats,
    )
    from ._runtime.scopes import (
        get_context_distinct_id,
        get_tags,
        identify_context,
        reset_group_properties_for_flags,
        reset_person_properties_for_flags,
        set_context_device_id,
        set_context_session,
        set_group_properties_for_flags,
        set_person_properties_for_flags,
        tag,
    )
    from ._types import FlagResult, FlagStats, FlagValue, Stats

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
    "Posthog",
    "QuotaLimitedError",
    "Stats",
    "__version__",
    "alias",
    "capture",
    "capture_exception",
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
    "get_tags",
    "group_identify",
    "identify",
    "identify_context",
    "join",
    "load_feature_flags",
    "new_context",
    "reset_group_properties_for_flags",
    "reset_person_properties_for_flags",
    "scoped",
    "set",
    "set_context_device_id",
    "set_context_session",
    "set_group_properties_for_flags",
    "set_once",
    "set_person_properties_for_flags",
    "shutdown",
    "stats",
    "tag",
]

# -- module-level configuration, read when the default client is first needed -------------------
# Unset (None) keys, host and ``disabled`` fall back to the environment variables POSTHOG_API_KEY,
# POSTHOG_PERSONAL_API_KEY, POSTHOG_HOST and POSTHOG_DISABLED, then to the defaults.
api_key: str | None = None
project_api_key: str | None = None  # the official SDK's name; wins over api_key
host: str | None = None  # None: https://us.i.posthog.com
personal_api_key: str | None = None
secret_key: str | None = None  # the official SDK's name; wins over personal_api_key
debug: bool = False
disabled: bool | None = None
sync_mode: bool = False
disable_geoip: bool = True
super_properties: dict[str, _Any] | None = None
on_error: _Any = None
before_send: _Any = None
session: _Any = None  # a requests.Session: the seam FakePostHog plugs into
definitions_store: _Any = None  # a URL or store: one flag-definitions poll per fleet

_SETTINGS = (
    "api_key",
    "project_api_key",
    "host",
    "personal_api_key",
    "secret_key",
    "debug",
    "sync_mode",
    "disable_geoip",
    "super_properties",
    "on_error",
    "before_send",
    "session",
    "definitions_store",
)

# -- lazy loading -------------------------------------------------------------------------------
# benchmarks: "import" and "pytest plugin" rows. The pytest plugin is loaded in every test run of
# a project that installs this package, and importing it imports this package: so nothing heavy
# is imported here. A public name loads its module on first use (PEP 562) and is then cached.
_HOMES = {
    "Client": "_client",
    "Posthog": "_client",
    "APIError": "_errors",
    "ConfigError": "_errors",
    "ConfigTypeError": "_errors",
    "PostHogError": "_errors",
    "QuotaLimitedError": "_errors",
    "FeatureFlagEvaluations": "_flags.snapshot",
    "FlagResult": "_types",
    "FlagStats": "_types",
    "FlagValue": "_types",
    "Stats": "_types",
    "get_context_distinct_id": "_runtime.scopes",
    "get_tags": "_runtime.scopes",
    "identify_context": "_runtime.scopes",
    "reset_group_properties_for_flags": "_runtime.scopes",
    "reset_person_properties_for_flags": "_runtime.scopes",
    "set_context_device_id": "_runtime.scopes",
    "set_context_session": "_runtime.scopes",
    "set_group_properties_for_flags": "_runtime.scopes",
    "set_person_properties_for_flags": "_runtime.scopes",
    "tag": "_runtime.scopes",
}
# The module-level client's state: read from ``_module`` at each access, never cached here.
_STATE = frozenset(("_default", "_default_lock", "_default_settings", "_settings"))


def __getattr__(name: str) -> _Any:
    import importlib

    if name in _STATE:
        return getattr(importlib.import_module("._module", __name__), name)
    home = _HOMES.get(name, "_module" if name in __all__ else None)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


del TYPE_CHECKING
