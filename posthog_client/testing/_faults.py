"""The fake's faults: scripted answers (errors, delays, trickled bytes, 413s, handlers) that let a
test put the SDK through what real networks and servers do."""

from __future__ import annotations

import threading
from typing import Any

from ._records import FakeResponse, Fault, Handler, RecordedRequest


class FaultInjection:
    """Mixed into ``FakePostHog``; its faults live behind the fake's lock."""

    _lock: threading.Condition
    _faults: list[Fault]

    def fail(
        self,
        path: str | None = "capture",
        status: int = 503,
        *,
        times: int | None = 1,
        retry_after: str | float | None = None,
        body: Any = None,
        min_body_bytes: int = 0,
    ) -> None:
        """Answer the next ``times`` requests to ``path`` (``"capture"``: the capture endpoint
        the client uses, v0 or v1; None: any path; ``times=None``: forever) with ``status``,
        optionally with a ``Retry-After`` header and a JSON body."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        payload = {"detail": f"injected {status}"} if body is None else body
        self._add(Fault(path, times, FakeResponse.json(status, payload, **headers), min_body_bytes))

    def fail_with(
        self, error: str = "connection", path: str | None = "capture", *, times: int | None = 1
    ) -> None:
        """Make the next ``times`` requests fail without an answer: ``"connection"`` (refused or
        reset) or ``"timeout"``."""
        if error not in ("connection", "timeout"):
            raise ValueError("error must be 'connection' or 'timeout'")
        self._add(Fault(path, times, FakeResponse(0, error=error)))

    def delay(self, seconds: float, path: str | None = "capture", *, times: int | None = 1) -> None:
        """Answer normally, but only after ``seconds`` (for deadline tests)."""
        self._add(Fault(path, times, FakeResponse(0, error="pass", delay=seconds)))

    def trickle(
        self, seconds_per_byte: float, path: str | None = "capture", *, times: int | None = None
    ) -> None:
        """Answer 200 one byte at a time (loopback server only): a deadline test's worst case."""
        response = FakeResponse.json(200, {"status": 1})
        response.trickle = seconds_per_byte
        self._add(Fault(path, times, response))

    def reject_bodies_over(self, max_bytes: int, path: str = "capture") -> None:
        """Answer 413 to every request whose (decompressed) body is larger than ``max_bytes``."""
        response = FakeResponse.json(413, {"detail": "Request Entity Too Large"})
        self._add(Fault(path, None, response, max_bytes + 1))

    def respond_with(
        self, handler: Handler, path: str | None = None, *, times: int | None = None
    ) -> None:
        """Let ``handler(request)`` answer requests to ``path`` (None: any path): it returns a
        ``FakeResponse``, or None to let the fake answer as usual. Answers are recorded like any
        other (``fake.requests``); ``clear_faults()`` removes the handler."""
        self._add(Fault(path, times, handler=handler))

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _scripted(self, request: RecordedRequest) -> FakeResponse | None:
        """The answer of the first fault or handler that wants this request, if any."""
        with self._lock:
            faults = [f for f in self._faults if f.matches(request.path, len(request.body))]
        for fault in faults:
            response = fault.response if fault.handler is None else fault.handler(request)
            if response is None:
                continue
            with self._lock:
                if fault.times is not None and fault in self._faults:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
            return response
        return None
