"""Delivery accounting: every accepted event ends up sent, dropped for a counted reason, or of
unknown outcome (sent but never answered: PostHog may have it), and whoever gives events up
reports them here, once (counted, logged without flooding, ``on_error`` for drops).

At any quiet point ``accepted == sent + dropped + unknown + pending``; ``pending`` is also what the
queue bound applies to (events accepted and not yet finished, wherever they wait).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .._config import Config, OnError
from .._errors import APIError, redact
from .._runtime.logs import DOCTOR_HINT, RateLimitedLog
from .._types import DROP_REASONS, Stats
from .encoding import decode_events

logger = logging.getLogger("posthog_client")

# Where the ledger finds ``on_error`` when it needs it: through the client, held weakly, so a
# callback that refers to its client cannot keep a dropped client (and its threads) alive.
OnErrorSource = Callable[[], OnError | None]


class Ledger:
    def __init__(self, config: Config, on_error: OnErrorSource) -> None:
        self._config = config
        self._on_error = on_error
        self._secrets = (config.api_key, config.personal_api_key)
        self.reset()

    def reset(self) -> None:
        """Zero everything (a forked child starts with its own accounting)."""
        self._lock = threading.Lock()
        self._log = RateLimitedLog()
        self._accepted = 0
        self._sent = 0
        self._retried = 0
        self._requests = 0
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self._unknown = 0
        self.lost = 0  # dropped after being queued, or unknown: what makes a flush fail
        self._done = 0  # sent + dropped: kept as one number for the per-capture bound check
        self._last_error: str | None = None
        # One warning per overflow episode: set at the first queue_full drop, cleared on drain.
        self._overflowing = False
        self._overflow_drops = 0

    # -- callers' threads ----------------------------------------------------------------------

    def admit(self) -> bool:
        """Count an event handed to the pipeline; False (counted as ``queue_full``, warned once
        per episode) when the pipeline already holds ``max_queue_size`` undelivered events."""
        with self._lock:
            self._accepted += 1
            if self._accepted - self._done <= self._config.max_queue_size:
                return True
            self._dropped["queue_full"] += 1
            self._done += 1
            self._overflow_drops += 1
            first, self._overflowing = not self._overflowing, True
        if first:
            logger.warning(
                "posthog_client: event queue is full (%d events); dropping new events and "
                "counting them in stats() until it drains",
                self._config.max_queue_size,
            )
        return False

    def refuse(self, reason: str) -> None:
        """Count an event dropped before it entered the pipeline (``before_send``)."""
        with self._lock:
            self._accepted += 1
            self._dropped[reason] += 1
            self._done += 1

    # -- the consumer --------------------------------------------------------------------------

    def request(self) -> None:
        self._requests += 1  # only the consumer (or the one inline drain) sends

    def sent(self, count: int) -> None:
        with self._lock:
            self._sent += count
            self._done += count

    def retrying(self, count: int, error: str) -> None:
        self._retried += count
        self._last_error = redact(error, self._secrets)

    def discard(self, reason: str) -> None:
        """Count a queued event dropped before it was sent, by choice (``before_send``)."""
        with self._lock:
            self._dropped[reason] += 1
            self._done += 1

    def drained(self) -> None:
        """Called as the queue empties: ends an overflow episode with one summary line."""
        if not self._overflowing or self.pending() >= self._config.max_queue_size // 2:
            return
        with self._lock:
            self._overflowing, dropped, self._overflow_drops = False, self._overflow_drops, 0
        logger.warning("posthog_client: event queue drained; %d event(s) were dropped", dropped)

    def drop(
        self,
        events: list[Any],
        reason: str,
        detail: str,
        status: int | None = None,
        *,
        log: bool = True,
    ) -> None:
        """Count ``events`` as dropped for ``reason`` and hand them to ``on_error``."""
        count = len(events)
        with self._lock:
            self._dropped[reason] += count
            self._done += count
            self.lost += count
        detail = redact(detail, self._secrets)
        self._last_error = f"{reason}: {detail}"
        if log:
            hint = DOCTOR_HINT if status in (401, 403) else ""
            self._log.warning(reason, "dropped %d event(s) (%s: %s)%s", count, reason, detail, hint)
        callback = self._on_error()
        if callback is None:
            return
        try:
            callback(APIError(status, f"{reason}: {detail}"), decode_events(events))
        except Exception:  # a user callback must never break delivery
            logger.exception("posthog_client: on_error callback raised")

    def unknown(self, count: int, why: str) -> None:
        """Count events sent but never answered: PostHog may have them (their uuids make a
        duplicate harmless), so they are not reported as lost; ``stats().unknown`` tells."""
        with self._lock:
            self._unknown += count
            self._done += count
            self.lost += count
        self._last_error = f"unknown outcome: {why}"
        self._log.warning("unknown", "%d event(s) of unknown outcome (%s)", count, why)

    def confirm(self, count: int) -> None:
        """A late answer said events counted as unknown were delivered after all."""
        with self._lock:
            moved = min(count, self._unknown)
            self._unknown -= moved
            self._sent += moved

    # -- anyone ----------------------------------------------------------------------------------

    @property
    def last_error(self) -> str | None:
        """The last failure, keys redacted."""
        return self._last_error

    def pending(self) -> int:
        with self._lock:
            return max(self._accepted - self._done, 0)

    def stats(self) -> Stats:
        with self._lock:
            accepted, sent, dropped = self._accepted, self._sent, dict(self._dropped)
            unknown = self._unknown
        return Stats(
            accepted=accepted,
            sent=sent,
            retried=self._retried,
            pending=max(accepted - sent - sum(dropped.values()) - unknown, 0),
            unknown=unknown,
            requests=self._requests,
            dropped=dropped,
            last_error=self._last_error,
        )
