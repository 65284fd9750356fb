"""The Redis definitions store (``redis://``, ``rediss://``, ``unix://``; extra ``[redis]``).

Every operation is one round trip running one of the Lua scripts shipped next to this module
(``lua/*.lua``), so each is atomic on the server. The keys of one project share a hash tag,
``<prefix>:{<project>}:...``, so the scripts also run on Redis Cluster:

- ``lease``    ``"<owner> <fence>"`` with a PX expiry (``SET NX PX``)
- ``fence``    the fence counter, ``INCR``-ed on every acquisition (never expires)
- ``version``  ``"<fence>:<content id>:<fetched at ms>"``, read by every follower each interval
- ``snapshot`` the snapshot (``envelope``), read only when the version's content id changed
- ``changed``  a pub/sub channel the version is published on when the snapshot changes

A follower's poll sends about 200 bytes and gets about 55 back; nothing else is sent unless
the definitions changed. With ``wake=True`` (``?wake=1``) a follower also subscribes to
``changed`` on a second connection and polls as soon as a new snapshot is published, instead
of at its next interval. The client is built without redis-py's default retries (ten, with
backoff, about 5 s against a dead server): a failed round trip is one counted store error, and
the next tick tries again.
"""

from __future__ import annotations

import importlib.resources
import os
import time
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .store import DEFAULT_PREFIX, DEFAULT_TIMEOUT, DEFAULT_TTL, PollResult

_WAIT_SLICE = 0.25  # seconds: how late a closed store's wait_for_change() can end
_SCRIPTS = ("poll", "renew", "release", "write", "touch")


def script_source(name: str) -> str:
    """The text of a shipped Lua script (``poll``, ``renew``, ``release``, ``write``, ``touch``)."""
    return (importlib.resources.files(__package__) / "lua" / f"{name}.lua").read_text("utf-8")


def describe_url(url: str) -> str:
    """The URL without user name, password or query (for logs and stats)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{netloc}{parts.path}"


class RedisStore:
    """``RedisStore("redis://host:6379/0")`` or ``RedisStore(client=redis.Redis(...))``.

    ``namespace`` separates projects (``Client`` passes one derived from the project key when it
    builds the store from a URL); ``ttl`` is how long a snapshot outlives its last refresh;
    ``timeout`` bounds each round trip.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        namespace: str = "default",
        prefix: str = DEFAULT_PREFIX,
        ttl: float = DEFAULT_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        wake: bool = False,
    ) -> None:
        if (url is None) == (client is None):
            raise TypeError("give a redis URL or a redis client, not both")
        if client is None:
            assert url is not None
            client = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 1),  # one immediate retry: a pooled socket went stale
                health_check_interval=0,
            )
            self._name = describe_url(url)
        else:
            kwargs = client.connection_pool.connection_kwargs
            self._name = f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        self.client = client
        self.ttl = ttl
        self.wake = wake
        self._pubsub: Any = None
        self._pubsub_pid = 0
        base = f"{prefix}:{{{namespace}}}"
        self.keys = {name: f"{base}:{name}" for name in ("lease", "fence", "version", "snapshot")}
        self.channel = f"{base}:changed"
        self._scripts = {name: client.register_script(script_source(name)) for name in _SCRIPTS}

    def __repr__(self) -> str:
        return self._name

    def _run(self, name: str, keys: tuple[str, ...], *args: Any) -> Any:
        return self._scripts[name](keys=[self.keys[k] for k in keys], args=list(args))

    def poll(self, owner: str | None, lease: float) -> PollResult:
        version, fence, left = self._run(
            "poll", ("lease", "fence", "version"), owner or "", _ms(lease)
        )
        text = version.decode("ascii", "replace") if isinstance(version, bytes) else version
        return PollResult(
            text,
            int(fence) or None,
            int(left) / 1000 if int(left) >= 0 else None,
        )

    def renew(self, owner: str, fence: int, lease: float) -> bool:
        return int(self._run("renew", ("lease",), f"{owner} {fence}", _ms(lease))) == 1

    def release(self, owner: str, fence: int) -> None:
        self._run("release", ("lease",), f"{owner} {fence}")

    def write(self, fence: int, snapshot: bytes, version: str) -> bool:
        keys = ("fence", "snapshot", "version")
        done = self._run("write", keys, fence, snapshot, version, _ms(self.ttl), self.channel)
        return int(done) == 1

    def touch(self, fence: int, version: str) -> bool | None:
        done = int(
            self._run("touch", ("fence", "snapshot", "version"), fence, version, _ms(self.ttl))
        )
        return None if done < 0 else done == 1

    def read(self) -> bytes | None:
        data = self.client.get(self.keys["snapshot"])
        return data if isinstance(data, bytes) else None

    def lease_holder(self) -> str | None:
        """``"<owner> <fence>"`` of the current leader, if any (``doctor`` shows it)."""
        value = self.client.get(self.keys["lease"])
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else None

    def wait_for_change(self, timeout: float) -> bool:
        """Block up to ``timeout`` s for a new snapshot to be published (``wake``); True when
        one was. Raises on a connection failure (the caller then sleeps instead)."""
        pubsub = self._pubsub
        if pubsub is None or self._pubsub_pid != os.getpid():  # none yet, or a forked child's
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            pubsub.subscribe(self.channel)
            self._pubsub, self._pubsub_pid = pubsub, os.getpid()
        deadline = time.monotonic() + timeout
        # In slices, checking that close() has not ended the subscription: once it has,
        # redis-py's get_message() waits to be subscribed again for all of its timeout.
        while self._pubsub is pubsub and (left := deadline - time.monotonic()) > 0:
            if pubsub.get_message(timeout=min(left, _WAIT_SLICE)) is not None:
                return True
        return False

    def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None and self._pubsub_pid == os.getpid():
            pubsub.close()
        self.client.close()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
