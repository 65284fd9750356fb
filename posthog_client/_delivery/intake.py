"""The callers' side of the pipeline: give each event its time and uuid, run the ``before_send``
hooks, and admit it to the bounded queue. It runs on the caller's thread, so it does the least it
can: encoding, gzip and I/O happen on the consumer thread.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from .._config import BeforeSend
from .._events import context as _context
from .._events import messages
from .._events.calls import check_geoip
from .._runtime import lifecycle as _lifecycle
from .._runtime import misuse
from .consumer import Consumer
from .encoding import Deferred, FinalEvent, finalize

logger = logging.getLogger("posthog_client")


class Intake:
    def __init__(
        self, consumer: Consumer, static: Mapping[str, Any], hooks: tuple[BeforeSend, ...]
    ) -> None:
        self._consumer = consumer
        self._static = static
        self._hooks = hooks
        self.closed = False

    def emit(
        self,
        event: str,
        distinct_id: str,
        properties: dict[str, Any],
        groups: Mapping[str, str] | None,
        minimal: bool,
    ) -> None:
        """Queue an event the SDK sends by itself (``$feature_flag_called``,
        ``$experiment_exposure``: the flag side's one way to the pipeline), with the context's
        tags and session under its own properties; a minimal event (the server's gate for flag
        events) gets the session only."""
        context = _context.current()
        if minimal:
            extra = {} if context.session_id is None else {"$session_id": context.session_id}
        else:
            extra = _context.context_properties(context)
        props = {**extra, **properties}
        stamp, uid, value = self.stamp(None, None, compact=True)
        self.submit(
            event, uid, lambda: messages.capture(distinct_id, event, props, groups, stamp, value)
        )

    def stamp(
        self, timestamp: Any, uuid: Any, compact: bool = False, method: str = "capture"
    ) -> tuple[Any, str, int | str]:
        """The event's timestamp, and its uuid as text (returned to the caller) and as it is
        queued (an int when generated here). ``compact``: leave the timestamp None when the
        generated uuid carries it (queued events are smaller)."""
        now = time.time()
        stamp: str | float | None = now
        if timestamp is not None:
            text = messages.to_utc_text(timestamp)
            if text is None:
                problem = f"timestamp {timestamp!r:.60} could not be read"
                misuse.warn(method, problem, "the current time is used")
            else:
                stamp = text
        if uuid is not None:
            uid = messages.check_uuid(uuid)
            if uid is not None:
                return stamp, uid, uid
            misuse.warn(method, f"uuid {uuid!r:.60} is not a UUID", "a new one is generated")
        _lifecycle.check_fork()  # before the draw: a child without at-fork hooks reseeds first
        value = messages.uuid7_int(now, random.getrandbits(62))
        if compact and stamp == now:
            stamp = None
        return stamp, messages.uuid_text(value), value

    def submit(
        self,
        method: str,
        uid: str,
        build: Callable[[], dict[str, Any] | messages.Pending],
        enrich: Callable[[], dict[str, Any] | None] | None = None,
        geoip: object = None,
    ) -> str | None:
        """Build the event (``InvalidCall``: the caller's mistake, named by the guard), run the
        ``before_send`` hooks and queue it. ``geoip``: the call's ``disable_geoip`` (passed only
        with events built as dicts: ``capture`` puts it among the properties itself)."""
        if self.closed:
            logger.warning("posthog_client: %s() after shutdown(); the event is not sent", method)
            return None
        message: Any = build()
        if geoip is not None:
            message["properties"]["$geoip_disable"] = check_geoip(geoip)
        if enrich is not None:
            message = self._deferred(message, enrich)
        elif self._hooks:
            message = self._run_hooks(message)
            if message is None:
                self._consumer.ledger.discard("before_send", queued=False)
                return None
        if not self._consumer.put(message):
            return None
        if logger.isEnabledFor(logging.DEBUG):
            name = message[0] if messages.is_pending(message) else method
            logger.debug("posthog_client: queued %r (uuid %s)", name, uid)
        return uid

    def _run_hooks(self, message: Any) -> FinalEvent | None:
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
        return FinalEvent(event)

    def _deferred(
        self, message: dict[str, Any] | messages.Pending, enrich: Callable[[], Any]
    ) -> Deferred:
        """An event whose flag properties are asked on the background thread (at most one
        bounded ``/flags`` call), its ``before_send`` hooks run after that."""

        def complete() -> dict[str, Any] | None:
            event = finalize(message, self._static)
            flags = enrich() or {}
            event["properties"] = {**flags, **event["properties"]}
            return self._run_hooks(event) if self._hooks else event

        return Deferred(complete)


def _well_formed(event: object) -> bool:
    return (
        isinstance(event, dict)
        and isinstance(event.get("event"), str)
        and isinstance(event.get("distinct_id"), str)
        and isinstance(event.get("uuid"), str)
        and isinstance(event.get("properties", {}), dict)
    )
