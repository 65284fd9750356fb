"""Front end 2: a real HTTP server on 127.0.0.1 that answers from the same routing core.

It exercises what the in-memory adapter cannot: sockets, gzip on the wire, deadlines against a
server that trickles bytes, and callers configured by URL or written in other languages.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from ._fake import FakePostHog
    from ._records import FakeResponse

# The longest a trickled or stalled answer keeps a server thread busy, whatever the client does.
_MAX_STALL = 30.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakePostHog
    log_requests: bool = False
    closing: threading.Event

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that reset its connection (a worker process exiting with a request or an
        answer in flight) is the client's business: no traceback in the test's output."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        answer = self.server.fake.handle(self.command, url.path, query, dict(self.headers), body)
        if self.server.log_requests:
            status = answer.error or answer.status
            line = f"{self.command} {url.path} -> {status} ({len(body)} bytes)"
            print(line, flush=True)  # the path only: a query may hold a key
        if answer.delay and self.server.closing.wait(min(answer.delay, _MAX_STALL)):
            return
        if answer.error == "connection":  # a reset: close with SO_LINGER on and a zero timeout
            with contextlib.suppress(OSError):
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
            self.close_connection = True
            return
        if answer.error == "timeout":  # hold the connection without answering
            self.server.closing.wait(_MAX_STALL)
            self.close_connection = True
            return
        self._answer(answer)

    def _answer(self, answer: FakeResponse) -> None:
        head = [f"HTTP/1.1 {answer.status} {self.responses.get(answer.status, ('',))[0]}"]
        headers = {"Content-Length": str(len(answer.body)), **answer.headers}
        head += [f"{name}: {value}" for name, value in headers.items()]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer.body
        try:
            if answer.trickle:
                deadline = time.monotonic() + _MAX_STALL
                for i in range(len(raw)):
                    self.wfile.write(raw[i : i + 1])
                    self.wfile.flush()
                    if self.server.closing.wait(answer.trickle) or time.monotonic() > deadline:
                        return
            else:
                self.wfile.write(raw)
        except OSError:  # the client gave up (deadline): nothing to do
            self.close_connection = True

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(fake: FakePostHog, port: int = 0, log_requests: bool = False) -> Iterator[str]:
    """Run the fake on 127.0.0.1 (``port=0``: any free port) and yield its base URL."""
    server = _Server(("127.0.0.1", port), _Handler)
    server.fake = fake
    server.log_requests = log_requests
    server.closing = threading.Event()
    thread = threading.Thread(  # a short poll: stopping the server takes no half second
        target=server.serve_forever, args=(0.05,), name="fake-posthog", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{fake.path_prefix}"
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
