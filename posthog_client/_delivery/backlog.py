"""Where batches wait to be sent: in memory (``batches.Outbox``) and, with a spool, on disk.

Without a spool, a batch that fails keeps its place in memory until its retry window passes,
and when new events need room during a long outage the oldest waiting events make way for them
(counted as ``evicted``). With a spool, a batch that fails is written to disk instead of waiting
in memory, every batch goes straight to disk while PostHog is failing, memory spills to disk at
its high-water mark, and due rows (this process's or another's) are sent when PostHog is back.
Owned by the consumer thread, under its lock.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Callable

from .._config import Config
from .._runtime.logs import RateLimitedLog
from .batches import Batch, Outbox
from .ledger import Ledger
from .spool import Spool

logger = logging.getLogger("posthog_client")

Report = Callable[[], None]


class Backlog:
    def __init__(self, config: Config, ledger: Ledger, spool: Spool | None) -> None:
        self._config = config
        self.ledger = ledger
        self.outbox = Outbox(config.flush_at, config.flush_interval)
        self.spool = spool
        self.failing = False  # PostHog failed the last attempt: new batches go to the spool
        self._spool_due: float | None = 0.0 if spool is not None else None  # 0: look at start
        self._log = RateLimitedLog(60.0)
        self._written = False  # since the last prune

    # -- what to send next ---------------------------------------------------------------------

    def next_batch(self, now: float, flushing: bool) -> Batch | None:
        outbox = self.outbox
        if now < outbox.cool_until:
            return None
        batch = outbox.next_batch(now, flushing)
        if batch is not None or self.spool is None:
            return batch
        due = self._spool_due
        wall = time.time()
        if due is None or due > wall:
            return None
        try:
            row = self.spool.lease(wall)
        except (sqlite3.Error, OSError) as exc:
            self._spool_failed(exc)
            return None
        self._refresh_due()
        if row is None:
            return None
        self._written = True  # prune on the next step: old rows expire while they are replayed
        batch = Batch(row.events, row.uuids, sum(map(len, row.events)))
        batch.attempts, batch.row_id, batch.protocol = row.attempts, row.id, row.protocol
        batch.request_id, batch.created_at = row.request_id, row.created_at
        return batch

    def wait_time(self, now: float) -> float | None:
        wait = self.outbox.wait_time(now)
        due = self._spool_due
        if due is not None and now >= self.outbox.cool_until:
            until = max(0.0, due - time.time())
            wait = until if wait is None else min(wait, until)
        return wait

    # -- what an answer leads to ---------------------------------------------------------------

    def settled(self, batch: Batch, ok: bool) -> None:
        """An answer settled the batch (fully, or split it): a spooled row is deleted."""
        if ok:
            self.failing = False
        if batch.row_id is not None and self.spool is not None:
            try:
                self.spool.done(batch.row_id)
            except (sqlite3.Error, OSError) as exc:
                self._spool_failed(exc)
            if self._spool_due is None:
                self._spool_due = 0.0  # after a success: look for more due rows

    def retry(self, batch: Batch, delay: float, failing: bool) -> None:
        """The batch (what is left of it) waits ``delay`` for its next attempt: on disk when
        there is a spool (memory forgets it), else in memory."""
        self.failing = failing  # a 2xx asking to retry some events: PostHog is up
        spool = self.spool
        if spool is not None:
            not_before = time.time() + delay
            try:
                if batch.row_id is not None:
                    spool.retry_later(
                        batch.row_id, batch.events, batch.uuids, batch.attempts, not_before
                    )
                else:
                    self._write(batch, not_before)
                self.outbox.cool_until = time.monotonic() + delay
                batch.done = True
                self._refresh_due()
                return
            except (sqlite3.Error, OSError) as exc:
                self._spool_failed(exc)  # keep it in memory instead
        self.outbox.retry_later(batch, delay)

    def spill(self) -> None:
        """Write waiting batches to the spool: all sealed ones while PostHog is failing or past
        memory's high-water mark (so a kill loses at most what was not batched yet)."""
        if self.spool is None or (
            not self.failing and self.ledger.pending() <= self._config.max_queue_size
        ):
            return
        outbox = self.outbox
        if self.failing:
            outbox.seal()
        for batch in [*outbox.ready, *outbox.retrying]:
            try:
                self._write(batch, max(time.time(), batch.not_before_wall()))
            except (sqlite3.Error, OSError) as exc:
                self._spool_failed(exc)
                return
            batch.done = True
            (outbox.ready if batch in outbox.ready else outbox.retrying).remove(batch)
        self._refresh_due()

    def _write(self, batch: Batch, not_before: float) -> None:
        assert self.spool is not None
        self.spool.write(
            batch.protocol or self._config.capture_mode,
            batch.request_id,
            batch.created_at,
            batch.attempts,
            batch.events,
            batch.uuids,
            not_before,
        )
        self._written = True
        self.ledger.spooled(len(batch.events))

    def prune(self) -> list[Report]:
        """Drop what the spool's bounds force out (oldest first), counted and reported; looked
        at after writes only (a query per step would cost every send)."""
        spool = self.spool
        if spool is None or not self._written:
            return []
        self._written = False
        config = self._config
        try:
            removed = spool.prune(config.spool_max_bytes, config.spool_max_age, time.time())
        except (sqlite3.Error, OSError) as exc:
            self._spool_failed(exc)
            return []
        reports: list[Report] = []
        for reason, events in removed:
            self._log.warning(
                reason, "the spool is past its %s bound; oldest events dropped", reason
            )
            reports.append(functools.partial(self.ledger.spool_drop, events, reason))
        return reports

    def evict(self, count: int) -> list[bytes]:
        """Take ``count`` of the oldest waiting events (memory only), to make room for new ones
        while PostHog is failing."""
        taken: list[bytes] = []
        outbox = self.outbox
        for batch in sorted([*outbox.ready, *outbox.retrying], key=lambda b: b.created):
            if len(taken) >= count:
                break
            need = count - len(taken)
            taken += batch.events[:need]
            if need >= len(batch.events):
                batch.done = True
                (outbox.ready if batch in outbox.ready else outbox.retrying).remove(batch)
            else:
                batch.keep(list(range(need, len(batch.events))))
        return taken

    def evictable(self) -> int:
        """How many waiting events may make room for new ones: only while PostHog is failing
        (a full queue with PostHog answering means a burst: the new events are refused)."""
        if not self.failing or self.spool is not None:
            return 0
        return sum(len(b.events) for b in (*self.outbox.ready, *self.outbox.retrying))

    def _refresh_due(self) -> None:
        assert self.spool is not None
        try:
            self._spool_due = self.spool.next_due()
        except (sqlite3.Error, OSError) as exc:
            self._spool_failed(exc)
            self._spool_due = None

    def _spool_failed(self, exc: BaseException) -> None:
        self.ledger.spool_error()
        self._log.warning(
            "spool", "the spool failed (%s); events wait in memory meanwhile", type(exc).__name__
        )
