"""``Client``: the public event methods and lifecycle, and the wiring of the parts (the flag
methods are in ``_flag_api``, the never-raise guard in ``_guard``)."""

from __future__ import annotations

import logging
import random
import sys
import time
import uuid as uuidlib
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import _context, _lifecycle
from . import _messages as messages
from ._batching import finalize
from ._config import Config, make_config
from ._consumer import Consumer
from ._flag_api import FlagMethods
from ._guard import guard
from ._transport import Transport
from ._types import Stats
from ._version import VERSION

if TYPE_CHECKING:
    import requests

    from ._config import BeforeSend, OnError

logger = logging.getLogger("posthog_client")

_ONLY_EVENT: Any = object()  # capture() was called with one argument: the event


class Client(FlagMethods):
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
        max_retries: int = Config.max_retries,
        retry_base_delay: float = Config.retry_base_delay,
        retry_max_delay: float = Config.retry_max_delay,
        timeout: float = Config.timeout,
        flags_timeout: float = Config.flags_timeout,
        poll_interval: float = Config.poll_interval,
        exit_timeout: float = Config.exit_timeout,
        gzip: bool = Config.gzip,
        sync_mode: bool = Config.sync_mode,
        disabled: bool = Config.disabled,
        debug: bool = Config.debug,
        disable_geoip: bool = Config.disable_geoip,
        historical_migration: bool = Config.historical_migration,
        on_error: OnError | None = None,
        before_send: BeforeSend | list[BeforeSend] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        options = dict(locals())
        del options["self"], options["api_key"]
        self._config = config = make_config(api_key, **options)
        if debug:
            _enable_debug_logging()
        if not config.api_key and not disabled:
            logger.warning("posthog_client: no api_key given; this client sends nothing")
        self._static = messages.static_properties(VERSION, config.disable_geoip)
        self._transport = Transport(config.host, session)
        self._consumer = Consumer(config, self._transport, self._static)
        self._hooks = config.before_send
        self._closed = False
        # A client dropped without shutdown() must not leave its threads behind.
        self._stoppables: list[Any] = []
        self._finalizer = weakref.finalize(self, _release, self._consumer, self._stoppables)
        _lifecycle.on_exit(self)
        _warn_if_many_clients()

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
    ) -> str | None:
        """Capture ``event`` for ``distinct_id``; returns the event's uuid, or None if dropped.

        Inside a request context (``new_context()`` + ``identify_context()``), ``capture(event)``
        with a single argument takes the distinct id from the context; without any distinct id
        the event is sent personless. Context tags and ``$session_id`` are added under your own
        properties. ``send_feature_flags=True`` adds ``$feature/<key>`` and
        ``$active_feature_flags`` (evaluated locally when definitions are loaded, else with one
        remote call); your own properties win.
        """
        if self._config.disabled:
            return None
        stamp, uid, uid_value = self._stamp(timestamp, uuid, compact=True)
        props: object = properties
        context = _context.current()
        if event is _ONLY_EVENT:  # capture(event): the person comes from the context
            event, distinct_id = distinct_id, context.distinct_id  # type: ignore[assignment]
            if distinct_id is None:
                distinct_id = str(uuidlib.uuid4())
                props = {"$process_person_profile": False, **(properties or {})}
        if context is not _context.EMPTY and (props is None or isinstance(props, Mapping)):
            props = {**_context.context_properties(context), **(props or {})}
        if send_feature_flags:
            props = self._with_flags(distinct_id, props, groups)
        return self._submit(
            "capture",
            uid,
            lambda: messages.capture(distinct_id, event, props, groups, stamp, uid_value),
        )

    def _with_flags(self, distinct_id: object, properties: object, groups: object) -> object:
        from ._flags import make_query

        try:
            query = make_query(distinct_id, {"groups": groups})
        except messages.InvalidCall:
            return properties  # capture() reports the bad argument
        flags = self._flags.enrichment(query)
        if isinstance(properties, Mapping):
            flags.update(properties)
            return flags
        return flags if properties is None else properties

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
        stamp, uid, _ = self._stamp(timestamp, None)
        return self._submit(
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
        stamp, uid, _ = self._stamp(timestamp, uuid)
        return self._submit(
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
        stamp, uid, _ = self._stamp(timestamp, uuid)
        return self._submit(
            kind.lstrip("$"),
            uid,
            lambda: messages.person(kind, distinct_id, properties, stamp, uid),
        )

    def _stamp(
        self, timestamp: Any, uuid: Any, compact: bool = False
    ) -> tuple[Any, str, int | str]:
        """The event's timestamp, and its uuid as text (returned to the caller) and as it is
        queued (an int when generated here). ``compact``: leave the timestamp None when the
        generated uuid carries it (queued events are smaller)."""
        now = time.time()
        stamp: str | float | None = now
        if timestamp is not None:
            text = messages.to_utc_text(timestamp)
            if text is None:
                logger.warning(
                    "posthog_client: timestamp %r could not be read; using the current time",
                    timestamp,
                )
            else:
                stamp = text
        if uuid is not None:
            uid = messages.check_uuid(uuid)
            if uid is not None:
                return stamp, uid, uid
            logger.warning("posthog_client: uuid %r is not a UUID; generating one", uuid)
        value = messages.uuid7_int(now, random.getrandbits(62))
        if compact and stamp == now:
            stamp = None
        return stamp, messages.uuid_text(value), value

    def _submit(
        self, method: str, uid: str, build: Callable[[], dict[str, Any] | messages.Pending]
    ) -> str | None:
        if self._closed:
            logger.warning("posthog_client: %s() after shutdown(); the event is not sent", method)
            return None
        try:
            message = build()
        except messages.InvalidCall as exc:
            logger.warning("posthog_client: %s() ignored: %s", method, exc)
            return None
        if self._hooks:
            filtered = self._run_hooks(message)
            if filtered is None:
                self._consumer.count_before_send_drop()
                return None
            message = filtered
        return uid if self._consumer.put(message) else None

    def _run_hooks(self, message: dict[str, Any] | messages.Pending) -> dict[str, Any] | None:
        event: Any = finalize(message, self._static)
        for hook in self._hooks:
            try:
                event = hook(event)
            except Exception:
                logger.exception("posthog_client: before_send hook raised; the event is dropped")
                return None
            if event is None:
                logger.debug("posthog_client: before_send dropped an event")
                return None
            if not _well_formed(event):
                logger.warning(
                    "posthog_client: before_send returned %r, not an event; the event is dropped",
                    type(event).__name__,
                )
                return None
        return event  # type: ignore[no-any-return]

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
        from ._exceptions import exception_properties

        props = exception_properties(exc, handled=handled, mechanism=mechanism)
        if isinstance(properties, Mapping):
            props.update(properties)
        if distinct_id is None:
            return self.capture("$exception", properties=props)
        return self.capture(distinct_id, "$exception", props)

    def _flag_called(
        self,
        distinct_id: str,
        properties: dict[str, Any],
        groups: Mapping[str, str] | None,
        minimal: bool,
    ) -> None:
        if not minimal:
            self.capture(distinct_id, "$feature_flag_called", properties, groups=groups)
            return
        # Minimal exposure events (the server's gate): no context tags, only the session.
        session = _context.current().session_id
        with _context.new_context(fresh=True):
            if session is not None:
                _context.set_context_session(session)
            self.capture(distinct_id, "$feature_flag_called", properties, groups=groups)

    # -- lifecycle -----------------------------------------------------------------------------

    @guard(False)
    def flush(self, timeout: float = 10.0) -> bool:
        """Deliver everything captured before this call; wait at most ``timeout`` seconds.

        Returns True when every such event was delivered or given up on (see ``stats()``).
        """
        return self._consumer.flush(_seconds(timeout))

    @guard(False)
    def shutdown(self, timeout: float = 10.0) -> bool:
        """Flush, then stop the background thread. Idempotent; bounded by ``timeout``.

        Returns True when nothing was left undelivered.
        """
        if self._closed:
            return self._consumer.pending() == 0
        self._closed = True
        self._stop_flags()
        left = self._consumer.shutdown(_seconds(timeout))
        self._transport.close()
        _lifecycle.forget(self)
        return left == 0

    def close_at_exit(self) -> None:
        if not self._closed and self._consumer.pending():
            self.shutdown(self._config.exit_timeout)

    @guard(Stats())
    def stats(self) -> Stats:
        """Delivery counters: accepted, sent, retried, pending, dropped by reason, requests."""
        return self._consumer.stats()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def _release(consumer: Consumer, stoppables: list[Any]) -> None:
    consumer.release()
    for item in stoppables:
        item.stop()


_MANY_CLIENTS = 20
_warned_many = False


def _warn_if_many_clients() -> None:
    global _warned_many
    live = _lifecycle.live_count()
    if live > _MANY_CLIENTS and not _warned_many:
        _warned_many = True
        logger.warning(
            "posthog_client: %d clients are alive in this process; create one Client per "
            "process and reuse it (each has its own threads and queue)",
            live,
        )


def _seconds(timeout: object) -> float:
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout >= 0:
        return float(timeout)
    if timeout is None:
        return 3600.0
    logger.warning("posthog_client: timeout %r is not a number of seconds; using 10", timeout)
    return 10.0


def _well_formed(event: object) -> bool:
    return (
        isinstance(event, dict)
        and isinstance(event.get("event"), str)
        and isinstance(event.get("distinct_id"), str)
        and isinstance(event.get("uuid"), str)
        and isinstance(event.get("properties", {}), dict)
    )


def _enable_debug_logging() -> None:
    logger.setLevel(logging.DEBUG)
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler())
