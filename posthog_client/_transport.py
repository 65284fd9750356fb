"""HTTP to a PostHog-compatible host: the only module that imports ``requests``.

Every call has a whole-request deadline. ``requests`` timeouts apply per socket operation, so a
server that trickles one byte at a time could hold a call for minutes; a timer shuts the
connection's socket down when the deadline passes, which ends the call at once.
"""

from __future__ import annotations

import contextlib
import gzip as gziplib
import logging
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ._version import VERSION

logger = logging.getLogger("posthog_client")

USER_AGENT = f"posthog-client/{VERSION}"
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_local = threading.local()


@dataclass(frozen=True)
class HTTPResult:
    """What came back: ``status`` is None when no answer arrived (``error`` says why)."""

    status: int | None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        if self.status is None:
            return self.error or "no answer"
        excerpt = self.body[:200].decode("utf-8", "replace").strip()
        return f"HTTP {self.status}" + (f": {excerpt}" if excerpt else "")


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
    for conn in connections:
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


class Transport:
    """Sends requests to one host. ``session`` is the seam the fake server plugs into."""

    def __init__(self, host: str, session: requests.Session | None = None) -> None:
        self.host = host
        self._own_session = session is None
        self.session = session if session is not None else new_session()

    def reset_after_fork(self) -> None:
        """Pooled sockets are shared with the parent after fork: start over with new ones."""
        if self._own_session:
            self.session = new_session()

    def close(self) -> None:
        if self._own_session:
            try:
                self.session.close()
            except Exception:  # closing is best effort
                logger.debug("posthog_client: error closing the HTTP session", exc_info=True)

    def post_json(
        self, path: str, body: bytes, *, deadline: float, compress: bool = False
    ) -> HTTPResult:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if compress:
            body = gziplib.compress(body, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return self._request("POST", path, headers, body, None, deadline)

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        deadline: float,
    ) -> HTTPResult:
        all_headers = {"User-Agent": USER_AGENT, **headers}
        return self._request("GET", path, all_headers, None, params, deadline)

    def _request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        params: Mapping[str, str] | None,
        deadline: float,
    ) -> HTTPResult:
        connections: list[Any] = []
        fired = threading.Event()
        timer = threading.Timer(deadline, _cut, (connections, fired))
        timer.daemon = True
        _local.connections = connections
        timer.start()
        try:
            response = self.session.request(
                method,
                self.host + path,
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
            return HTTPResult(None, error="timed out")
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if fired.is_set():
                return HTTPResult(None, error=f"no complete answer within {deadline:g} s")
            return HTTPResult(None, error=f"connection error ({type(exc).__name__})")
        finally:
            timer.cancel()
            _local.connections = None
        if fired.is_set():
            return HTTPResult(None, error=f"no complete answer within {deadline:g} s")
        return HTTPResult(response.status_code, content, response.headers)


def _read_capped(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise requests.RequestException("response too large")
    return b"".join(chunks)
