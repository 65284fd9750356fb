"""The ``requests`` side of the transport, imported on the first request (not at
``import posthog_client``): sessions, whole-request deadlines, and reading answers.

``requests`` timeouts apply per socket operation, so a server that trickles one byte at a time
could hold a call for minutes. One watchdog thread per process shuts a request's socket down
when its deadline passes, which ends the call at once.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# status (None: no answer), body, headers, error
Answer = tuple[int | None, bytes, Mapping[str, str], str | None]
_local = threading.local()


class _Tracked:
    """Registers each connection used on this thread, so the deadline timer can cut it."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        holder = getattr(_local, "connections", None)
        if holder is not None:
            holder.append(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Tracked, HTTPConnection):
    pass


class _HTTPSConnection(_Tracked, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def _cut(connections: list[Any], fired: threading.Event) -> None:
    fired.set()
    for conn in list(connections):
        sock = getattr(conn, "sock", None)
        if sock is not None:
            # The plain socket's shutdown, also for TLS: it wakes the blocked reader at once.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def new_session() -> requests.Session:
    session = requests.Session()
    adapter = _DeadlineAdapter(max_retries=0, pool_connections=4, pool_maxsize=4)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _Watchdog:
    """Cuts the connections of requests whose deadline passed; one thread for all requests."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._armed: dict[int, tuple[float, list[Any], threading.Event]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def arm(self, seconds: float, connections: list[Any], fired: threading.Event) -> int:
        if self._pid != os.getpid():  # forked: the parent's lock and thread are not ours
            self._reset()
        with self._cond:
            token = next(self._ids)
            self._armed[token] = (time.monotonic() + seconds, connections, fired)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="posthog_client-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [t for t, (when, _, _) in self._armed.items() if when <= now]
                expired = [self._armed.pop(t) for t in due]
                if not expired:
                    soonest = min((when for when, _, _ in self._armed.values()), default=None)
                    self._cond.wait(None if soonest is None else soonest - now)
                    continue
            for _, connections, fired in expired:
                _cut(connections, fired)


_watchdog = _Watchdog()


def send(
    session: requests.Session,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    params: Mapping[str, str] | None,
    deadline: float,
) -> Answer:
    connections: list[Any] = []
    fired = threading.Event()
    _local.connections = connections
    token = _watchdog.arm(deadline, connections, fired)
    late = f"no complete answer within {deadline:g} s"
    try:
        response = session.request(
            method,
            url,
            data=body,
            params=params,
            headers=headers,
            timeout=(min(deadline, 10.0), deadline),
            allow_redirects=False,  # a redirect would re-send the body, api key included
            stream=True,
        )
        try:
            content = _read_capped(response)
        finally:
            response.close()
    except requests.Timeout:
        return None, b"", {}, "timed out"
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if fired.is_set():
            return None, b"", {}, late
        return None, b"", {}, f"connection error ({type(exc).__name__})"
    finally:
        _watchdog.disarm(token)
        _local.connections = None
    if fired.is_set():
        return None, b"", {}, late
    return response.status_code, content, response.headers, None


def _read_capped(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise requests.RequestException("response too large")
    return b"".join(chunks)
