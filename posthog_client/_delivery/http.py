"""The ``requests`` side of the transport, imported when a client is made (not at
``import posthog_client``, and never on a background thread: a fork while a thread imports
would leave the child a half-imported module): sessions, whole-request deadlines, answers.

``requests`` timeouts apply per socket operation, so a server that trickles one byte at a time
could hold a call for minutes, and name lookups have no timeout at all. Here every wait of a
request counts against one deadline: the host name is looked up on a resolver thread that is
abandoned when the deadline passes, and one watchdog thread per process shuts a request's
socket down when its deadline passes, which ends the call at once.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# status (None: no answer), body, headers, error, and whether the whole request was sent
Answer = tuple[int | None, bytes, Mapping[str, str], str | None, bool]
_local = threading.local()


class _Call:
    """What one request on this thread needs its connections to know."""

    __slots__ = ("connections", "deadline", "sent", "while_waiting")

    def __init__(self, deadline: float, while_waiting: Callable[[], None] | None) -> None:
        self.connections: list[Any] = []
        self.deadline = deadline  # time.monotonic() value
        self.sent = False  # the request (headers and body) was written completely
        self.while_waiting = while_waiting  # run once, between sending and reading the answer


class _Tracked:
    """Connections that look names up within the deadline, register themselves for the
    watchdog, and note when a request has been written completely."""

    _dns_host: str
    port: int
    host: str

    def request(self, *args: Any, **kwargs: Any) -> Any:
        call: _Call | None = getattr(_local, "call", None)
        if call is not None:
            call.connections.append(self)
        result = super().request(*args, **kwargs)  # type: ignore[misc]
        if call is not None:
            call.sent = True
            work, call.while_waiting = call.while_waiting, None
            if work is not None:
                work()
        return result

    def _new_conn(self) -> socket.socket:
        call: _Call | None = getattr(_local, "call", None)
        host = self._dns_host
        if call is None or _is_ip(host):
            return super()._new_conn()  # type: ignore[misc, no-any-return]
        try:
            infos = _resolver().resolve(host, self.port, call.deadline - time.monotonic())
        except OSError as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        error: Exception | None = None
        for address in list(dict.fromkeys(str(info[4][0]) for info in infos))[:4]:
            self._dns_host = address  # connect to this address; TLS still checks `host`
            try:
                return super()._new_conn()  # type: ignore[misc, no-any-return]
            except (NewConnectionError, ConnectTimeoutError) as exc:
                error = exc
            finally:
                self._dns_host = host
        raise error or NewConnectionError(self, f"no address for {host}")  # type: ignore[arg-type]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _HTTPConnection(_Tracked, HTTPConnection):
    pass


class _HTTPSConnection(_Tracked, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class Pool:
    """The SDK's own connections to one host: urllib3 directly. ``requests`` reads the
    environment on every request (proxies, netrc), a millisecond of CPU each time; here it is
    read once, with the same meaning: ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``, and
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` or certifi's bundle, verification always on.
    (Benchmark: end-to-end events/s, 2 ms of CPU per request with ``requests``.)"""

    def __init__(self, host: str) -> None:
        kind = "https" if host.startswith("https:") else "http"
        name = urllib3.util.parse_url(host).host or ""
        proxy = urllib.request.getproxies().get(kind)
        if proxy and urllib.request.proxy_bypass(name):
            proxy = None
        ca_bundle = (
            os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or DEFAULT_CA_BUNDLE_PATH
        )
        options: dict[str, Any] = {"num_pools": 4, "maxsize": 4, "ca_certs": ca_bundle}
        manager: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        self._manager = manager

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        params: Mapping[str, str] | None,
        deadline: float,
    ) -> tuple[int, bytes, Mapping[str, str]]:
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        response = self._manager.urlopen(
            method,
            url,
            body=body,
            headers=dict(headers),
            timeout=urllib3.Timeout(connect=min(deadline, 10.0), read=deadline),
            retries=False,
            redirect=False,  # a redirect would re-send the body, api key included
            preload_content=False,
        )
        try:
            chunks = response.stream(65536, decode_content=True)
            content = _read_capped(chunks, urllib3.exceptions.HTTPError)
        finally:
            response.release_conn()
        return response.status, content, response.headers

    def close(self) -> None:
        self._manager.clear()


class _Resolver:
    """``getaddrinfo`` with a deadline. Each lookup runs on a daemon thread; one that outlives
    its deadline is abandoned (it ends when the system resolver gives up). At most four run at
    once, so a resolver that hangs cannot pile up threads: past that, lookups fail at once."""

    MAX_THREADS = 4

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self.pid = os.getpid()

    def resolve(self, host: str, port: int, timeout: float) -> list[Any]:
        with self._lock:
            if self._running >= self.MAX_THREADS:
                raise socket.gaierror(socket.EAI_AGAIN, "earlier lookups are still stuck")
            self._running += 1
        done = threading.Event()
        box: dict[str, Any] = {}

        def lookup() -> None:
            try:
                box["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                box["error"] = exc
            finally:
                with self._lock:
                    self._running -= 1
                done.set()

        threading.Thread(target=lookup, name="posthog_client-dns", daemon=True).start()
        if not done.wait(max(timeout, 0.0)):
            raise socket.gaierror(socket.EAI_AGAIN, f"no answer within {max(timeout, 0):.3g} s")
        if "error" in box:
            raise box["error"]
        infos: list[Any] = box["infos"]
        return infos


_resolver_instance: _Resolver | None = None


def _resolver() -> _Resolver:
    global _resolver_instance
    resolver = _resolver_instance
    if resolver is None or resolver.pid != os.getpid():  # a forked child: a lock of its own
        resolver = _resolver_instance = _Resolver()
    return resolver


def _cut(connections: list[Any], fired: threading.Event) -> None:
    fired.set()
    for conn in list(connections):
        sock = getattr(conn, "sock", None)
        if sock is not None:
            # The plain socket's shutdown, also for TLS: it wakes the blocked reader at once.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


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
        self._wakes_at = float("inf")  # when the watchdog thread will look again

    def arm(self, seconds: float, connections: list[Any], fired: threading.Event) -> int:
        if self._pid != os.getpid():  # forked: the parent's lock and thread are not ours
            self._reset()
        when = time.monotonic() + seconds
        with self._cond:
            token = next(self._ids)
            self._armed[token] = (when, connections, fired)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="posthog_client-deadlines", daemon=True
                )
                self._thread.start()
            if when < self._wakes_at:  # only then: waking the thread per request costs a
                self._wakes_at = when  # GIL hand-over on every send (benchmark: e2e events/s)
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
                    self._wakes_at = float("inf") if soonest is None else soonest
                    self._cond.wait(None if soonest is None else soonest - now)
                    continue
            for _, connections, fired in expired:
                _cut(connections, fired)


_watchdog = _Watchdog()


def send(
    session: requests.Session | Pool,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    params: Mapping[str, str] | None,
    deadline: float,
    while_waiting: Callable[[], None] | None = None,
) -> Answer:
    """One request, through a ``requests`` session (yours, or the fake's) or our own pool.
    ``while_waiting``: work to do once the request is sent, before its answer is read (through
    our own pool only: elsewhere it is not run)."""
    call = _Call(time.monotonic() + deadline, while_waiting)
    fired = threading.Event()
    _local.call = call
    token = _watchdog.arm(deadline, call.connections, fired)
    try:
        if isinstance(session, Pool):
            status, content, answer_headers = session.request(
                method, url, headers, body, params, deadline
            )
        else:
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
                content = _read_capped(response.iter_content(65536), requests.RequestException)
            finally:
                response.close()
            status, answer_headers = response.status_code, response.headers
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        return None, b"", {}, _describe(exc, fired.is_set(), call.sent, deadline), call.sent
    finally:
        _watchdog.disarm(token)
        _local.call = None
    if fired.is_set():
        return None, b"", {}, _describe(None, True, call.sent, deadline), call.sent
    return status, content, answer_headers, None, True


def _describe(exc: BaseException | None, late: bool, sent: bool, deadline: float) -> str:
    """What went wrong, in words a user can act on (never a URL: it may hold a key)."""
    causes = _chain(exc)
    for cause in causes:  # first: a lookup that ran out of time is not a slow server
        if isinstance(cause, NameResolutionError):
            host = getattr(cause, "conn", None)
            name = getattr(host, "host", None) or "the host"
            reason = cause.__cause__ or cause
            return f"dns: could not look up {name} ({reason})"
    if late or isinstance(exc, (requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
        if sent:
            return f"timeout: sent, but no answer within {deadline:g} s (outcome unknown)"
        return f"timeout: no complete exchange within {deadline:g} s"
    if isinstance(exc, (requests.ConnectTimeout, ConnectTimeoutError)):
        return "timeout: could not connect in time"
    if any(
        isinstance(c, (requests.exceptions.SSLError, urllib3.exceptions.SSLError)) for c in causes
    ):
        failures = [str(c) for c in causes if isinstance(c, ssl.SSLError)]
        return f"tls: {failures[0] if failures else 'handshake failed'}"[:300]
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "refused: the host refused the connection"
    # Only the innermost system error: the outer messages carry the URL, which may hold a key.
    errors = [c.strerror for c in causes if isinstance(c, OSError) and c.strerror]
    detail = errors[-1] if errors else (type(exc).__name__ if exc is not None else "no answer")
    if sent:
        return f"connection: lost after the request was sent (outcome unknown): {detail}"
    return f"connection: {detail}"


def _chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and everything it wraps (causes, contexts, urllib3 reasons), at most 20."""
    found: list[BaseException] = []
    stack = [exc]
    while stack and len(found) < 20:
        item = stack.pop()
        if item is None or any(item is seen for seen in found):
            continue
        found.append(item)
        wrapped = (item.__cause__, item.__context__, getattr(item, "reason", None), *item.args)
        stack.extend(w for w in wrapped if isinstance(w, BaseException))
    return found


def _read_capped(chunks: Iterable[bytes], too_large: type[Exception]) -> bytes:
    """The body, read in chunks; ``too_large`` is raised past ``MAX_RESPONSE_BYTES``."""
    read: list[bytes] = []
    size = 0
    for chunk in chunks:
        read.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise too_large("response too large")
    return b"".join(read)
