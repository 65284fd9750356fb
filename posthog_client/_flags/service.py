"""The flag side of a ``Client`` (composed into it, not inherited): validates each flag call and
owns the resolver and the definitions poller.

With a personal key or a definitions store the poller starts with the client, so no request
path ever starts it: the plain ``DefinitionsPoller``, or with a store the ``FleetPoller``, which
shares one poll among every process using the store. The resolver, the evaluator and their
imports are set up on the first flag call otherwise, so an app that only captures events never
pays for them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._config import Config
from .._errors import InvalidCall
from .._events import context as _context
from .._runtime import lifecycle as _lifecycle
from .._runtime import misuse
from .._types import FlagResult, FlagStats, FlagValue

if TYPE_CHECKING:
    from .._delivery.transport import Transport
    from .poller import DefinitionsPoller
    from .query import Query
    from .reporting import Emit
    from .resolver import Answer, FlagResolver
    from .snapshot import FeatureFlagEvaluations

logger = logging.getLogger("posthog_client")

# Setting the flag machinery up is rare (once per client) but must happen once.
_setup_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    global _setup_lock
    _setup_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


class Stopper:
    """The flag poller, if any, held apart from the flag service: the service refers to the
    client's intake (and through it to ``before_send`` hooks, which may refer to the client),
    so a dropped client's finalizer must not hold the service."""

    def __init__(self) -> None:
        self.poller: DefinitionsPoller | None = None

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()


