"""The feature-flag methods of ``Client`` (a mixin, to keep each module readable)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import _context
from ._config import Config
from ._guard import guard
from ._messages import InvalidCall
from ._remote import decode_payload
from ._types import FlagResult, FlagValue

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._flags import Emit, FlagOptions, FlagResolver, Query
    from ._poller import DefinitionsPoller
    from ._transport import Transport

logger = logging.getLogger("posthog_client")


# Creating the flag machinery is rare (once per client) but must happen once.
_setup_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    global _setup_lock
    _setup_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


def _make_query() -> Callable[[object, Mapping[str, Any]], Query]:
    """``_flags.make_query``, imported on the first flag call (an import statement in the hot
    path would cost microseconds on every call)."""
    global _make_query_function
    if _make_query_function is None:
        from ._flags import make_query

        _make_query_function = make_query
    return _make_query_function


_make_query_function: Callable[[object, Mapping[str, Any]], Query] | None = None


class FlagMethods:
    """Flag methods. The evaluator, the poller and their imports are set up on the first flag
    call, so an app that only captures events never pays for them."""

    _config: Config
    _transport: Transport
    _resolver: FlagResolver | None = None
    _poller: DefinitionsPoller | None = None
    _stoppables: list[Any]  # what must stop when the client is dropped (the poller)
    _flag_called: Emit  # sends a $feature_flag_called event (a Client method)

    @property
    def _flags(self) -> FlagResolver:
        resolver = self._resolver
        if resolver is None:
            with _setup_lock:
                resolver = self._resolver
                if resolver is None:
                    resolver = self._resolver = self._new_resolver()
        return resolver

    def _new_resolver(self) -> FlagResolver:
        from ._flags import FlagResolver
        from ._poller import DefinitionsPoller

        config = self._config
        if config.personal_api_key and not config.disabled:
            self._poller = DefinitionsPoller(config, self._transport)
            self._stoppables.append(self._poller)
        return FlagResolver(config, self._transport, self._poller, self._flag_called)

    def _stop_flags(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        if self._resolver is not None:
            self._resolver.forget_reported()

    @guard(None)
    def get_feature_flag_result(
        self, key: str, distinct_id: str | int | None = None, **options: Unpack[FlagOptions]
    ) -> FlagResult | None:
        """Evaluate flag ``key`` for ``distinct_id``: value, payload, reason, where it was decided.

        Local evaluation (with ``personal_api_key``) is tried first; the server is asked only
        when it cannot decide, unless ``only_evaluate_locally``. Options: ``groups``,
        ``person_properties``, ``group_properties``, ``only_evaluate_locally``,
        ``send_feature_flag_events`` (default True), ``device_id``, ``disable_geoip``. Returns
        None on a bad call (with one log line).
        """
        query = self._query(key, distinct_id, options)
        if query is None:
            return None
        return self._flags.resolve(key, query, options.get("send_feature_flag_events", True))

    def _value(self, key: str, distinct_id: object, options: Mapping[str, Any]) -> Any:
        query = self._query(key, distinct_id, options)
        if query is None:
            return None
        return self._flags.value(key, query, options.get("send_feature_flag_events", True))

    @guard(None)
    def feature_enabled(
        self,
        key: str,
        distinct_id: str | int | None = None,
        *,
        default: bool | None = None,
        **options: Unpack[FlagOptions],
    ) -> bool | None:
        """True when flag ``key`` is on (any variant counts); ``default`` when unknown."""
        value = self._value(key, distinct_id, options)
        return default if value is None else value is not False

    @guard(None)
    def get_feature_flag(
        self, key: str, distinct_id: str | int | None = None, **options: Unpack[FlagOptions]
    ) -> FlagValue | None:
        """The flag's value: True/False, the variant key, or None when it could not be told."""
        value: FlagValue | None = self._value(key, distinct_id, options)
        return value

    @guard(None)
    def get_feature_flag_payload(
        self,
        key: str,
        distinct_id: str | int | None = None,
        *,
        match_value: FlagValue | None = None,
        **options: Unpack[FlagOptions],
    ) -> Any:
        """The decoded JSON payload of the flag's value for this user, or None.

        With ``match_value`` (a value you already evaluated), the payload of that value is read
        from the local definitions without evaluating again or sending an event; without
        definitions the flag is evaluated and the payload returned only if the value matches.
        """
        query = self._query(key, distinct_id, options)
        if query is None:
            return None
        if match_value is not None:
            flag = self._flags.definitions().flags.get(key)
            if flag is not None:
                return decode_payload(flag.payload_for(match_value))
        send = options.get("send_feature_flag_events", True)
        result = self._flags.resolve(key, query, send)
        if match_value is not None and result.value != match_value:
            return None
        return result.payload

    @guard({})
    def get_all_flags(
        self, distinct_id: str | int | None = None, **options: Unpack[FlagOptions]
    ) -> dict[str, FlagValue]:
        """Every flag's value for this user: local first, one remote call for the rest."""
        return {key: value for key, (value, _) in self._all(distinct_id, options).items()}

    @guard({"featureFlags": {}, "featureFlagPayloads": {}})
    def get_all_flags_and_payloads(
        self, distinct_id: str | int | None = None, **options: Unpack[FlagOptions]
    ) -> dict[str, dict[str, Any]]:
        """``{"featureFlags": {key: value}, "featureFlagPayloads": {key: decoded payload}}``."""
        results = self._all(distinct_id, options)
        return {
            "featureFlags": {key: value for key, (value, _) in results.items()},
            "featureFlagPayloads": {
                key: decode_payload(raw)
                for key, (value, raw) in results.items()
                if value is not False and raw is not None
            },
        }

    @guard(False)
    def load_feature_flags(self) -> bool:
        """Fetch flag definitions now (bounded) and keep them fresh; True when loaded.

        Needs ``personal_api_key``. Optional: the first flag call loads them anyway.
        """
        self._flags  # noqa: B018 - sets the poller up on first use
        poller = self._poller
        if poller is None:
            logger.warning("posthog_client: load_feature_flags() needs a personal_api_key")
            return False
        return poller.load_now()

    def _all(
        self, distinct_id: object, options: Mapping[str, Any]
    ) -> dict[str, tuple[FlagValue, str | None]]:
        query = self._query(None, distinct_id, options)
        return {} if query is None else self._flags.resolve_all(query)

    def _query(
        self, key: str | None, distinct_id: object, options: Mapping[str, Any]
    ) -> Query | None:
        """Validate a flag call (``key`` None: all flags); None (logged) when it is bad."""
        if self._config.disabled:
            return None
        if key is not None and (type(key) is not str or not key):
            logger.warning("posthog_client: flag call ignored: key must be a non-empty string")
            return None
        if distinct_id is None:
            distinct_id = _context.current().distinct_id
        try:
            return _make_query()(distinct_id, options)
        except InvalidCall as exc:
            logger.warning("posthog_client: flag call ignored: %s", exc)
            return None
