"""The one seam between the SDK and the network: every request to PostHog goes through a
``Transport``, which knows the endpoints, the headers and the one JSON encoder for what is sent.

``requests`` is imported by ``http`` on the first request, so ``import posthog_client`` stays
cheap. ``FakePostHog`` plugs in here, through the session.
"""

from __future__ import annotations

import gzip as gziplib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._version import VERSION
from .encoding import encode

if TYPE_CHECKING:
    import requests

    from . import http

logger = logging.getLogger("posthog_client")

USER_AGENT = f"posthog-client/{VERSION}"

# Every endpoint the SDK speaks, relative to the host (which may carry a path prefix).
BATCH_PATH = "/batch/"
CAPTURE_V1_PATH = "/i/v1/analytics/events"
FLAGS_PATH = "/flags/?v=2"
DEFINITIONS_PATH = "/flags/definitions"


@dataclass(frozen=True)
class HTTPResult:
    """What came back: ``status`` is None when no answer arrived (``error`` says why)."""

    status: int | None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    # The request was written completely: with no answer, PostHog may have it (outcome unknown).
    sent: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        if self.status is None:
            return self.error or "no answer"
        excerpt = self.body[:200].decode("utf-8", "replace").strip()
        return f"HTTP {self.status}" + (f": {excerpt}" if excerpt else "")


_session_factories: list[Callable[[], requests.Session]] = []


@contextmanager
def sessions_from(factory: Callable[[], requests.Session]) -> Iterator[None]:
    """Inside the block, transports created without a session use ``factory()`` (how
    ``FakePostHog.intercept`` catches clients made by code a test does not control)."""
    _session_factories.append(factory)
    try:
        yield
    finally:
        _session_factories.remove(factory)


class Transport:
    """Sends requests to one host: through a ``requests`` session when one is given (yours, or
    ``FakePostHog``'s: the seam the fake plugs into), else through the SDK's own pool."""

    def __init__(self, host: str, session: requests.Session | None = None) -> None:
        # Loaded here, on the thread that makes the client, not on the first request: that is
        # made on a background thread, and a fork (gunicorn --preload, uWSGI) while it imports
        # would leave the child a half-imported module for good.
        from . import http  # noqa: F401

        self.host = host
        self._own_session = session is None
        self._session: requests.Session | http.Pool | None = session

    @property
    def session(self) -> requests.Session | http.Pool:
        session = self._session
        if session is None:  # made on first use: importing requests waits until then
            if _session_factories:
                session = self._session = _session_factories[-1]()
            else:
                from . import http

                session = self._session = http.Pool(self.host)
        return session

    def reset_after_fork(self) -> None:
        """Pooled sockets are shared with the parent after fork: start over with new ones."""
        if self._own_session:
            self._session = None

    def close(self) -> None:
        if self._own_session and self._session is not None:
            try:
                self._session.close()
            except Exception:  # closing is best effort
                logger.debug("posthog_client: error closing the HTTP session", exc_info=True)

    def post(
        self,
        path: str,
        body: bytes,
        *,
        deadline: float,
        compress: bool = False,
        headers: Mapping[str, str] | None = None,
        while_waiting: Callable[[], None] | None = None,
    ) -> HTTPResult:
        """POST an already encoded JSON body (gzipped here when ``compress``). ``while_waiting``
        may run once the body is sent, before the answer is read (see ``http.send``)."""
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        if compress:
            # Level 1: a batch of events compresses to ~14% at level 1 and ~13% at level 6, in
            # 60% of the time (benchmarks: end-to-end events/s, v1 gzip, the default path).
            body = gziplib.compress(body, compresslevel=1, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return self._request("POST", path, headers, body, None, deadline, while_waiting)

    def post_json(self, path: str, payload: object, *, deadline: float) -> HTTPResult:
        """POST ``payload`` encoded as strict JSON (what a strict parser accepts, never NaN)."""
        return self.post(path, encode(payload), deadline=deadline)

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
        while_waiting: Callable[[], None] | None = None,
    ) -> HTTPResult:
        from . import http

        status, content, answer_headers, error, sent = http.send(
            self.session, method, self.host + path, headers, body, params, deadline, while_waiting
        )
        return HTTPResult(status, content, answer_headers, error, sent)
