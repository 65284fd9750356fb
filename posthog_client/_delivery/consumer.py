"""The consumer: one thread per client that turns queued events into batches and sends them.

Callers only ever append to the queue (never blocking: a full queue drops and counts). The
consumer thread encodes events, groups them into batches (``batches.Outbox``), sends them, and
settles each answer in the ledger. ``flush`` puts a marker in the queue and waits, with a
deadline, for every batch that was outstanding when the consumer reached the marker.

Everything the consumer holds is guarded by one lock that is never held across a request, so at
``shutdown``'s deadline the caller's thread can take it all and count it at once: every event
is then delivered, dropped (``shutdown_deadline``, given to ``on_error``) or ``unknown`` (in a
request that had not been answered), before ``shutdown`` returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._config import Config
from .._events.messages import Pending, is_pending
from .._runtime import internal as _internal
from .._runtime import lifecycle as _lifecycle
from .._types import Stats
from .backlog import Backlog
from .batches import Batch
from .compose import Writer
from .encoding import Deferred
from .ledger import Ledger, OnErrorSource
from .sender import Sender
from .spool import Spool, fingerprint
from .transport import Transport

logger = logging.getLogger("posthog_client")


class _Flush:
    __slots__ = ("event", "waiting")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.waiting: list[Batch] = []


class _Stop:
    pass


class Consumer:
    """Owns the queue, the consumer thread and the delivery ledger of one client."""

    def __init__(
        self,
        config: Config,
        transport: Transport,
        static: Mapping[str, Any],
        on_error: OnErrorSource = lambda: None,
    ) -> None:
        self._config = config
        self._transport = transport
        self._static = dict(static)
        self.ledger = Ledger(config, on_error)
        self.exit_timeout = config.exit_timeout
        self.spool: Spool | None = None
        if config.spool_path is not None:
            owner = fingerprint(config.host, config.api_key)
            self.spool = Spool(Path(config.spool_path), owner, config.timeout + 10.0)
            self.ledger.spill_room = True
        self._init_state()
        _lifecycle.on_fork(self)
        _lifecycle.on_exit(self)

    def _init_state(self) -> None:
        self._lock = threading.Lock()  # guards the state below; never held during a request
        self._sync_lock = threading.RLock()  # one inline drain at a time (sync mode, fallback)
        self._queue: deque[Any] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._inline = self._config.sync_mode
        self._encode = Writer(self._static, self._config, self.ledger).write
        self.ledger.reset()
        self._backlog = Backlog(self._config, self.ledger, self.spool)
        self._outbox = self._backlog.outbox
        self._sender = Sender(self._config, self._transport, self.ledger)
        self._holding: list[Any] = []  # taken from the queue, being encoded
        self._inflight: Batch | None = None  # being sent
        self._flushes: list[_Flush] = []
        self._stopping = self._abandoned = False

    def reset_after_fork(self) -> None:
        """In a forked child: the parent delivers what it queued; the child starts empty."""
        self._init_state()
        self._transport.reset_after_fork()

    # -- callers' side -------------------------------------------------------------------------

    def put(self, message: dict[str, Any] | Pending | Deferred) -> bool:
        """Queue one event; False (counted, warned once per overflow episode) when full."""
        _lifecycle.check_fork()  # a fork the at-fork hooks missed (uWSGI forks at C level)
        if not self.ledger.admit():
            return False
        self._queue.append(message)
        if self._inline:
            # Sending on the caller's thread: at most four attempts' worth of waiting per call;
            # what is left waits for the next call (or the exit hook), it is not dropped.
            self._drain_inline(self._config.timeout * 4 + 10)
        elif self._thread is None:
            self._start()
        elif not self._wake.is_set():
            # Wake the consumer for the first event after a quiet spell (it may be waiting with
            # no deadline) and for a full batch; in between it is busy and pulls on its own.
            queued = len(self._queue)
            if queued == 1 or queued + self._outbox.building >= self._config.flush_at:
                self._wake.set()
        return True

    def start_replay(self) -> None:
        """With a spool, start the thread at once: rows left by an earlier run (or another
        process) are sent as soon as PostHog takes them, whether or not anything is captured."""
        if self.spool is not None and not self._inline:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._run, name="posthog_client-consumer", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # interpreter shutting down: deliver on callers' threads
                self._inline = True
                return
            self._thread = thread

    def stats(self) -> Stats:
        stats = self.ledger.stats()
        if self.spool is not None:
            with contextlib.suppress(sqlite3.Error, OSError):  # the counts without the spool's
                events, size = self.spool.size()
                return dataclasses.replace(stats, spool_events=events, spool_bytes=size)
        return stats

    def pending(self) -> int:
        return self.ledger.pending()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before this call was delivered or given up on; True
        when it was all delivered (not dropped, not of unknown outcome) within ``timeout``."""
        if self.pending() == 0:
            return True
        lost = self.ledger.lost
        return self.begin_flush()(timeout) and self.ledger.lost == lost

    def begin_flush(self) -> Callable[[float], bool]:
        """Start a flush without waiting; returns ``wait(timeout) -> reached``."""
        _lifecycle.check_fork()
        if self._inline or self._thread is None or not self._thread.is_alive():
            if not self._inline and self._thread is not None:
                logger.error("posthog_client: consumer thread died; delivering on this thread")
                self._inline = True
            return self._drain_inline
        marker = _Flush()
        self._queue.append(marker)  # markers bypass the bound: a flush must never be refused
        self._wake.set()
        return marker.event.wait

    def release(self) -> None:
        """The client was dropped without ``shutdown()``: deliver what is queued, then let the
        thread end (never waits). Events still pending at exit are flushed by the exit hook."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.append(_Stop())
            self._wake.set()

    def shutdown(self, timeout: float, *, log: bool = True) -> int:
        """Flush within ``timeout``, stop the thread, and count whatever is left (dropped, or
        unknown if it was being sent). Returns how many events were left undelivered."""
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        return self.stop(deadline, log=log)

    def stop(self, deadline: float, *, log: bool = True) -> int:
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.append(_Stop())
            self._wake.set()
            thread.join(max(0.0, deadline - time.monotonic()))
        left = self._abandon()
        if left and log:
            logger.warning(
                "posthog_client: %d event(s) could not be delivered before the shutdown deadline",
                left,
            )
        _lifecycle.forget(self)
        return left

    def _abandon(self) -> int:
        """The deadline passed: count everything still held, on the caller's thread, now."""
        with self._lock:
            if self._abandoned:
                return 0
            self._abandoned = True
            items = list(self._queue) + self._holding
            self._queue.clear()
            self._holding = []
            events: list[Any] = [i for i in items if not isinstance(i, (_Flush, _Stop))]
            inflight, self._inflight = self._inflight, None
            if self.spool is not None:  # everything goes to disk: nothing is lost at exit
                self._spill_at_deadline(events, inflight)
                events, inflight = [], None
            events += self._outbox.take_all()
            flushes, self._flushes = self._flushes, []
        markers = flushes + [i for i in items if isinstance(i, _Flush)]
        if events:
            detail = "not delivered before the shutdown deadline"
            self.ledger.drop(events, "shutdown_deadline", detail, log=False)
        if inflight is not None:
            inflight.done = True
            self.ledger.unknown(len(inflight.events), "in a request not answered by the deadline")
        for marker in markers:
            marker.event.set()
        left = len(events) + (len(inflight.events) if inflight is not None else 0)
        self._wake.set()  # a waiting consumer thread sees it and ends
        return left

    def _spill_at_deadline(self, queued: list[Any], inflight: Batch | None) -> None:
        """Write what shutdown could not send to the spool (the one in flight too: a replay of
        what PostHog may have is deduplicated by uuid); what could not be written stays in the
        outbox."""
        encoded = [entry for entry in (self._encode(item) for item in queued) if entry is not None]
        for data, uid in encoded:
            self._outbox.add(data, uid)
        if inflight is not None and inflight.row_id is None:  # (a row stays on disk: its lease
            self._outbox.ready.append(inflight)  # runs out and it is sent again)
        self._backlog.failing = True
        try:
            self._backlog.spill()
        finally:
            self._backlog.failing = False

    # -- the consumer thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._abandoned:
                self._wake.clear()
                self._step(block=True)
                if self._stopped():
                    return
        except Exception as exc:  # never expected: reported, and the callers take over delivery
            _internal.report(exc)
            self._inline = True

    def _stopped(self) -> bool:
        return self._abandoned or (self._stopping and not self._outbox and not self._queue)

    def _drain_inline(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._sync_lock:
            while (self._queue or self._outbox) and not self._abandoned:
                if not self._step(block=False, deadline=deadline):
                    break
        return self.pending() == 0

    def _step(self, *, block: bool, deadline: float | None = None) -> bool:
        """Do one unit of work, or wait for the next one. False when ``deadline`` passed."""
        self._pull()
        now = time.monotonic()
        evicted: list[bytes] = []
        with self._lock:
            if self._abandoned:
                return False
            debt = self.ledger.take_evict_debt()
            if debt:  # new events took the room of the oldest waiting ones
                evicted = self._backlog.evict(debt)
            self._backlog.spill()
            reports = self._backlog.prune()
            batch = self._backlog.next_batch(now, flushing=not block or bool(self._flushes))
            self._inflight = batch
            self.ledger.evictable = self._backlog.evictable()
            wait = None if batch is not None else self._backlog.wait_time(now)
        if evicted:
            detail = "the oldest events waiting for a retry made room for new ones"
            self.ledger.drop(evicted, "evicted", detail)
        for report in reports:
            report()
        if batch is not None:
            self._send(batch)
            self._settle_flushes()
            return True
        self._settle_flushes()
        if block:
            if not self._queue and not self._stopped():
                self._wake.wait(wait)
            return True
        if deadline is None or wait is None or now + wait > deadline:
            return False
        time.sleep(wait)
        return True

    def _pull_events(self) -> None:
        try:
            self._pull(waiting=True)
        except Exception as exc:  # never expected: reported, and the request goes on
            _internal.report(exc)

    def _pull(self, waiting: bool = False) -> None:
        """Move queued events into batches, encoding them here, off the callers' threads, in
        chunks (the lock is not held while encoding). ``waiting``: a batch is in flight, so
        stop at anything but a captured event: a flush or stop marker (a flush waits for the
        batch in flight too), or an event whose completion may wait (``Deferred``)."""
        pulled = 0
        while self._queue and pulled < self._config.flush_at:
            with self._lock:
                if self._abandoned:
                    return
                chunk: list[Any] = []
                while self._queue and len(chunk) < 16:
                    item = self._queue.popleft()
                    if (waiting and not is_pending(item)) or (
                        chunk and isinstance(item, (_Flush, _Stop))
                    ):
                        self._queue.appendleft(item)  # after the events before it are batched
                        break
                    if isinstance(item, _Flush):
                        item.waiting = self._outbox.held()  # (sealed what was being gathered)
                        self._flushes.append(item)
                    elif isinstance(item, _Stop):
                        self._outbox.seal()
                        self._stopping = True
                    else:
                        chunk.append(item)
                self._holding = chunk
            encoded = [self._encode(item) for item in chunk]
            with self._lock:
                if self._abandoned:
                    return  # _abandon counted the chunk
                for entry in encoded:
                    if entry is not None:
                        self._outbox.add(*entry)
                self._holding = []
            if not chunk:  # the queue was empty, or begins with a marker left for later
                break
            pulled += len(chunk)
            time.sleep(0)  # let callers' threads have the GIL: capture() must not wait on us
        self.ledger.drained()

    def _send(self, batch: Batch) -> None:
        # While PostHog reads the batch, encode the next events (benchmarks: end-to-end events/s).
        result = self._sender.post(batch, while_waiting=self._pull_events)
        self.ledger.request()
        with self._lock:
            if self._abandoned:  # shutdown counted this batch as unknown; the answer says more
                if result.ok:
                    self.ledger.confirm(len(batch.events))
                return
            self._inflight = None
            settled = self._sender.settle(batch, result, self._outbox, self.spool is not None)
            if settled.retry_delay is not None:
                self._backlog.retry(batch, settled.retry_delay, settled.failing)
            else:
                self._backlog.settled(batch, result.ok)
        for report in settled.reports:  # outside the lock: they call on_error
            report()

    def _settle_flushes(self) -> None:
        with self._lock:
            if not self._flushes:
                return
            done = [m for m in self._flushes if all(b.finished() for b in m.waiting)]
            self._flushes = [m for m in self._flushes if m not in done]
        for marker in done:
            marker.event.set()
