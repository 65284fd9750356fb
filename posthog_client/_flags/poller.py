"""Keeps an immutable snapshot of the flag definitions fresh, on one background thread.

Readers take ``poller.snapshot`` (one attribute read, no lock); the poller swaps in a whole new
snapshot. A failed fetch keeps the last good snapshot; 401/402 clear it. The first flag call
waits for the first load only up to a short bound, and a failed load never turns flag calls
into synchronous fetches: the next attempt is the poller's.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from typing import NamedTuple

from .._config import Config
from .._delivery.transport import DEFINITIONS_PATH, Transport
from .._errors import redact
from .._runtime import internal as _internal
from .._runtime import lifecycle as _lifecycle
from .._runtime.logs import DOCTOR_HINT, RateLimitedLog
from .._types import FlagStats
from .model import EMPTY_DEFINITIONS, Definitions
from .parse import DefinitionsError, parse_definitions

logger = logging.getLogger("posthog_client")

FETCH_DEADLINE = 10.0
OK, NOT_MODIFIED, REFUSED, QUOTA, FAILED = "ok", "not_modified", "refused", "quota", "failed"


class Download(NamedTuple):
    """What one definitions request came to: ``kind`` is one of the five constants above."""

    kind: str
    snapshot: Definitions | None = None
    body: bytes | None = None  # the raw body, only when asked for
    etag: str | None = None


class DefinitionsPoller:
    def __init__(self, config: Config, transport: Transport) -> None:
        self._config = config
        self._transport = transport
        self.snapshot: Definitions = EMPTY_DEFINITIONS
        self.fetches = 0  # definitions requests made by this process
        self.not_modified = 0  # of which answered 304
        self.fetched_at: float | None = None  # wall clock of the last 200 or 304
        self._init_state()
        _lifecycle.on_fork(self)

    def _init_state(self) -> None:
        self._thread: threading.Thread | None = None
        self._first_attempt = threading.Event()
        self._stop = threading.Event()
        self._start_lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._log = RateLimitedLog(60.0)
        self._cleared_for: str | None = None
        self._problems_logged: tuple[str, ...] = ()

    def reset_after_fork(self) -> None:
        """The child keeps the parent's snapshot and polls on a thread of its own (started at
        once if the parent was polling, so a kill switch reaches forked workers too)."""
        had_loaded = self._first_attempt.is_set()
        was_polling = self._thread is not None and not self._stop.is_set()
        self._init_state()
        if had_loaded:
            self._first_attempt.set()
        if was_polling:
            self.start()

    def wait_for_first_load(self, timeout: float) -> None:
        """Wait at most ``timeout`` s for the first fetch to end (starting to poll if needed)."""
        if self._thread is None:
            self.start()
        if not self._first_attempt.is_set():
            self._first_attempt.wait(timeout)

    def start(self) -> None:
        """Start polling on a background thread (idempotent)."""
        with self._start_lock:
            if self._thread is not None or self._stop.is_set():
                return
            thread = threading.Thread(target=self._run, name="posthog_client-flags", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # interpreter shutting down
                return
            self._thread = thread

    def load_now(self) -> bool:
        """Load now (bounded) and keep polling; True when loaded. Waits for the poller's first
        fetch if it is under way, else fetches on the calling thread."""
        if self._thread is not None and not self._first_attempt.is_set():
            self._first_attempt.wait(FETCH_DEADLINE)
        else:
            self.fetch()
        self.start()
        return self.snapshot.loaded

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        rng = random.Random()
        fetch_now = not self._first_attempt.is_set()  # load_now() may have just fetched
        while True:
            if fetch_now:
                try:
                    self.fetch()
                except Exception as exc:  # never expected: report, keep the snapshot, go on
                    _internal.report(exc)
                    self._first_attempt.set()
            fetch_now = True
            jitter = 0.9 + 0.2 * rng.random()  # spread the polls of many processes
            if self._stop.wait(self._config.poll_interval * jitter):
                return

    def fetch(self) -> None:
        with self._fetch_lock:
            try:
                self._fetch()
            finally:
                self._first_attempt.set()

    def _fetch(self) -> None:
        got = self.download(self.snapshot.etag)
        if got.kind == OK:
            assert got.snapshot is not None
            self.snapshot = got.snapshot
            logger.debug(
                "posthog_client: loaded %d flag definition(s) and %d cohort(s)",
                len(got.snapshot.flags),
                len(got.snapshot.cohorts),
            )
        elif got.kind == NOT_MODIFIED:
            logger.debug("posthog_client: flag definitions unchanged (304)")
        elif got.kind in (REFUSED, QUOTA):
            self.snapshot = EMPTY_DEFINITIONS
            self._log_cleared(
                got.kind,
                "local flag evaluation is off until it is accepted, flags are evaluated remotely",
            )

    def _log_cleared(self, kind: str, consequence: str) -> None:
        """One line per change of state: the key was refused (401), or over quota (402)."""
        if self._cleared_for == kind:
            return
        self._cleared_for = kind
        if kind == REFUSED:
            logger.error(
                "posthog_client: the personal API key was refused (401); %s%s",
                consequence,
                DOCTOR_HINT,
            )
        else:
            logger.warning(
                "posthog_client: feature flags are over quota (402); local flag definitions "
                "were cleared"
            )

    def download(self, etag: str | None, keep_body: bool = False) -> Download:
        """One ``GET /flags/definitions`` (conditional on ``etag``), parsed. ``keep_body``
        keeps the raw body too (a fleet leader stores it), at the cost of holding it while
        parsing."""
        config = self._config
        headers = {"Authorization": f"Bearer {config.personal_api_key}"}
        if etag:
            headers["If-None-Match"] = etag
        self.fetches += 1
        result = self._transport.get(
            DEFINITIONS_PATH,
            params={"token": config.api_key, "send_cohorts": ""},
            headers=headers,
            deadline=FETCH_DEADLINE,
        )
        if result.status == 304:
            self.not_modified += 1
            self.fetched_at = time.time()
            return Download(NOT_MODIFIED)
        if result.status in (401, 402):
            return Download(REFUSED if result.status == 401 else QUOTA)
        if not result.ok:
            detail = redact(result.describe(), (config.api_key, config.personal_api_key))
            self._log.warning(
                "definitions", "could not load flag definitions (%s); keeping the last ones", detail
            )
            return Download(FAILED)
        new_etag = result.headers.get("ETag")
        body = [result.body]
        del result  # the body now lives in `body` only, and parse lets go of it once decoded
        kept = body[0] if keep_body else None
        snapshot = self.parse(body, new_etag)
        if snapshot is None:
            return Download(FAILED)
        self.fetched_at = time.time()
        self._cleared_for = None
        return Download(OK, snapshot, kept, new_etag)

    def parse(self, body: list[bytes], etag: str | None, source: str = "") -> Definitions | None:
        """The body as a snapshot, or None (logged) when it is malformed. The JSON text and the
        decoded tree are dropped as soon as each is used, so a reload holds one of them, the
        new snapshot and the old one, never two raw copies."""
        try:
            raw = json.loads(body.pop())
            snapshot = parse_definitions(raw, etag, consume=True)
        except (ValueError, RecursionError, DefinitionsError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
            self._log.warning(
                "definitions",
                "flag definitions%s were malformed (%s); keeping the last ones",
                source,
                reason,
            )
            return None
        if snapshot.problems and snapshot.problems != self._problems_logged:
            self._problems_logged = snapshot.problems
            logger.warning(
                "posthog_client: %d part(s) of the flag definitions cannot be evaluated locally "
                "and will be asked of the server: %s",
                len(snapshot.problems),
                "; ".join(snapshot.problems[:5]),
            )
        return snapshot

    def snapshot_age(self) -> float | None:
        """Seconds since PostHog last confirmed the definitions in use (None: never)."""
        fetched = self.fetched_at
        return None if fetched is None else max(0.0, time.time() - fetched)

    def stats(self) -> FlagStats:
        return FlagStats(
            role="standalone",
            snapshot_age=self.snapshot_age(),
            fetches=self.fetches,
            not_modified=self.not_modified,
            loaded=self.snapshot.loaded,
        )
