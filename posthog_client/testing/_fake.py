"""The fake PostHog's routing core: every front end (in-memory adapter, loopback server) calls
``FakePostHog.handle`` and gets a ``FakeResponse`` back."""

from __future__ import annotations

import dataclasses
import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._capture import CAPTURE_PATHS, CaptureRoutes
from ._faults import FaultInjection
from ._flagserver import FlagRoutes
from ._records import (
    Event,
    EventList,
    FakeResponse,
    Fault,
    RecordedRequest,
    parse_strict_json,
)

if TYPE_CHECKING:
    import requests as http

    from .._client import Client

DEFAULT_HOST = "https://fake.posthog.test"
# Not PostHog's: lets a process that is not the test (an app, another language) read the fake.
CONTROL_PREFIX = "/_fake/"


class FakePostHog(CaptureRoutes, FaultInjection, FlagRoutes):
    """An in-memory PostHog for tests: records what the SDK sends and answers like PostHog.

    >>> fake = FakePostHog()
    >>> client = fake.client()
    >>> client.capture("user-1", "signed up")  # doctest: +ELLIPSIS
    '...'
    >>> client.flush()
    True
    >>> fake.events.names()
    ['signed up']
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(
        self,
        api_key: str = "phc_test",
        personal_api_key: str = "phx_test",
        host: str = DEFAULT_HOST,
    ) -> None:
        self.api_key = api_key
        self.personal_api_key = personal_api_key
        self.host = host
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._events: list[Event] = []
        self._faults: list[Fault] = []
        self._clients: list[Client] = []
        self._routes = {**self._init_capture(), **self._init_flags()}

    # -- routing core ----------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> FakeResponse:
        """Answer one request. Both front ends call this; tests may call it directly."""
        if path.startswith(CONTROL_PREFIX):
            return self._control(method, path)
        wire_path, path = path, self._unprefixed(path)
        raw = body
        encoding = {k.lower(): v for k, v in headers.items()}.get("content-encoding", "").lower()
        try:
            if encoding == "gzip":
                raw = gzip.decompress(body)
            elif encoding == "deflate":
                raw = zlib.decompress(body)
        except (OSError, zlib.error, EOFError):
            detail = {"type": "validation_error", "detail": "body is not valid " + encoding}
            broken = RecordedRequest(method, path, dict(query), dict(headers), body)
            return self._record_request(broken, FakeResponse.json(400, detail))
        try:
            parsed = parse_strict_json(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            parsed = None
        request = RecordedRequest(method, path, dict(query), dict(headers), raw, parsed)
        scripted = self._scripted(request)
        if scripted is not None and scripted.error != "pass":
            return self._record_request(request, scripted)
        route = self._routes.get((method, path.rstrip("/")))
        if route is None:
            detail = {"detail": f"fake PostHog has no {method} {wire_path}"}
            response = FakeResponse.json(404, detail)
        else:
            response = route(request)
        if scripted is not None:
            response.delay = scripted.delay
        return self._record_request(request, response)

    @property
    def path_prefix(self) -> str:
        """The path part of ``host`` (a proxy prefix such as ``/ph``): requests must carry it."""
        return urlsplit(self.host).path.rstrip("/")

    def _unprefixed(self, path: str) -> str:
        prefix = self.path_prefix
        if not prefix or path.startswith(prefix + "/"):
            return path[len(prefix) :]
        return "/_missing_prefix" + path  # answered 404 like any unknown path

    def _control(self, method: str, path: str) -> FakeResponse:
        """``GET /_fake/events``, ``GET /_fake/requests``, ``POST /_fake/reset`` (not recorded)."""
        name = path[len(CONTROL_PREFIX) :].strip("/")
        if (method, name) == ("GET", "events"):
            return FakeResponse.json(200, list(self.events))
        if (method, name) == ("GET", "requests"):
            summary = [
                {"method": r.method, "path": r.path, "status": r.status, "events": len(r.events)}
                for r in self.requests
            ]
            return FakeResponse.json(200, summary)
        if (method, name) == ("POST", "reset"):
            self.reset()
            return FakeResponse.json(200, {"reset": True})
        return FakeResponse.json(404, {"detail": f"no control endpoint {method} {path}"})

    def _record_request(self, request: RecordedRequest, response: FakeResponse) -> FakeResponse:
        ok = 200 <= response.status < 300 and response.error is None
        events = response.events if ok else ()
        status = 0 if response.error else response.status
        stamped = dataclasses.replace(request, status=status, at=time.monotonic(), events=events)
        with self._lock:
            self._requests.append(stamped)
            self._events.extend(events)
            self._lock.notify_all()
        return response

    # -- what was received ---------------------------------------------------------------------

    @property
    def events(self) -> EventList:
        """Every event accepted so far, in arrival order (a copy)."""
        with self._lock:
            return EventList(self._events)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def capture_requests(self) -> list[RecordedRequest]:
        """The requests that carried events (to ``/batch/`` or capture v1), in arrival order."""
        return [r for r in self.requests if r.path.rstrip("/") in CAPTURE_PATHS]

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.rstrip("/") == path.rstrip("/")]

    def wait_for_events(self, count: int, timeout: float = 5.0) -> EventList:
        """Block until at least ``count`` events arrived (or ``timeout``); returns the events."""
        self._wait(lambda: len(self._events) >= count, timeout)
        return self.events

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        self._wait(lambda: len(self._requests) >= count, timeout)
        return self.requests

    def _wait(self, condition: Callable[[], bool], timeout: float) -> None:
        with self._lock:
            self._lock.wait_for(condition, timeout)

    def assert_captured(
        self,
        event: str,
        distinct_id: object = None,
        properties: Mapping[str, Any] | None = None,
        *,
        timeout: float = 2.0,
    ) -> Event:
        """Assert that an event named ``event`` (for ``distinct_id``, with at least these
        ``properties``) was received, and return it. Events are delivered in the background,
        so it waits up to ``timeout`` for one to arrive (on a condition, not a sleep). On failure
        the message shows the closest event that was received and how it differs."""
        from ._assertions import find_or_explain, matches

        wanted = properties or {}
        self._wait(
            lambda: any(matches(Event(e), event, distinct_id, wanted) for e in self._events),
            timeout,
        )
        return find_or_explain(self.events, event, distinct_id, wanted)

    def reset(self) -> None:
        """Forget recorded requests, events and faults (flag definitions stay)."""
        with self._lock:
            self._requests.clear()
            self._events.clear()
            self._faults.clear()

    # -- wiring ----------------------------------------------------------------------------------

    def session(self) -> http.Session:
        """A ``requests.Session`` whose every request (http and https) is answered in memory."""
        import requests as http

        from ._adapter import FakeAdapter

        session = http.Session()
        adapter = FakeAdapter(self)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def serve(self, port: int = 0, *, log_requests: bool = False) -> AbstractContextManager[str]:
        """Serve this fake over real HTTP on 127.0.0.1 (``port=0``: any free port).

        ``with fake.serve() as url: client = fake.client(host=url, session=None)``
        """
        from ._server import serve

        return serve(self, port, log_requests)

    def client(self, **options: Any) -> Client:
        """A ``Client`` wired to this fake (fast flush interval, tiny retry delays).

        It is shut down by ``close()``; options override the test-friendly defaults.
        """
        from .._client import Client

        api_key = options.pop("api_key", self.api_key)
        settings: dict[str, Any] = {
            "host": self.host,
            "personal_api_key": self.personal_api_key,
            "session": self.session(),
            "flush_interval": 0.01,
            "retry_base_delay": 0.01,
            "retry_max_delay": 0.05,
            "exit_timeout": 1.0,
            **options,
        }
        client = Client(api_key, **settings)
        self._clients.append(client)
        return client

    @contextmanager
    def intercept(self) -> Iterator[FakePostHog]:
        """Inside the block, every ``Client`` created without a ``session`` (by code you do not
        control, say) sends to this fake, whatever its host."""
        from .._delivery.transport import sessions_from

        with sessions_from(self.session):
            yield self

    @contextmanager
    def patch_module(self, **settings: Any) -> Iterator[FakePostHog]:
        """Route the module-level API (``posthog_client.capture`` ...) to this fake inside the
        block; the module's settings are restored afterwards. ``settings`` override module
        attributes (``sync_mode=True``, say)."""
        import posthog_client as module

        saved = {name: getattr(module, name) for name in (*module._SETTINGS, "disabled")}
        module.shutdown()
        module.api_key, module.host = self.api_key, self.host
        module.personal_api_key, module.session = self.personal_api_key, self.session()
        module.project_api_key = module.secret_key = None  # the official names would win
        module.disabled = False
        for name, value in settings.items():
            setattr(module, name, value)
        try:
            yield self
        finally:
            module.shutdown(timeout=2.0)
            for name, value in saved.items():
                setattr(module, name, value)

    def close(self) -> None:
        """Shut down the clients made by ``client()``."""
        clients, self._clients = self._clients, []
        for client in clients:
            client.shutdown(timeout=2.0)

    def __enter__(self) -> FakePostHog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
