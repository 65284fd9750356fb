"""``Client(definitions_store=...)``: a URL or an object, turned into a ``DefinitionsStore``.

Validation only: nothing connects and nothing is read here (the first round trip is the
poller's), so a bad URL is a ``ConfigError`` at construction and nothing else is.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .._errors import ConfigError, ConfigTypeError
from .store import DefinitionsStore, owned

_METHODS = ("poll", "renew", "release", "write", "touch", "read", "close")
_PROVIDER_METHODS = (
    "get_flag_definitions",
    "should_fetch_flag_definitions",
    "on_flag_definitions_received",
)


def open_store(value: object, namespace: str) -> DefinitionsStore | None:
    """The store for ``Client(definitions_store=value)``; ``ConfigError`` when unusable.

    URL stores are namespaced by project (``namespace``), so two projects can share a Redis
    database or a directory. Nothing connects here: the first round trip is the poller's.
    """
    if value is None:
        return None
    if isinstance(value, str):
        store = _from_url(value, namespace)
        owned.add(store)
        return store
    if all(callable(getattr(value, name, None)) for name in _METHODS):
        return value  # type: ignore[return-value]
    if all(callable(getattr(value, name, None)) for name in _PROVIDER_METHODS):
        from .provider_store import ProviderStore

        provider = ProviderStore(value, namespace)
        owned.add(provider)
        return provider
    raise ConfigTypeError(
        "definitions_store must be a URL (redis://host:port/db, file:///dir), a "
        "DefinitionsStore or a FlagDefinitionCacheProvider, got " + type(value).__name__
    )


def _seconds(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low < value <= high:
        raise ConfigError(f"definitions_store: {name} must be seconds in ({low}, {high}]")
    return value


def _from_url(url: str, namespace: str) -> DefinitionsStore:
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"definitions_store is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss", "unix", "file") or parts.fragment:
        raise ConfigError(
            "definitions_store must be a redis://, rediss://, unix:// or file:/// URL"
        )
    options: dict[str, Any] = {}
    extra = []
    for key, raw in parse_qsl(parts.query, keep_blank_values=True):
        if key == "ttl":
            options["ttl"] = _seconds("ttl", raw, 0, 365 * 86_400.0)
        elif key == "timeout" and scheme != "file":
            options["timeout"] = _seconds("timeout", raw, 0, 60)
        elif key == "prefix" and scheme != "file":
            if not raw or any(c in raw for c in "{} \r\n"):
                raise ConfigError("definitions_store: prefix must be a plain key prefix")
            options["prefix"] = raw
        elif key == "wake" and scheme != "file":
            if raw not in ("0", "1"):
                raise ConfigError("definitions_store: wake must be 0 or 1")
            options["wake"] = raw == "1"
        elif key == "db" and scheme == "unix":
            extra.append((key, raw))
        else:
            raise ConfigError(f"definitions_store: unknown option {key!r} in the URL")
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError("definitions_store: use file:///absolute/path/to/a/directory")
        from .file_store import FileStore

        return FileStore(unquote(parts.path), namespace=namespace, **options)
    if scheme == "unix":
        if not parts.path:
            raise ConfigError("definitions_store: unix:// needs a socket path")
    elif not parts.hostname:
        raise ConfigError("definitions_store: the redis URL has no host")
    elif parts.path not in ("", "/") and not parts.path.lstrip("/").isdigit():
        raise ConfigError("definitions_store: the redis database must be a number (/0)")
    if port == 0:
        raise ConfigError("definitions_store: port 0 is not a port")
    for key, raw in extra:
        if not raw.isdigit():
            raise ConfigError(f"definitions_store: {key} must be a number")
    try:
        from .redis_store import RedisStore
    except ImportError:
        raise ConfigError(
            "definitions_store: redis:// needs the redis package: "
            "pip install 'posthog-client[redis]'"
        ) from None
    base = parts._replace(query="&".join(f"{k}={v}" for k, v in extra)).geturl()
    return RedisStore(base, namespace=namespace, **options)