class FlagService:
    def __init__(self, config: Config, transport: Transport, emit: Emit) -> None:
        self._config = config
        self._transport = transport
        self._emit = emit
        self._resolver: FlagResolver | None = None
        self._make_query: Callable[[object, Mapping[str, Any]], Query] | None = None
        self.poller: DefinitionsPoller | None = None
        self.stopper = Stopper()  # what a dropped client's finalizer stops (it holds no callback)
        if self._polls(config):
            self._setup()
            assert self.poller is not None
            self.poller.start()

    @property
    def resolver(self) -> FlagResolver:
        resolver = self._resolver
        return resolver if resolver is not None else self._setup()

    def _setup(self) -> FlagResolver:
        with _setup_lock:
            if self._resolver is not None:
                return self._resolver
            from .poller import DefinitionsPoller
            from .query import make_query
            from .resolver import FlagResolver

            config = self._config
            if self._polls(config):
                if config.definitions_store is not None:
                    from .coordinator import FleetPoller

                    self.poller = FleetPoller(config, self._transport, config.definitions_store)
                else:
                    self.poller = DefinitionsPoller(config, self._transport)
                self.stopper.poller = self.poller
            self._make_query = make_query
            self._resolver = FlagResolver(config, self._transport, self.poller, self._emit)
            return self._resolver

    @staticmethod
    def _polls(config: Config) -> bool:
        has_source = config.personal_api_key or config.definitions_store is not None
        return bool(has_source) and not config.disabled

    def stats(self) -> FlagStats:
        poller = self.poller
        return FlagStats() if poller is None else poller.stats()

    def stop(self) -> None:
        self.stopper.stop()
        if self._resolver is not None:
            self._resolver.events.forget()

    def set_disabled(self, disabled: bool) -> None:
        """``client.disabled = ...`` at run time; enabling starts the poller if it never ran."""
        self._config = dataclasses.replace(self._config, disabled=disabled)
        if disabled or not self._polls(self._config):
            return
        if self.poller is None:
            self._resolver = None  # set up again, with a poller this time
            self._setup()
            if self.poller is not None:
                self.poller.start()

    def query(
        self, key: str | None, distinct_id: object, options: Mapping[str, Any]
    ) -> Query | None:
        """Validate a flag call (``key`` None: all flags); None when the client is disabled.
        A bad call raises ``InvalidCall``, which the public method's guard names."""
        if self._config.disabled:
            return None
        _lifecycle.check_fork()  # a fork the at-fork hooks missed: this process polls on its own
        if key is not None and (type(key) is not str or not key):
            raise InvalidCall(f"key must be a non-empty string, got {key!r:.40}")
        context = _context.current()
        if context is not _context.EMPTY:  # outside any context there is nothing to merge
            if distinct_id is None:
                distinct_id = context.distinct_id
            if context.device_id is not None and options.get("device_id") is None:
                options = {**options, "device_id": context.device_id}
            options = _context.flag_options(context, options)
        if distinct_id is None:
            raise InvalidCall("no distinct_id given, and none in the context")
        make_query = self._make_query
        if make_query is None:
            self._setup()
            make_query = self._make_query
            assert make_query is not None
        return make_query(distinct_id, options)

    # -- what the Client's flag methods return ------------------------------------------------

    def value(self, key: str, distinct_id: object, options: Mapping[str, Any]) -> FlagValue | None:
        query = self.query(key, distinct_id, options)
        send = options.get("send_feature_flag_events", True)
        return None if query is None else self.resolver.value(key, query, send)

    def result(
        self, key: str, distinct_id: object, options: Mapping[str, Any]
    ) -> FlagResult | None:
        query = self.query(key, distinct_id, options)
        send = options.get("send_feature_flag_events", True)
        return None if query is None else self.resolver.resolve(key, query, send)

    def payload(
        self,
        key: str,
        distinct_id: object,
        match_value: FlagValue | None,
        options: Mapping[str, Any],
    ) -> Any:
        query = self.query(key, distinct_id, options)
        if query is None:
            return None
        if match_value is not None:
            flag = self.resolver.definitions().flags.get(key)
            if flag is not None:
                from .remote import decode_payload

                return decode_payload(flag.payload_for(match_value))
        # A payload lookup never sends $feature_flag_called by itself (PostHog's sdk-specs,
        # get-feature-flag-payload.feature).
        result = self.resolver.resolve(key, query, False)
        if result is None or (match_value is not None and result.value != match_value):
            return None
        return result.payload

    def evaluate(
        self, distinct_id: object, options: Mapping[str, Any], flag_keys: object
    ) -> FeatureFlagEvaluations:
        from .snapshot import FeatureFlagEvaluations

        try:
            keys = _flag_keys(flag_keys)
        except InvalidCall as exc:
            logger.warning("posthog_client: evaluate_flags() ignored: %s", exc)
            return FeatureFlagEvaluations.empty()
        query = None if keys == [] else self.query(None, distinct_id, options)
        if query is None:  # a bad call, or no key asked: nothing evaluated, no request
            return FeatureFlagEvaluations.empty()
        return self.resolver.evaluate(query, keys)

    def all(
        self, distinct_id: object, options: Mapping[str, Any], keys: object = None
    ) -> dict[str, Answer]:
        """Every flag's answer (``value``, raw ``payload``); only ``keys`` when given."""
        if keys is not None and (
            not isinstance(keys, (list, tuple, set, frozenset))
            or not all(isinstance(k, str) for k in keys)
        ):
            raise InvalidCall("flag_keys_to_evaluate must be a list of flag keys")
        query = self.query(None, distinct_id, options)
        if query is None:
            return {}
        results = self.resolver.resolve_all(query)
        return results if keys is None else {k: v for k, v in results.items() if k in keys}

    def explain(self, distinct_id: object, options: Mapping[str, Any]) -> dict[str, FlagResult]:
        query = self.query(None, distinct_id, options)
        return {} if query is None else self.resolver.explain(query)

    def enrichment(
        self, distinct_id: object, options: Mapping[str, Any], wait: bool
    ) -> dict[str, Any] | None:
        """Flag properties for ``capture(send_feature_flags=...)``; None: not known without
        waiting (``wait`` False) for definitions or a remote answer. ``options``: the flag
        options, and ``flag_keys`` to keep only those flags."""
        keys = options.get("flag_keys")
        try:
            query = self.query(
                None, distinct_id, {k: v for k, v in options.items() if k != "flag_keys"}
            )
        except InvalidCall as exc:
            misuse.warn("capture", f"send_feature_flags: {exc}", "no flags are attached")
            return {}
        if query is None:
            return {}
        props = self.resolver.enrichment(query, wait)
        if props is None or keys is None:
            return props
        wanted = {f"$feature/{key}" for key in keys}
        kept = {k: v for k, v in props.items() if k in wanted}
        active = [k for k in props.get("$active_feature_flags", ()) if f"$feature/{k}" in wanted]
        return {**kept, "$active_feature_flags": active} if active else kept

    def load(self) -> bool:
        self.resolver  # noqa: B018 - sets the poller up
        if self.poller is None:
            logger.warning(
                "posthog_client: load_feature_flags() needs a personal_api_key or a "
                "definitions_store"
            )
            return False
        return self.poller.load_now()


def _flag_keys(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidCall("flag_keys must be a list of flag keys")
    keys = list(value)
    if not all(isinstance(k, str) for k in keys):
        raise InvalidCall("flag_keys must be a list of flag keys (strings)")
    return list(dict.fromkeys(keys))
