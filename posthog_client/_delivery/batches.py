"""Batches and their schedule: events being gathered, batches ready to go, and failed batches
waiting for their retry. Owned by the consumer thread (the consumer guards it with its lock, so
``shutdown`` can take everything at its deadline).

A failed batch keeps its place instead of a sleeping thread, so one failing batch never holds up
the ones behind it; after a retryable failure the host gets a rest (``cool_until``), so an
outage costs retry attempts of the oldest batch only.
"""

from __future__ import annotations

import time
from collections import deque

from .._config import MAX_BATCH_BYTES


class Batch:
    """Encoded events sent together, with their retry state. ``uuids[i]`` is the uuid of
    ``events[i]``. A batch answered 413 is split: it is finished when both halves are."""

    __slots__ = (
        "events",
        "uuids",
        "size",
        "attempts",
        "not_before",
        "done",
        "children",
        "maybe_delivered",
        "request_id",
        "created_at",
        "created",
        "first_failure",
        "row_id",
        "protocol",
    )

    def __init__(self, events: list[bytes], uuids: list[str], size: int) -> None:
        self.events = events
        self.uuids = uuids
        self.size = size
        self.attempts = 0
        self.not_before = 0.0
        self.done = False
        self.children: tuple[Batch, ...] = ()
        # An attempt was sent completely but never answered: PostHog may have these events.
        self.maybe_delivered = False
        self.request_id: str | None = None  # capture v1: the same for every attempt
        self.created_at = ""
        self.created = time.monotonic()
        self.first_failure: float | None = None  # when its retry window started
        self.row_id: int | None = None  # its row in the spool, when it came from there
        self.protocol: str | None = None  # set for spooled rows (the protocol they were encoded in)

    def not_before_wall(self) -> float:
        """``not_before`` on the wall clock (what the spool, shared by processes, keeps)."""
        return time.time() + max(0.0, self.not_before - time.monotonic())

    def keep(self, indexes: list[int]) -> None:
        """Only these events are left to send (the others were settled by a partial answer)."""
        self.events = [self.events[i] for i in indexes]
        self.uuids = [self.uuids[i] for i in indexes]
        self.size = sum(map(len, self.events))

    def finished(self) -> bool:
        return self.done and all(child.finished() for child in self.children)

    def split(self) -> tuple[Batch, Batch]:
        """Halves, for a batch that was too large for the server (413)."""
        half = len(self.events) // 2
        parts = []
        for cut in (slice(None, half), slice(half, None)):
            events = self.events[cut]
            part = Batch(events, self.uuids[cut], sum(map(len, events)))
            part.maybe_delivered = self.maybe_delivered
            part.protocol, part.first_failure = self.protocol, self.first_failure
            parts.append(part)
        self.done = True
        self.children = (parts[0], parts[1])
        return self.children


class Outbox:
    def __init__(self, flush_at: int, flush_interval: float) -> None:
        self._flush_at = flush_at
        self._flush_interval = flush_interval
        self.ready: deque[Batch] = deque()
        self.retrying: list[Batch] = []
        self._building: list[bytes] = []
        self._building_uuids: list[str] = []
        self._building_size = 0
        self._building_since = self.cool_until = 0.0

    def __bool__(self) -> bool:
        return bool(self.ready or self.retrying or self._building)

    @property
    def building(self) -> int:
        return len(self._building)

    def add(self, data: bytes, uuid: str) -> None:
        if self._building and self._building_size + len(data) > MAX_BATCH_BYTES:
            self.seal()
        if not self._building:
            self._building_since = time.monotonic()
        self._building.append(data)
        self._building_uuids.append(uuid)
        self._building_size += len(data)
        if len(self._building) >= self._flush_at:
            self.seal()

    def seal(self) -> None:
        if self._building:
            self.ready.append(Batch(self._building, self._building_uuids, self._building_size))
            self._building, self._building_uuids, self._building_size = [], [], 0

    def held(self) -> list[Batch]:
        """Every batch not yet finished (after sealing what was being gathered)."""
        self.seal()
        return [*self.ready, *self.retrying]

    def take_all(self) -> list[bytes]:
        """Empty the outbox; returns every event it held (shutdown's deadline passed)."""
        batches = self.held()
        for batch in batches:
            batch.done = True
        self.ready.clear()
        self.retrying.clear()
        return [event for batch in batches for event in batch.events]

    def next_batch(self, now: float, flushing: bool) -> Batch | None:
        """The batch to send now, if any: a retry that is due first, then the oldest ready one,
        then what is being gathered once it is old enough (at once when ``flushing``)."""
        if now < self.cool_until:
            return None
        due = [b for b in self.retrying if b.not_before <= now]
        if due:
            batch = min(due, key=lambda b: b.not_before)
            self.retrying.remove(batch)
            return batch
        if self.ready:
            return self.ready.popleft()
        if self._building and (flushing or now - self._building_since >= self._flush_interval):
            self.seal()
            return self.ready.popleft()
        return None

    def wait_time(self, now: float) -> float | None:
        """How long until ``next_batch`` may have something (None: nothing is waiting)."""
        if now < self.cool_until:
            return self.cool_until - now
        times = [b.not_before - now for b in self.retrying]
        if self._building:
            times.append(self._building_since + self._flush_interval - now)
        return max(0.0, min(times)) if times else None

    def retry_later(self, batch: Batch, delay: float) -> None:
        batch.not_before = self.cool_until = time.monotonic() + delay
        self.retrying.append(batch)

    def requeue_first(self, batches: tuple[Batch, ...]) -> None:
        self.ready.extendleft(reversed(batches))
