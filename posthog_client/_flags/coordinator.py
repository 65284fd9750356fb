"""One definitions poll per fleet: the store-backed poller (``Client(definitions_store=...)``).

Every process keeps an immutable in-process snapshot, exactly as the plain poller does; flag
checks read it and never touch the store. Around it, one background thread per process:

- **Follower** (every process without the lease): each interval, one round trip to the store
  reads the tiny version string and, for a process with a personal key, tries to take the lease
  (``poll``). The snapshot is downloaded and parsed only when the version's content id
  changed. A follower needs no personal key.
- **Leader** (the lease holder): renews the lease, polls PostHog with the shared ETag, writes a
  new snapshot under its fence (refused if a newer leader exists) or, on a 304, refreshes the
  shared snapshot's fetched-at time and expiry. Its schedule continues from the shared
  snapshot's fetched-at time, so a change of leader costs no extra request.
- **Failover**: the lease lasts 1.5 intervals; followers that can lead wake when it runs out
  (plus up to a tenth of an interval of jitter), so a dead leader is replaced within about
  two intervals and only one candidate wins (``SET NX``).
- **Cold start**: a process with no snapshot checks the store every 50-100 ms for at most
  ``flags_timeout``; flag calls wait for it at most that long in total, never afterwards.
- **Faults**: a store that fails is counted and logged once per episode; the last in-process
  snapshot stays, and a process with a personal key whose snapshot goes stale polls PostHog
  itself until the store is back. A corrupt, truncated or foreign snapshot is rejected
  (counted, logged) and the previous one kept. Nothing here raises into the host.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid

from .._config import Config
from .._delivery.transport import Transport
from .._errors import redact
from .._runtime import internal as _internal
from .._types import FlagStats
from . import envelope
from .envelope import SnapshotError, Version
from .model import EMPTY_DEFINITIONS
from .poller import FAILED, NOT_MODIFIED, OK, QUOTA, REFUSED, DefinitionsPoller
from .store import DefinitionsStore, owned

logger = logging.getLogger("posthog_client")

LEASE_INTERVALS = 1.5  # the lease outlives a missed renewal, not a dead leader
COLD_POLL = 0.05  # how often a process with no snapshot looks at the store
REFUSED_BACKOFF = 10  # intervals a process whose key was refused stays out of the election


class FleetPoller(DefinitionsPoller):
    def __init__(self, config: Config, transport: Transport, store: DefinitionsStore) -> None:
        self.store = store
        self.project = envelope.project_id(config.api_key)
        self.can_lead = bool(config.personal_api_key)
        self.store_errors = self.rejected = self.lease_changes = 0
        self.last_store_error: str | None = None
        self._name = repr(store)
        # What this process knows of the shared snapshot; kept across fork, so forked workers
        # do not download a snapshot they already hold.
        self.version: Version | None = None  # the last version string read or written
        self._content: str | None = None  # content id of the shared snapshot we hold
        self._rejected: str | None = None  # content id of a snapshot we refused
        super().__init__(config, transport)

    def _init_state(self) -> None:
        super()._init_state()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.fence: int | None = None
        self._failing = False
        self._out_until = 0.0  # monotonic: out of the election until then (key refused)
        self._next_fetch = 0.0  # monotonic: the leader's next request to PostHog
        self._cold_until = time.monotonic() + self._config.flags_timeout
        self._rng = random.Random()

    @property
    def _interval(self) -> float:
        return self._config.poll_interval

    @property
    def _lease(self) -> float:
        return self._interval * LEASE_INTERVALS

    def _jittered(self) -> float:
        return self._interval * (0.9 + 0.2 * self._rng.random())

    # -- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self._tick()
            except Exception as exc:  # never expected: report, keep the snapshot, go on
                _internal.report(exc)
                self._first_attempt.set()
                delay = self._jittered()
            if self._pause(max(0.005, delay)):
                break
        self._step_down()

    def _pause(self, delay: float) -> bool:
        """Sleep until the next tick (True: stopped). A follower of a store that can announce
        changes (``wait_for_change``, Redis with ``?wake=1``) wakes as soon as one is written."""
        wake = getattr(self.store, "wait_for_change", None)
        follower = self.fence is None and self.snapshot.loaded and not self._failing
        if follower and getattr(self.store, "wake", False) and callable(wake):
            try:
                wake(delay)
            except Exception:  # the next poll finds out whether the store is down
                return self._stop.wait(delay)
            return self._stop.is_set()
        return self._stop.wait(delay)

    def load_now(self) -> bool:
        self.start()
        if not self._first_attempt.is_set():
            self._first_attempt.wait(self._config.flags_timeout)
        return self.snapshot.loaded

    def stop(self) -> None:
        super().stop()
        self._step_down()
        if self.store in owned:
            try:
                self.store.close()
            except Exception:
                logger.debug("posthog_client: could not close the store", exc_info=True)

    def _step_down(self) -> None:
        """Give the lease back (a standby takes over at once instead of after expiry)."""
        fence, self.fence = self.fence, None
        if fence is not None:
            try:
                self.store.release(self.owner, fence)
            except Exception:  # the lease expires on its own
                logger.debug("posthog_client: could not release the lease", exc_info=True)

    def _tick(self) -> float:
        if self.fence is not None:
            return self._lead()
        now = time.monotonic()
        owner = self.owner if self.can_lead and now >= self._out_until else None
        try:
            polled = self.store.poll(owner, self._lease)
            self._sync(polled.version)
        except Exception as exc:
            self._store_failed(exc)
            return self._fall_back()
        self._store_ok()
        if polled.fence is not None:
            self._take_lease(polled.fence)
            return self._lead(renewed=True)
        if not self.snapshot.loaded:
            if now < self._cold_until:
                return COLD_POLL * (1 + self._rng.random())
            self._first_attempt.set()
        delay = self._jittered()
        if owner is not None and polled.lease_left is not None:
            delay = min(delay, polled.lease_left + 0.1 * self._interval * self._rng.random())
        return delay

    # -- follower ------------------------------------------------------------------------------

    def _sync(self, text: str | None) -> None:
        """Take the shared snapshot if its content changed (raises on store failures only)."""
        version = envelope.parse_version(text)
        if version is None:
            return
        self.version = version
        if version.content_id in (self._content, self._rejected):
            return
        own = self.fetched_at
        if self._content is None and own is not None and own * 1000 > version.fetched_at_ms:
            return  # what this process downloaded itself while the store was down is newer
        data = self.store.read()
        if data is None:
            return
        try:
            stored = envelope.decode(data, self.project)
            if stored.state == "ok":
                snapshot = self.parse([stored.body], stored.etag, " in the store")
                if snapshot is None:
                    raise SnapshotError("malformed definitions")
            else:
                snapshot = EMPTY_DEFINITIONS
                self._log_cleared(QUOTA, "")
        except SnapshotError as exc:
            self.rejected += 1
            self._rejected = version.content_id
            self._log.warning(
                "rejected",
                "the shared flag definitions in %s were rejected (%s); keeping the %s",
                self._name,
                exc,
                "previous ones" if self.snapshot.loaded else "remote evaluation until a good copy",
            )
            return
        del data
        self.snapshot, self._content = snapshot, version.content_id
        self._first_attempt.set()

    def snapshot_age(self) -> float | None:
        own = self.fetched_at
        version = self.version
        held = version is not None and version.content_id == self._content
        shared = version.fetched_at_ms / 1000 if version is not None and held else None
        latest = max((t for t in (own, shared) if t is not None), default=None)
        return (
            None if latest is None or not self.snapshot.loaded else max(0.0, time.time() - latest)
        )

    # -- leader --------------------------------------------------------------------------------

    def _take_lease(self, fence: int) -> None:
        self.fence = fence
        self.lease_changes += 1
        logger.info(
            "posthog_client: this process now polls flag definitions for the fleet "
            "(store %s, fence %d)",
            self._name,
            fence,
        )
        self._next_fetch = time.monotonic()
        version = self.version
        if version is not None and version.content_id == self._content:  # in sync: continue
            due = version.fetched_at_ms / 1000 + self._interval - time.time()
            self._next_fetch += max(0.0, min(due, self._interval))

    def _lose_lease(self, why: str) -> None:
        if self.fence is None:
            return
        self.fence = None
        self.lease_changes += 1
        logger.info("posthog_client: this process no longer polls for the fleet (%s)", why)

    def _lead(self, renewed: bool = False) -> float:
        fence = self.fence
        assert fence is not None
        try:
            if not renewed and not self.store.renew(self.owner, fence, self._lease):
                self._lose_lease("the lease expired or was taken")
                return COLD_POLL
            wait = self._next_fetch - time.monotonic()
            if wait > 0:
                return min(wait, self._jittered())
            self._next_fetch = time.monotonic() + self._jittered()
            self._poll_posthog(fence)
        except Exception as exc:
            self._store_failed(exc)
            return self._fall_back()
        self._store_ok()
        settled = self.snapshot.loaded or self._cleared_for == QUOTA
        if settled or time.monotonic() >= self._cold_until:
            self._first_attempt.set()  # else another process may still bring one, in time
        if self.fence is None:
            return COLD_POLL
        return max(0.0, self._next_fetch - time.monotonic())

    def _poll_posthog(self, fence: int) -> None:
        in_sync = self.version is not None and self.version.content_id == self._content
        got = self.download(self.snapshot.etag if in_sync else None, keep_body=True)
        now_ms = int(time.time() * 1000)
        if got.kind in (OK, QUOTA):
            # What PostHog just said is used here whatever happens to the lease.
            self.snapshot = got.snapshot if got.kind == OK else EMPTY_DEFINITIONS  # type: ignore[assignment]
            if got.kind == QUOTA:
                self._log_cleared(QUOTA, "")
            if not self.store.renew(self.owner, fence, self._lease):
                self._lose_lease("the lease expired while PostHog answered")
                return
            body = (got.body or b"") if got.kind == OK else b""
            state = "ok" if got.kind == OK else "quota_limited"
            data, content = envelope.encode(
                body, etag=got.etag, fence=fence, project=self.project, state=state
            )
            del body
            version = envelope.make_version(fence, content, now_ms)
            if not self.store.write(fence, data, version):
                self._lose_lease("a newer leader holds a larger fence; its write wins")
                return
            self.version, self._content = envelope.parse_version(version), content
        elif got.kind == NOT_MODIFIED:
            assert self.version is not None and self._content is not None
            version = envelope.make_version(fence, self._content, now_ms)
            self._touch(fence, version, refetch=True)
        elif got.kind == FAILED and self.version is not None:  # keep the shared copy alive
            text = envelope.make_version(*self.version)
            self._touch(fence, text, refetch=False)
        elif got.kind == REFUSED:
            self._log_cleared(
                REFUSED,
                f"this process leaves polling to others for {REFUSED_BACKOFF} intervals and "
                "keeps the shared definitions",
            )
            self._out_until = time.monotonic() + REFUSED_BACKOFF * self._interval
            self._step_down()
            self.lease_changes += 1

    def _touch(self, fence: int, text: str, refetch: bool) -> None:
        touched = self.store.touch(fence, text)
        if touched is None and refetch:  # the shared copy is gone: download it in full now
            self._content = None
            self._next_fetch = time.monotonic()
        elif touched is False:
            self._lose_lease("a newer leader holds a larger fence")
        elif touched:
            self.version = envelope.parse_version(text)

    # -- faults --------------------------------------------------------------------------------

    def _store_failed(self, exc: BaseException) -> None:
        self.store_errors += 1
        detail = f"{type(exc).__name__}: {exc}"[:300]
        self.last_store_error = redact(
            detail, (self._config.api_key, self._config.personal_api_key)
        )
        if self.fence is not None:
            self.fence = None
            self.lease_changes += 1
        if self._failing or self._stop.is_set():
            return
        self._failing = True
        auth = "auth" in detail.lower() or "WRONGPASS" in detail or "NOAUTH" in detail
        hint = " (check the user name and password in the store URL)" if auth else ""
        age = self.snapshot_age()
        keeping = f"the last ones ({age:.0f} s old)" if age is not None else "none loaded yet"
        logger.warning(
            "posthog_client: the flag definitions store %s failed: %s%s; flags use %s until it "
            "answers again%s",
            self._name,
            self.last_store_error,
            hint,
            keeping,
            ", polling PostHog from this process meanwhile" if self.can_lead else "",
        )

    def _store_ok(self) -> None:
        if self._failing:
            self._failing = False
            logger.warning(
                "posthog_client: the flag definitions store %s answers again", self._name
            )

    def _fall_back(self) -> float:
        """While the store fails: a process with a personal key polls PostHog itself once its
        snapshot is older than two intervals; the others keep what they have."""
        if self.can_lead and time.monotonic() >= self._out_until:
            age = self.snapshot_age()
            if age is None or age > 2 * self._interval:
                before = self.snapshot
                self.fetch()
                if self.snapshot is not before:
                    self._content = None  # no longer the shared copy: newer, or cleared
        self._first_attempt.set()
        return self._jittered()

    def stats(self) -> FlagStats:
        return FlagStats(
            role="leader" if self.fence is not None else "follower",
            store=self._name,
            fence=self.fence,
            loaded=self.snapshot.loaded,
            snapshot_age=self.snapshot_age(),
            fetches=self.fetches,
            not_modified=self.not_modified,
            store_errors=self.store_errors,
            rejected_snapshots=self.rejected,
            lease_changes=self.lease_changes,
            last_store_error=self.last_store_error,
        )
