"""A ``DefinitionsStore`` over a provider written for the official SDK's
``FlagDefinitionCacheProvider`` protocol, so such a provider plugs in unchanged.

How the calls map (each provider method may be sync or return an awaitable; awaitables run on
a private event-loop thread, at most ``timeout`` seconds each):

- ``should_fetch_flag_definitions()`` is the lease: True makes this process the leader (asked
  again every interval, which is how such providers renew their lock). Fences are local to
  this process: the provider's own lock is what keeps writers apart.
- ``on_flag_definitions_received(data)`` receives ``{flags, group_type_mapping, cohorts,
  minimal_flag_called_events, property_matching_version}`` after every download that changed
  something (not after 304s: such providers cannot refresh an expiry).
- ``get_flag_definitions()`` is read each interval; the snapshot is re-parsed only when the
  data changed.
- ``shutdown()`` is called when the client shuts down.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import threading
import time
from collections.abc import Awaitable
from typing import Any

from . import envelope
from .store import PollResult

_KEYS = ("flags", "group_type_mapping", "cohorts")
_OPTIONAL = ("minimal_flag_called_events", "property_matching_version")


class ProviderStore:
    def __init__(self, provider: Any, namespace: str = "default", timeout: float = 5.0) -> None:
        self.provider = provider
        self.namespace = namespace
        self.timeout = timeout
        self._fence = 0
        self._seen: tuple[str, int] | None = None  # content id, first seen (ms)
        self._data: bytes | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_pid = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"provider:{type(self.provider).__name__}"

    def _call(self, name: str, *args: Any) -> Any:
        result = getattr(self.provider, name)(*args)
        if not inspect.isawaitable(result):
            return result
        future = asyncio.run_coroutine_threadsafe(_wait(result), self._event_loop())
        return future.result(self.timeout)

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop_pid != os.getpid():  # none yet, or forked
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=_serve, args=(loop,), name="posthog_client-provider", daemon=True
                ).start()
                self._loop, self._loop_pid = loop, os.getpid()
            return self._loop

    def poll(self, owner: str | None, lease: float) -> PollResult:
        data = self._call("get_flag_definitions")
        version = None
        if isinstance(data, dict) and isinstance(data.get("flags"), list):
            body = json.dumps(data, sort_keys=True, default=str).encode()
            digest = hashlib.sha256(body).hexdigest()[:16]
            if self._seen is None or self._seen[0] != digest:
                self._seen = (digest, int(time.time() * 1000))
                self._data = body
            version = envelope.make_version(0, digest, self._seen[1])
        fence = None
        if owner is not None and self._call("should_fetch_flag_definitions") is True:
            self._fence += 1
            fence = self._fence
        return PollResult(version, fence, None)

    def renew(self, owner: str, fence: int, lease: float) -> bool:
        return fence == self._fence and self._call("should_fetch_flag_definitions") is True

    def release(self, owner: str, fence: int) -> None:
        pass  # such providers' locks expire on their own

    def write(self, fence: int, snapshot: bytes, version: str) -> bool:
        if fence < self._fence:
            return False
        stored = envelope.decode(snapshot, self.namespace)
        raw = json.loads(stored.body) if stored.state == "ok" else {}
        data = {key: raw.get(key) or ({} if key != "flags" else []) for key in _KEYS}
        data.update({key: raw[key] for key in _OPTIONAL if key in raw})
        self._call("on_flag_definitions_received", data)
        return True

    def touch(self, fence: int, version: str) -> bool | None:
        return fence >= self._fence

    def read(self) -> bytes | None:
        if self._data is None or self._seen is None:
            return None
        return envelope.encode(self._data, etag=None, fence=0, project=self.namespace)[0]

    def close(self) -> None:
        shutdown = getattr(self.provider, "shutdown", None)
        try:
            if callable(shutdown):
                self._call("shutdown")
        finally:
            loop, self._loop = self._loop, None
            if loop is not None and self._loop_pid == os.getpid():
                loop.call_soon_threadsafe(loop.stop)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()


async def _wait(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
