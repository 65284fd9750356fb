"""``Client``: the public methods, and the wiring of the parts.

Events: public method -> ``_events`` (pure message building) -> ``_delivery`` (bounded queue,
consumer thread, transport). Flags: public method -> ``_flags.service`` (validation, resolver,
poller) -> pure evaluation, and the transport only when local evaluation cannot decide.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import sys
import uuid as uuidlib
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._config import Config, call_timeout, check_session, make_config
from ._delivery.consumer import Consumer
from ._delivery.intake import Intake
from ._delivery.transport import Transport
from ._events import context as _context
from ._events import messages
from ._flags import api as _flag_api
from ._flags.service import FlagService
from ._runtime import lifecycle as _lifecycle
from ._runtime.guard import guard
from ._runtime.logs import enable_debug_logging
from ._types import Stats
from ._version import VERSION

if TYPE_CHECKING:
    import requests

    from ._config import BeforeSend, OnError
    from ._flags.snapshot import FeatureFlagEvaluations

logger = logging.getLogger("posthog_client")

_ONLY_EVENT: Any = object()  # capture() was called with one argument: the event


class Client:
    """A PostHog client: capture events and evaluate feature flags.

    Create one per process and reuse it; it is thread-safe. Only the constructor raises (on a bad
    option); every other method logs problems on the ``posthog_client`` logger and returns a
    neutral value.
    """

    def __init__(
        self,
        api_key: str | None,
        *,
        host: str = Config.host,
        personal_api_key: str | None = None,
        flush_at: int = Config.flush_at,
        flush_interval: float = Config.flush_interval,
        max_queue_size: int = Config.max_queue_size,
        max_retries: int | None = Config.max_retries,
        retry_window: float = Config.retry_window,
        retry_base_delay: float = Config.retry_base_delay,
        retry_max_delay: float = Config.retry_max_delay,
        timeout: float = Config.timeout,
        flags_timeout: float = Config.flags_timeout,
        poll_interval: float = Config.poll_interval,
        definitions_store: str | object | None = None,
        exit_timeout: float = Config.exit_timeout,
        gzip: bool = Config.gzip,
        sync_mode: bool = Config.sync_mode,
        disabled: bool = Config.disabled,
        debug: bool = Config.debug,
        disable_geoip: bool = Config.disable_geoip,
        historical_migration: bool = Config.historical_migration,
        capture_mode: str = Config.capture_mode,
        spool_path: str | os.PathLike[str] | bool | None = None,
        spool_max_bytes: int = Config.spool_max_bytes,
        spool_max_age: float = Config.spool_max_age,
        on_error: OnError | None = None,
        before_send: BeforeSend | list[BeforeSend] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        options = dict(locals())
        del options["self"], options["api_key"], options["session"]
        self._config = config = make_config(api_key, **options)
        check_session(session)
        if config.debug:
            enable_debug_logging()
        if not config.api_key and not disabled:
            logger.warning("posthog_client: no api_key given; this client sends nothing")
        self._static = messages.static_properties(VERSION, config.disable_geoip)
        # The parts get the options without the user's callbacks: a callback that refers to its
        # client must not keep a dropped client alive through the parts' threads.
        core = dataclasses.replace(config, on_error=None, before_send=())
        self._transport = Transport(config.host, session)
        on_error_source = _weak_on_error(weakref.ref(self))
        self._consumer = Consumer(core, self._transport, self._static, on_error_source)
        self._consumer.start_replay()  # with a spool: rows left by an earlier run go out now
        self._intake = Intake(self._consumer, self._static, config.before_send)
        self._flags = FlagService(core, self._transport, self._intake.emit)
        # A client dropped without shutdown() must not leave its threads behind.
        poller = self._flags.poller
        self._finalizer = weakref.finalize(self, _lifecycle.release, self._consumer, poller)
        _lifecycle.add_client(self)

    def __repr__(self) -> str:
        return f"<posthog_client.Client host={self._config.host!r} disabled={self.disabled!r}>"

    @property
    def disabled(self) -> bool:
        return self._config.disabled

    @property
    def host(self) -> str:
        return self._config.host

    # -- events --------------------------------------------------------------------------------

    @guard(None)
    def capture(
        self,
        distinct_id: str | int | None,
        event: str = _ONLY_EVENT,
        properties: Mapping[str, Any] | None = None,
        *,
        groups: Mapping[str, str | int] | None = None,
        timestamp: Any = None,
        uuid: Any = None,
        send_feature_flags: bool = False,
        flags: FeatureFlagEvaluations | None = None,
    ) -> str | None:
        """Capture ``event`` for ``distinct_id``; returns the event's uuid, or None if dropped.

        Inside a request context (``new_context()`` + ``identify_context()``), ``capture(event)``
        with a single argument takes the distinct id from the context; without any distinct id
        the event is sent personless. Context tags and ``$session_id`` are added under your own
        properties. ``send_feature_flags=True`` adds ``$feature/<key>`` and
        ``$active_feature_flags`` (evaluated locally when definitions are loaded, else with one
        remote call); ``flags=`` (an ``evaluate_flags()`` snapshot) adds them from the snapshot
        instead, with no evaluation and no request. Your own properties win.
        """
        if self._config.disabled:
            return None
        stamp, uid, uid_value = self._intake.stamp(timestamp, uuid, compact=True)
        props: object = properties
        context = _context.current()
        if event is _ONLY_EVENT:  # capture(event): the person comes from the context
            event, distinct_id = distinct_id, context.distinct_id  # type: ignore[assignment]
            if distinct_id is None:
                distinct_id = str(uuidlib.uuid4())
                props = {"$process_person_profile": False, **(properties or {})}
        if context is not _context.EMPTY and (props is None or isinstance(props, Mapping)):
            props = {**_context.context_properties(context), **(props or {})}
        enrich = None
        if flags is not None:  # the snapshot's values: no evaluation, no request
            stamped = _flag_api.snapshot_properties(flags)
            if stamped is not None:
                props = {**stamped, **props} if isinstance(props, Mapping) else props or stamped
        elif send_feature_flags:
            known = self._flags.enrichment(distinct_id, groups, wait=False)
            if known is not None:  # local values, now: the caller's properties win
                props = {**known, **props} if isinstance(props, Mapping) else props or known
            else:  # not known without waiting: asked on the background thread
                enrich = functools.partial(self._flags.enrichment, distinct_id, groups, True)
        return self._intake.submit(
            "capture",
            uid,
            lambda: messages.capture(distinct_id, event, props, groups, stamp, uid_value),
            enrich,
        )

    @guard(None)
    def identify(
        self,
        distinct_id: str | int,
        properties: Mapping[str, Any] | None = None,
        *,
        timestamp: Any = None,
        uuid: Any = None,
    ) -> str | None:
        """Set person properties with an ``$identify`` event."""
        return self._person("$identify", distinct_id, properties, timestamp, uuid)

    @guard(None)
    def set(
        self,
        distinct_id: str | int,
        properties: Mapping[str, Any],
        *,
        timestamp: Any = None,
        uuid: Any = None,
    ) -> str | None:
        """Set person properties (``$set``)."""
        return self._person("$set", distinct_id, properties, timestamp, uuid)

    @guard(None)
    def set_once(
        self,
        distinct_id: str | int,
        properties: Mapping[str, Any],
        *,
        timestamp: Any = None,
        uuid: Any = None,
    ) -> str | None:
        """Set person properties only where they are not set yet (``$set_once``)."""
        return self._person("$set_once", distinct_id, properties, timestamp, uuid)

    @guard(None)
    def alias(
        self, previous_id: str | int, distinct_id: str | int, *, timestamp: Any = None
    ) -> str | None:
        """Tell PostHog that ``previous_id`` and ``distinct_id`` are the same person."""
        if self._config.disabled:
            return None
        stamp, uid, _ = self._intake.stamp(timestamp, None)
        return self._intake.submit(
            "alias", uid, lambda: messages.alias(previous_id, distinct_id, stamp, uid)
        )

    @guard(None)
    def group_identify(
        self,
        group_type: str,
        group_key: str | int,
        properties: Mapping[str, Any] | None = None,
        *,
        distinct_id: str | int | None = None,
        timestamp: Any = None,
        uuid: Any = None,
    ) -> str | None:
        """Set properties of a group (``$groupidentify``)."""
        if self._config.disabled:
            return None
        stamp, uid, _ = self._intake.stamp(timestamp, uuid)
        return self._intake.submit(
            "group_identify",
            uid,
            lambda: messages.group_identify(
                group_type, group_key, properties, distinct_id, stamp, uid
            ),
        )

    def _person(
        self, kind: str, distinct_id: object, properties: object, timestamp: Any, uuid: Any
    ) -> str | None:
        if self._config.disabled:
            return None
        stamp, uid, _ = self._intake.stamp(timestamp, uuid)
        return self._intake.submit(
            kind.lstrip("$"),
            uid,
            lambda: messages.person(kind, distinct_id, properties, stamp, uid),
        )

    @guard(None)
    def capture_exception(
        self,
        exc: BaseException | None = None,
        distinct_id: str | int | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        handled: bool = True,
        mechanism: str = "generic",
    ) -> str | None:
        """Capture an ``$exception`` event (the exception being handled when ``exc`` is None):
        type, message, and stack frames with in-app detection and source context. Frame
        variables are never sent."""
        if self._config.disabled:
            return None
        if exc is None:
            exc = sys.exc_info()[1]
            if exc is None:
                logger.warning("posthog_client: capture_exception() with no exception to capture")
                return None
        from ._events.exceptions import exception_properties

        props = exception_properties(exc, handled=handled, mechanism=mechanism)
        if isinstance(properties, Mapping):
            props.update(properties)
        if distinct_id is None:
            return self.capture("$exception", properties=props)
        return self.capture(distinct_id, "$exception", props)

    # -- feature flags: the methods are in _flags/api.py --------------------------------------

    feature_enabled = _flag_api.feature_enabled
    get_feature_flag = _flag_api.get_feature_flag
    get_feature_flag_result = _flag_api.get_feature_flag_result
    get_feature_flag_payload = _flag_api.get_feature_flag_payload
    get_all_flags = _flag_api.get_all_flags
    get_all_flags_and_payloads = _flag_api.get_all_flags_and_payloads
    evaluate_flags = _flag_api.evaluate_flags
    explain_flags = _flag_api.explain_flags
    load_feature_flags = _flag_api.load_feature_flags

    # -- lifecycle -----------------------------------------------------------------------------

    @guard(False)
    def flush(self, timeout: float = 10.0) -> bool:
        """Deliver everything captured before this call; wait at most ``timeout`` seconds.

        Returns True when every such event was delivered; False when the deadline passed or
        some were dropped or of unknown outcome (``stats()`` and ``on_error`` tell which).
        """
        return self._consumer.flush(call_timeout(timeout))

    @guard(False)
    def shutdown(self, timeout: float = 10.0) -> bool:
        """Flush, then stop the background threads. Idempotent; bounded by ``timeout``.

        When it returns, every event is delivered, dropped (counted, given to ``on_error``) or
        of unknown outcome (counted). Returns True when every event was delivered.
        """
        if self._intake.closed:
            return self._consumer.pending() == 0
        self._intake.closed = True
        self._flags.stop()
        lost = self._consumer.ledger.lost
        left = self._consumer.shutdown(call_timeout(timeout))
        self._transport.close()
        return left == 0 and self._consumer.ledger.lost == lost

    def _retire(self) -> None:
        """Stop taking events and let the background thread deliver what it holds, without
        waiting (the module-level client being replaced). The exit hook flushes what is left."""
        self._intake.closed = True
        self._flags.stop()
        self._consumer.release()

    @guard(Stats())
    def stats(self) -> Stats:
        """Delivery counters: accepted, sent, retried, pending, dropped by reason, requests;
        ``flags``: where flag definitions come from (role, fence, snapshot age, fetches, 304s,
        store errors, lease changes)."""
        return dataclasses.replace(self._consumer.stats(), flags=self._flags.stats())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def _weak_on_error(ref: weakref.ref[Client]) -> Callable[[], OnError | None]:
    """The client's ``on_error``, found through a weak reference (None once it is gone)."""

    def source() -> OnError | None:
        client = ref()
        return None if client is None else client._config.on_error

    return source
