"""The delivery pipeline: a bounded queue, one consumer thread that owns all batch state, and the
accounting that makes every lost event visible.

Callers only ever append to the queue (never blocking: a full queue drops and counts). The
consumer thread encodes events, groups them into batches, sends them, and keeps failed batches
for a later attempt instead of sleeping, so one failing batch never holds up the ones behind it.
``flush`` puts a marker in the queue and waits, with a deadline, for every batch that was
outstanding when the consumer reached the marker.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from .._config import MAX_BATCH_BYTES, MAX_EVENT_BYTES, Config
from .._events.messages import Pending
from .._runtime import internal as _internal
from .._runtime import lifecycle as _lifecycle
from .._runtime.logs import RateLimitedLog
from .._types import Stats
from .encoding import Deferred, batch_body, encode_within, finalize
from .ledger import Ledger
from .retry import is_retryable, parse_retry_after, retry_delay
from .transport import BATCH_PATH, Transport

logger = logging.getLogger("posthog_client")


class Batch:
    """Encoded events sent together, with their retry state. A batch answered 413 is split:
    it is finished when both halves are."""

    __slots__ = ("events", "size", "attempts", "not_before", "done", "children")

    def __init__(self, events: list[bytes], size: int) -> None:
        self.events = events
        self.size = size
        self.attempts = 0
        self.not_before = 0.0
        self.done = False
        self.children: tuple[Batch, ...] = ()

    def finished(self) -> bool:
        return self.done and all(child.finished() for child in self.children)


class _Flush:
    __slots__ = ("event", "waiting")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.waiting: list[Batch] = []


class _Stop:
    pass


class Consumer:
    """Owns the queue, the consumer thread and the delivery counters of one client."""

    def __init__(self, config: Config, transport: Transport, static: Mapping[str, Any]) -> None:
        self._config = config
        self._transport = transport
        self._static = dict(static)
        self._rng = random.Random()
        self.ledger = Ledger(config)
        self._init_state()
        _lifecycle.on_fork(self)

    def _init_state(self) -> None:
        self._lock = threading.Lock()  # guards starting the thread
        self._sync_lock = threading.RLock()  # one inline drain at a time (sync mode, fallback)
        self._queue: deque[Any] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._inline = self._config.sync_mode
        self._log = RateLimitedLog()
        self.ledger.reset()
        # Batch state, owned by the consumer.
        self._ready: deque[Batch] = deque()
        self._retrying: list[Batch] = []
        self._building: list[bytes] = []
        self._building_size = 0
        self._building_since = 0.0
        self._flushes: list[_Flush] = []
        # After a retryable failure the host gets a rest: no batch goes out before this time, so
        # an outage costs retry attempts of the oldest batch only, not of every batch.
        self._cool_until = 0.0
        self._stopping = False
        self._abandon = False

    def reset_after_fork(self) -> None:
        """In a forked child: the parent delivers what it queued; the child starts empty."""
        self._init_state()
        self._transport.reset_after_fork()

    # -- caller side -------------------------------------------------------------------------

    def put(self, message: dict[str, Any] | Pending | Deferred) -> bool:
        """Queue one event; False (counted, warned once per overflow episode) when full."""
        if not self.ledger.admit():
            return False
        self._queue.append(message)
        if self._inline:
            self._drain_inline(self._config.timeout * (self._config.max_retries + 1) + 60)
        elif self._thread is None:
            self._start()
        elif not self._wake.is_set():
            # Wake the consumer for the first event after a quiet spell (it may be waiting with
            # no deadline) and for a full batch; in between it is busy and pulls on its own.
            queued = len(self._queue)
            if queued == 1 or queued + len(self._building) >= self._config.flush_at:
                self._wake.set()
        return True

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
        return self.ledger.stats()

    def pending(self) -> int:
        return self.ledger.pending()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before this call was delivered or given up on."""
        if self.pending() == 0:
            return True
        if self._inline or self._thread is None or not self._thread.is_alive():
            if not self._inline and self._thread is not None:
                logger.error("posthog_client: consumer thread died; delivering on this thread")
                self._inline = True
            return self._drain_inline(timeout)
        marker = _Flush()
        self._queue.append(marker)  # markers bypass the bound: a flush must never be refused
        self._wake.set()
        return marker.event.wait(timeout)

    def release(self) -> None:
        """The client was dropped without ``shutdown()``: deliver what is queued, then let the
        thread end (never waits)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.append(_Stop())
            self._wake.set()
        _lifecycle.forget(self)

    def shutdown(self, timeout: float) -> int:
        """Flush, stop the thread; returns how many events are still undelivered."""
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.append(_Stop())
            self._wake.set()
            thread.join(max(0.0, deadline - time.monotonic()))
        left = self.pending()
        if left:
            self._abandon = True  # the consumer counts them as shutdown_deadline drops
            self._wake.set()
            logger.warning(
                "posthog_client: %d event(s) could not be delivered before the shutdown deadline",
                left,
            )
        _lifecycle.forget(self)
        return left

    # -- consumer side -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                self._wake.clear()
                if self._abandon:
                    self._give_up_everything()
                    return
                self._step_or_wait(block=True)
                if self._stopped():
                    return
        except Exception as exc:  # never expected: reported, and the callers take over delivery
            _internal.report(exc)
            self._inline = True

    def _stopped(self) -> bool:
        return self._stopping and not self._outstanding() and not self._queue

    def _drain_inline(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._sync_lock:
            while self._queue or self._outstanding():
                if not self._step_or_wait(block=False, deadline=deadline):
                    break
        return self.pending() == 0

    def _outstanding(self) -> bool:
        return bool(self._ready or self._retrying or self._building)

    def _step_or_wait(self, *, block: bool, deadline: float | None = None) -> bool:
        """Do one unit of work, or wait for the next one. False when ``deadline`` passed."""
        self._pull()
        now = time.monotonic()
        batch = self._next_batch(now, flushing=not block or bool(self._flushes))
        if batch is not None:
            self._send(batch)
            self._settle_flushes()
            return True
        self._settle_flushes()
        wait = self._wait_time(now)
        if block:
            if not self._queue and not self._abandon and not self._stopped():
                self._wake.wait(wait)
            return True
        if deadline is None or wait is None or now + wait > deadline:
            return False
        time.sleep(wait)
        return True

    def _pull(self) -> None:
        """Move queued events into batches (encoding them here, off the callers' threads)."""
        config = self._config
        pulled = 0
        while self._queue and pulled < config.flush_at:
            item = self._queue.popleft()
            if isinstance(item, _Flush):
                self._seal()
                item.waiting = [*self._ready, *self._retrying]
                self._flushes.append(item)
                continue
            if isinstance(item, _Stop):
                self._seal()
                self._stopping = True
                continue
            pulled += 1
            self._add(item)
            if not pulled % 16:
                time.sleep(0)  # let callers' threads have the GIL: capture() must not wait on us
        self.ledger.drained()

    def _add(self, item: dict[str, Any] | Pending | Deferred) -> None:
        if isinstance(item, Deferred):
            completed = item.complete()
            if completed is None:
                self.ledger.discard("before_send")
                return
            message = finalize(completed, self._static)
        else:
            message = finalize(item, self._static)
        data, trimmed = encode_within(message, MAX_EVENT_BYTES)
        if data is None:
            self.ledger.drop([message], "oversize", "encoded size over 900 KiB")
            return
        if trimmed:
            self._log.warning(
                "trimmed",
                "event %r was over 900 KiB; long strings were shortened",
                message["event"],
            )
        if self._building and self._building_size + len(data) > MAX_BATCH_BYTES:
            self._seal()
        if not self._building:
            self._building_since = time.monotonic()
        self._building.append(data)
        self._building_size += len(data)
        if len(self._building) >= self._config.flush_at:
            self._seal()

    def _seal(self) -> None:
        if self._building:
            self._ready.append(Batch(self._building, self._building_size))
            self._building, self._building_size = [], 0

    def _next_batch(self, now: float, flushing: bool) -> Batch | None:
        if now < self._cool_until:
            return None
        due = [b for b in self._retrying if b.not_before <= now]
        if due:
            batch = min(due, key=lambda b: b.not_before)
            self._retrying.remove(batch)
            return batch
        if self._ready:
            return self._ready.popleft()
        if self._building and (
            flushing or self._stopping or now - self._building_since >= self._config.flush_interval
        ):
            self._seal()
            return self._ready.popleft()
        return None

    def _wait_time(self, now: float) -> float | None:
        if now < self._cool_until:
            return self._cool_until - now
        times = [b.not_before - now for b in self._retrying]
        if self._building:
            times.append(self._building_since + self._config.flush_interval - now)
        return max(0.0, min(times)) if times else None

    def _send(self, batch: Batch) -> None:
        config = self._config
        batch.attempts += 1
        body = batch_body(config.api_key, batch.events, time.time(), config.historical_migration)
        result = self._transport.post(
            BATCH_PATH, body, deadline=config.timeout, compress=config.gzip
        )
        self.ledger.request()
        count = len(batch.events)
        if result.ok:
            self._cool_until = 0.0
            self.ledger.sent(count)
            batch.done = True
            return
        if result.status == 413:
            batch.done = True
            if count == 1:
                self.ledger.drop(batch.events, "oversize", result.describe(), 413)
                return
            half = count // 2
            parts = (batch.events[:half], batch.events[half:])
            batch.children = tuple(Batch(p, sum(map(len, p))) for p in parts)
            self._ready.extendleft(reversed(batch.children))
            return
        if is_retryable(result.status) and batch.attempts <= config.max_retries:
            retry_after = result.headers.get("Retry-After") if result.status is not None else None
            delay = retry_delay(
                batch.attempts,
                config.retry_base_delay,
                config.retry_max_delay,
                parse_retry_after(retry_after, dt.datetime.now(dt.timezone.utc)),
                self._rng.random(),
            )
            batch.not_before = self._cool_until = time.monotonic() + delay
            self.ledger.retrying(count, result.describe())
            self._retrying.append(batch)
            logger.debug(
                "posthog_client: batch failed (%s); retry in %.2f s", self.ledger.last_error, delay
            )
            return
        batch.done = True
        reason = "retries_exhausted" if is_retryable(result.status) else "rejected_4xx"
        self.ledger.drop(batch.events, reason, result.describe(), result.status)

    def _settle_flushes(self) -> None:
        if not self._flushes:
            return
        still = []
        for marker in self._flushes:
            if all(b.finished() for b in marker.waiting):
                marker.event.set()
            else:
                still.append(marker)
        self._flushes = still

    def _give_up_everything(self) -> None:
        batches = [*self._ready, *self._retrying]
        events = [e for b in batches for e in b.events] + self._building
        queued = [m for m in self._queue if not isinstance(m, (_Flush, _Stop))]
        self._ready.clear()
        self._retrying.clear()
        self._building = []
        self._queue.clear()
        if events or queued:
            for batch in batches:
                batch.done = True
            detail = "not delivered before the shutdown deadline"
            # shutdown() already logged how many were left: no second line here.
            self.ledger.drop(events + queued, "shutdown_deadline", detail, log=False)
        for marker in self._flushes:
            marker.event.set()
        self._flushes = []
