"""Definitions stores: where a fleet of processes shares one copy of the flag definitions.

``Client(definitions_store=...)`` takes a URL (``redis://``, ``rediss://``, ``unix://``,
``file://``) or an object implementing ``DefinitionsStore`` (below), or a provider written for
the official SDK's ``FlagDefinitionCacheProvider`` protocol (wrapped by ``ProviderStore``).

The protocol is seven small methods; every one may raise on a store failure (the coordinator
counts and logs it, and keeps its last snapshot). ``MemoryStore`` is the reference
implementation, for tests and for several clients in one process.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any, NamedTuple, Protocol, runtime_checkable

DEFAULT_TTL = 7 * 86_400.0  # an abandoned snapshot is dropped after a week without a leader
DEFAULT_PREFIX = "posthog:flags"
DEFAULT_TIMEOUT = 2.0


class PollResult(NamedTuple):
    """What a follower learns in one round trip."""

    version: str | None  # the stored version string; None when no snapshot is stored
    fence: int | None  # the fence of the lease this call acquired; None when it did not
    lease_left: float | None = None  # seconds until the current lease expires, when known


@runtime_checkable
class DefinitionsStore(Protocol):
    """A shared home for one project's flag definitions, and the lease of the one process that
    polls PostHog for them.

    - ``poll(owner, lease)``: read the version string; when ``owner`` is not None and nobody
      holds the lease, take it for ``lease`` seconds with a fence (a number larger than every
      fence handed out before) and return that fence.
    - ``renew(owner, fence, lease)``: extend the lease if ``owner`` still holds it with ``fence``.
    - ``release(owner, fence)``: give the lease up if ``owner`` still holds it with ``fence``.
    - ``write(fence, snapshot, version)``: store both, unless a larger fence was handed out
      (then return False: a paused ex-leader never overwrites newer definitions).
    - ``touch(fence, version)``: replace the version and push the expiry of the stored snapshot
      (after a 304); False when fenced out, None when there is no snapshot to touch.
    - ``read()``: the stored snapshot bytes, or None.
    - ``close()``: let go of connections and files.

    Optionally, a store with ``wake = True`` and ``wait_for_change(timeout) -> bool`` lets a
    follower sleep until a new snapshot is announced (Redis pub/sub with ``?wake=1``).
    """

    def poll(self, owner: str | None, lease: float) -> PollResult: ...

    def renew(self, owner: str, fence: int, lease: float) -> bool: ...

    def release(self, owner: str, fence: int) -> None: ...

    def write(self, fence: int, snapshot: bytes, version: str) -> bool: ...

    def touch(self, fence: int, version: str) -> bool | None: ...

    def read(self) -> bytes | None: ...

    def close(self) -> None: ...


class MemoryStore:
    """A store in this process's memory: for tests, and for several clients in one process."""

    def __init__(self, ttl: float = DEFAULT_TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._lease: tuple[str, int, float] | None = None  # owner, fence, expires (monotonic)
        self._fence = 0
        self._snapshot: bytes | None = None
        self._version: str | None = None
        self._expires = 0.0

    def __repr__(self) -> str:
        return "memory://"

    def _live(self, now: float) -> None:
        if self._lease is not None and self._lease[2] <= now:
            self._lease = None
        if self._snapshot is not None and self._expires <= now:
            self._snapshot = self._version = None

    def poll(self, owner: str | None, lease: float) -> PollResult:
        with self._lock:
            now = time.monotonic()
            self._live(now)
            fence = None
            if owner is not None and self._lease is None:
                self._fence += 1
                fence = self._fence
                self._lease = (owner, fence, now + lease)
            left = None if self._lease is None else self._lease[2] - now
            return PollResult(self._version, fence, left)

    def renew(self, owner: str, fence: int, lease: float) -> bool:
        with self._lock:
            now = time.monotonic()
            self._live(now)
            if self._lease is None or self._lease[:2] != (owner, fence):
                return False
            self._lease = (owner, fence, now + lease)
            return True

    def release(self, owner: str, fence: int) -> None:
        with self._lock:
            if self._lease is not None and self._lease[:2] == (owner, fence):
                self._lease = None

    def write(self, fence: int, snapshot: bytes, version: str) -> bool:
        with self._lock:
            if fence < self._fence:
                return False
            self._fence = fence  # never lower: see write.lua
            self._snapshot, self._version = bytes(snapshot), version
            self._expires = time.monotonic() + self.ttl
            return True

    def touch(self, fence: int, version: str) -> bool | None:
        with self._lock:
            now = time.monotonic()
            self._live(now)
            if fence < self._fence:
                return False
            if self._snapshot is None:
                return None
            self._version, self._expires = version, now + self.ttl
            return True

    def read(self) -> bytes | None:
        with self._lock:
            self._live(time.monotonic())
            return self._snapshot

    def close(self) -> None:
        pass

    # for tests: what a broken or foreign writer could leave behind
    def corrupt(self, snapshot: bytes, version: str) -> None:
        with self._lock:
            self._snapshot, self._version = snapshot, version
            self._expires = time.monotonic() + self.ttl


# Stores built here (from a URL, or around a provider) belong to their client, which closes
# them on shutdown; an object the app passed in is the app's to close.
owned: weakref.WeakSet[Any] = weakref.WeakSet()
