"""Client options, validated once into a frozen ``Config``: the only place defaults live."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ._errors import ConfigError, ConfigTypeError

logger = logging.getLogger("posthog_client")
DEFAULT_HOST = "https://us.i.posthog.com"
# PostHog accepts at most 1,000 events in one /batch/ request.
MAX_FLUSH_AT = 1000
# Stop adding events to a batch past this many encoded bytes (the server accepts up to 20 MiB).
MAX_BATCH_BYTES = 5 * 1024 * 1024
# An event whose encoded form is larger than this is trimmed, then dropped (the server's limit).
MAX_EVENT_BYTES = 900 * 1024

# App hosts that serve the UI, not ingestion: events sent there are redirected or lost.
_HOST_ALIASES = {
    "app.posthog.com": "us.i.posthog.com",
    "us.posthog.com": "us.i.posthog.com",
    "eu.posthog.com": "eu.i.posthog.com",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_KEY_LENGTH = 512
# A host name: letters (any script), digits, dots, hyphens and underscores; or an IPv6 address.
_HOST_NAME = re.compile(r"^[\w.-]+$|^[0-9A-Fa-f:.]+$")

# The official SDK's names for options that exist here under another name.
OFFICIAL_ALIASES = {
    "project_api_key": "api_key",
    "secret_key": "personal_api_key",
    "feature_flags_request_timeout_seconds": "flags_timeout",
    "flag_definition_cache_provider": "definitions_store",  # adapted: see _flags/provider_store
}
# Options of the official SDK that have no counterpart here: accepted (code written for it runs),
# with one warning naming them, and without effect.
OFFICIAL_ONLY = frozenset(
    (
        "send",
        "thread",
        "is_server",
        "log_captured_exceptions",
        "project_root",
        "privacy_mode",
        "enable_exception_autocapture",
        "flag_fallback_cache_url",
        "enable_local_evaluation",
        "capture_exception_code_variables",
        "code_variables_mask_patterns",
        "code_variables_ignore_patterns",
        "code_variables_mask_url_credentials",
        "code_variables_detect_secrets",
        "in_app_modules",
        "enable_exception_autocapture_rate_limiting",
        "exception_autocapture_bucket_size",
        "exception_autocapture_refill_rate",
        "exception_autocapture_refill_interval_seconds",
        "metrics",
        "traces",
        "enable_full_ai_capture",
        "capture_trace_context",
        "app_host",
        "email_request_timeout_seconds",
        "email_request_max_retries",
        "migrated_from",
        "feature_flags_request_max_retries",
    )
)

OnError = Callable[[Exception, list[dict[str, Any]]], None]
BeforeSend = Callable[[dict[str, Any]], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Config:
    """Validated options. Build it with ``make_config``; never mutate it."""

    api_key: str
    host: str = DEFAULT_HOST
    personal_api_key: str | None = field(default=None, repr=False)
    flush_at: int = 100
    flush_interval: float = 0.5
    max_queue_size: int = 10_000
    max_retries: int | None = None  # None: retried until retry_window passes
    retry_window: float = 300.0
    retry_base_delay: float = 1.0
    retry_max_delay: float = 30.0
    timeout: float = 15.0
    flags_timeout: float = 3.0
    poll_interval: float = 30.0
    exit_timeout: float = 5.0
    gzip: bool = True
    sync_mode: bool = False
    disabled: bool = False
    debug: bool = False
    disable_geoip: bool = True
    historical_migration: bool = False
    capture_mode: str = "v1"  # "v1": /i/v1/analytics/events; "v0": /batch/ (older self-hosted)
    spool_path: str | None = None  # a SQLite file; None: no spool
    spool_max_bytes: int = 100 * 1024 * 1024
    spool_max_age: float = 86_400.0
    on_error: OnError | None = None
    before_send: tuple[BeforeSend, ...] = ()
    # A DefinitionsStore (built from the URL or object given): one definitions poll per fleet.
    definitions_store: Any = None
    super_properties: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:  # keys never appear in reprs, logs or tracebacks
        return f"Config(host={self.host!r}, disabled={self.disabled!r})"


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigTypeError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigTypeError(f"{name} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _check_seconds(name: str, value: object, low: float = 0.0, high: float = 86_400.0) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigTypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    seconds = float(value)
    if not low < seconds <= high:  # NaN and infinities fail this too
        raise ConfigError(f"{name} must be more than {low} and at most {high} seconds, got {value}")
    return seconds


def check_key(name: str, value: object) -> str:
    """Strip a key and reject what could inject headers or is clearly not a key."""
    if not isinstance(value, str):
        raise ConfigTypeError(f"{name} must be a string, got {type(value).__name__}")
    key = value.strip()
    if _CONTROL.search(key):
        raise ConfigError(f"{name} contains control characters")
    if len(key) > _MAX_KEY_LENGTH:
        raise ConfigError(f"{name} is longer than {_MAX_KEY_LENGTH} characters")
    return key


def normalize_host(value: object) -> str:
    """Validate a host URL, map PostHog's app hosts to ingestion hosts, keep any path prefix."""
    if value is None:  # an unset setting or environment variable: the default host
        return DEFAULT_HOST
    if not isinstance(value, str):
        raise ConfigTypeError(f"host must be a string, got {type(value).__name__}")
    host = value.strip()
    if not host:
        return DEFAULT_HOST
    if "://" not in host:
        host = "https://" + host
    try:
        parts = urlsplit(host)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"host is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"host must use http or https, got {parts.scheme!r}")
    if not parts.hostname:
        raise ConfigError("host has no host name")
    if not _HOST_NAME.match(parts.hostname):
        raise ConfigError(f"host is not a valid URL: bad host name {parts.hostname!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("host must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ConfigError("host must not contain a query or fragment")
    if _CONTROL.search(host):
        raise ConfigError("host contains control characters")
    netloc = parts.netloc.lower()
    scheme = parts.scheme
    if netloc in _HOST_ALIASES:
        netloc, scheme = _HOST_ALIASES[netloc], "https"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


_CAPTURE_MODES = {"v1": "v1", "analytics_v1": "v1", "v0": "v0", "legacy": "v0"}


def _check_capture_mode(value: object) -> str:
    """``"v1"`` (default) or ``"v0"``; the official SDK's spellings are accepted too."""
    mode = getattr(value, "value", value)  # an enum member of the official SDK's CaptureMode
    if not isinstance(mode, str):
        raise ConfigTypeError(f"capture_mode must be 'v1' or 'v0', got {type(value).__name__}")
    try:
        return _CAPTURE_MODES[mode.strip().lower()]
    except KeyError:
        raise ConfigError(f"capture_mode must be 'v1' or 'v0', got {mode!r}") from None


def _check_hooks(value: object) -> tuple[BeforeSend, ...]:
    if value is None:
        return ()
    hooks: Sequence[object] = value if isinstance(value, (list, tuple)) else (value,)
    if not all(callable(hook) for hook in hooks):
        raise ConfigTypeError("before_send must be a callable or a list of callables")
    return tuple(hooks)  # type: ignore[arg-type]


def _official_names(api_key: object, options: dict[str, Any]) -> object:
    """Read the official SDK's option names: aliases become ours, the ones without a counterpart
    are dropped with one warning. Returns the api key."""
    for name, ours in OFFICIAL_ALIASES.items():
        value = options.pop(name, None)
        if value is None:
            continue
        if ours == "api_key":
            if api_key is not None and api_key != value:
                raise ConfigTypeError("give api_key or project_api_key, not both")
            api_key = value
        else:
            options[ours] = value
    compression = options.pop("capture_compression", None)
    if compression is not None:  # the official SDK's CaptureCompression (an enum or its text)
        name = str(getattr(compression, "value", compression)).strip().lower()
        if name in ("none", "identity", "gzip"):
            options["gzip"] = name == "gzip"
        else:
            logger.warning(
                "posthog_client: capture_compression=%r is not supported here; gzip is used", name
            )
    ignored = sorted(set(options) & OFFICIAL_ONLY)
    if ignored:
        for name in ignored:
            del options[name]
        logger.warning(
            "posthog_client: option(s) of the official posthog SDK without effect here: %s "
            "(see the README's migration section)",
            ", ".join(ignored),
        )
    return api_key


def _check_super_properties(value: object) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise ConfigTypeError(f"super_properties must be a dict, got {type(value).__name__}")
    return MappingProxyType({str(k): v for k, v in value.items()})


def make_config(api_key: object, **options: Any) -> Config:
    """Validate every option; raise ``ConfigError``/``ConfigTypeError`` on the first bad one."""
    api_key = _official_names(api_key, options)
    unknown = sorted(set(options) - set(Config.__dataclass_fields__) - {"api_key"})
    if unknown:
        raise ConfigTypeError(f"unknown option(s): {', '.join(unknown)}")
    key = "" if api_key is None else check_key("api_key", api_key)
    personal = options.get("personal_api_key")
    values: dict[str, Any] = {
        "api_key": key,
        "host": normalize_host(options.get("host", DEFAULT_HOST)),
        "personal_api_key": None
        if personal is None
        else check_key("personal_api_key", personal) or None,
        "before_send": _check_hooks(options.get("before_send")),
        "super_properties": _check_super_properties(options.get("super_properties")),
    }
    for name in ("gzip", "sync_mode", "disabled", "debug", "disable_geoip", "historical_migration"):
        if name in options:
            values[name] = _check_bool(name, options[name])
    ints = {
        "flush_at": (1, MAX_FLUSH_AT),
        "max_queue_size": (1, 10_000_000),
        "spool_max_bytes": (1024 * 1024, 1 << 40),
    }
    if options.get("max_retries") is not None:
        values["max_retries"] = _check_int("max_retries", options["max_retries"], 0, 1000)
    for name, (low, high) in ints.items():
        if name in options:
            values[name] = _check_int(name, options[name], low, high)
    seconds = ("flush_interval", "retry_base_delay", "retry_max_delay", "timeout", "flags_timeout")
    bounds = dict.fromkeys((*seconds, "poll_interval", "exit_timeout"), (0.0, 86_400.0))
    bounds.update(retry_window=(0, 7 * 86_400), spool_max_age=(60, 30 * 86_400))
    for name, limits in bounds.items():
        if name in options:
            values[name] = _check_seconds(name, options[name], *limits)
    values["spool_path"] = _check_spool_path(options.get("spool_path"), values["host"], key)
    if options.get("capture_mode") is not None:  # None: the default, as in the official SDK
        values["capture_mode"] = _check_capture_mode(options["capture_mode"])
    on_error = options.get("on_error")
    if on_error is not None and not callable(on_error):
        raise ConfigTypeError("on_error must be a callable taking (exception, events)")
    values["on_error"] = on_error
    store = options.get("definitions_store")
    if store is not None:
        from ._flags.envelope import project_id
        from ._flags.store_url import open_store

        values["definitions_store"] = open_store(store, project_id(key))
    if not key:
        values["disabled"] = True
    return Config(**values)


def _check_spool_path(value: object, host: str, api_key: str) -> str | None:
    """None/False: no spool; True: one file per project in the user's cache directory; else a
    path (made absolute now, so a later change of directory cannot move it)."""
    if value is None or value is False:
        return None
    if value is True:
        from ._delivery.spool import default_path

        return str(default_path(host, api_key))
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigTypeError(f"spool_path must be a path or True, got {type(value).__name__}")
    path = os.path.abspath(os.fspath(value))
    if os.path.isdir(path):
        raise ConfigError(f"spool_path {path!r} is a directory; give a file name in it")
    return str(path)


def check_session(session: object) -> None:
    if session is not None and not all(hasattr(session, a) for a in ("request", "mount")):
        raise ConfigTypeError("session must be a requests.Session")


def call_timeout(timeout: object) -> float:
    """A ``flush``/``shutdown`` timeout in seconds (None: an hour); a bad one is logged."""
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout >= 0:
        return float(timeout)
    if timeout is None:
        return 3600.0
    logger.warning("posthog_client: timeout %r is not a number of seconds; using 10", timeout)
    return 10.0
