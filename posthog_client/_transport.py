"""HTTP to a PostHog-compatible host. ``requests`` itself is imported lazily by ``_http`` on
the first request, so ``import posthog_client`` stays cheap; together the two modules are the only
ones that know about ``requests``.
"""

from __future__ import annotations

import gzip as gziplib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._version import VERSION

if TYPE_CHECKING:
    import requests

logger = logging.getLogger("posthog_client")

USER_AGENT = f"posthog-client/{VERSION}"
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


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


def new_session() -> requests.Session:
    """A session with whole-request deadlines (the seam ``FakePostHog.intercept`` replaces)."""
    from . import _http

    return _http.new_session()


class Transport:
    """Sends requests to one host. ``session`` is the seam the fake server plugs into."""

    def __init__(self, host: str, session: requests.Session | None = None) -> None:
        self.host = host
        self._own_session = session is None
        self._session = session

    @property
    def session(self) -> requests.Session:
        session = self._session
        if session is None:  # created on first use: the import of requests waits until then
            session = self._session = new_session()
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
        from . import _http

        return _http.send(self.session, method, self.host + path, headers, body, params, deadline)
