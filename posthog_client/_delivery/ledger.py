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
        self.spill_room = False  # a spool takes what memory cannot hold
        self._secrets = (config.api_key, config.personal_api_key)
        self.reset()

    def reset(self) -> None:
        """Zero everything (a forked child starts with its own accounting)."""
        self._lock = threading.Lock()
        self._log = RateLimitedLog()
        self._accepted = self._sent = self._retried = self._requests = self._unknown = 0
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self.lost = 0  # dropped after being queued, unknown or spooled: what makes a flush fail
        self._spooled = 0  # handed to the spool (no longer this process's to deliver)
        self._replayed = 0  # sent from the spool (rows this process or another one wrote)
        self._replay_dropped = self._spool_errors = 0
        self.evictable = 0  # events waiting for a retry in memory (the consumer keeps it current)
        self._evict_debt = 0  # events admitted over the bound: as many old ones are to be evicted
        self._done = 0  # sent + dropped: kept as one number for the per-capture bound check
        self.last_error: str | None = None  # the last failure, keys redacted
        # One warning per overflow episode: set at the first queue_full drop, cleared on drain.
        self._overflowing = False
        self._overflow_drops = 0

    # -- callers' threads ----------------------------------------------------------------------

    def admit(self) -> bool:
        """Count an event handed to the pipeline; False (counted as ``queue_full``, warned once
        per episode) when the pipeline already holds ``max_queue_size`` undelivered events."""
        with self._lock:
            self._accepted += 1
            over = self._accepted - self._done - self._config.max_queue_size
            if over <= 0:
                return True
            if self._evict_debt < self.evictable:  # room made by evicting the oldest waiting
                self._evict_debt += 1
                return True
            if self.spill_room and over <= self._config.max_queue_size:  # the spool takes it
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

    # -- the consumer --------------------------------------------------------------------------

    def request(self) -> None:
        self._requests += 1  # only the consumer (or the one inline drain) sends

    def sent(self, count: int) -> None:
        with self._lock:
            self._sent += count
            self._done += count

    def retrying(self, count: int, error: str) -> None:
        self._retried += count
        self.last_error = redact(error, self._secrets)

    def discard(self, reason: str, *, queued: bool = True) -> None:
        """Count an event dropped before it was sent, by choice (``before_send``): a queued one,
        or (``queued=False``) one refused before it entered the pipeline, counted as accepted."""
        with self._lock:
            if not queued:
                self._accepted += 1
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
        uuids: list[str] | None = None,
        request_id: str | None = None,
        attempts: int = 0,
        spooled: bool = False,
    ) -> None:
        """Count ``events`` as dropped for ``reason`` and hand them to ``on_error``. ``spooled``:
        events of the spool, counted apart (they left this process's accounting when spooled)."""
        count = len(events)
        with self._lock:
            if spooled:
                self._replay_dropped += count
            else:
                self._dropped[reason] += count
                self._done += count
                self.lost += count
        detail = redact(detail, self._secrets)
        self.last_error = f"{reason}: {detail}"
        if log:
            hint = DOCTOR_HINT if status in (401, 403) else ""
            self._log.warning(reason, "dropped %d event(s) (%s: %s)%s", count, reason, detail, hint)
        callback = self._on_error()
        if callback is None:
            return
        try:
            decoded = decode_events(events)
            error = APIError(
                status,
                f"{reason}: {detail}",
                reason=reason,
                request_id=request_id,
                attempts=attempts,
                uuids=uuids if uuids is not None else [str(e.get("uuid")) for e in decoded],
            )
            callback(error, decoded)
        except Exception:  # a user callback must never break delivery
            logger.exception("posthog_client: on_error callback raised")

    def take_evict_debt(self) -> int:
        with self._lock:
            debt, self._evict_debt = self._evict_debt, 0
        return debt

    def spooled(self, count: int) -> None:
        """Events written to the spool: they leave this process's memory (and its pending)."""
        with self._lock:
            self._spooled += count
            self._done += count
            self.lost += count

    def replayed(self, count: int) -> None:
        with self._lock:
            self._replayed += count

    def spool_error(self) -> None:
        with self._lock:
            self._spool_errors += 1

    def spool_drop(self, events: list[Any], reason: str) -> None:
        """Spooled events dropped by the spool's bounds or by PostHog."""
        self.drop(events, reason, f"{len(events)} spooled event(s)", spooled=True)

    def unknown(self, count: int, why: str) -> None:
        """Count events sent but never answered: PostHog may have them (their uuids make a
        duplicate harmless), so they are not reported as lost; ``stats().unknown`` tells."""
        with self._lock:
            self._unknown += count
            self._done += count
            self.lost += count
        self.last_error = f"unknown outcome: {why}"
        self._log.warning("unknown", "%d event(s) of unknown outcome (%s)", count, why)

    def confirm(self, count: int) -> None:
        """A late answer said events counted as unknown were delivered after all."""
        with self._lock:
            moved = min(count, self._unknown)
            self._unknown -= moved
            self._sent += moved

    # -- anyone ----------------------------------------------------------------------------------

    def pending(self) -> int:
        with self._lock:
            return max(self._accepted - self._done, 0)

    def stats(self) -> Stats:
        with self._lock:
            accepted, sent, dropped = self._accepted, self._sent, dict(self._dropped)
            unknown, spooled = self._unknown, self._spooled
        return Stats(
            accepted=accepted,
            sent=sent,
            retried=self._retried,
            pending=max(accepted - sent - sum(dropped.values()) - unknown - spooled, 0),
            unknown=unknown,
            spooled=spooled,
            replayed=self._replayed,
            replay_dropped=self._replay_dropped,
            spool_errors=self._spool_errors,
            requests=self._requests,
            dropped=dropped,
            last_error=self.last_error,
        )
