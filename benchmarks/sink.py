"""A minimal, fast PostHog capture sink (``/batch/`` and capture v1) on 127.0.0.1, run in its
own process.

``python -m benchmarks.sink`` prints ``PORT <n>`` and serves until its standard input closes
(so it never outlives the process that started it) or ``--lifetime`` seconds pass.

* ``POST <prefix>/batch/``: reads the body, gunzips it if needed, counts the events of its
  ``batch`` array under ``<prefix>`` and answers 200 ``{"status":1}``. Each benchmark run uses
  its own prefix (``host = sink + "/run-<id>"``), so late requests of an earlier run never count.
* ``GET /wait?run=<prefix>&count=<n>&timeout=<s>``: blocks until ``n`` events arrived under
  ``<prefix>`` (or the timeout) and answers ``{"count", "first", "last", "requests"}``, where
  ``first`` and ``last`` are ``time.monotonic()`` readings taken when a batch had been parsed.
  CLOCK_MONOTONIC is system-wide on Linux, so they compare with the SDK process's own clock.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_OK = b'{"status":1}'
_MAX_WAIT = 300.0


@dataclass
class _Run:
    count: int = 0
    requests: int = 0
    first: float = 0.0
    last: float = 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.runs: dict[str, _Run] = {}
        self.changed = threading.Condition()
        self.bad_requests = 0

    def handle_error(self, request: object, client_address: object) -> None:
        # A benchmark process that exits mid-connection is normal here: no traceback.
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


_ENDPOINTS = ("/batch/", "/i/v1/analytics/events")


def _verdicts(events: list[dict[str, object]]) -> bytes:
    results = {str(e.get("uuid")): {"result": "ok"} for e in events}
    return json.dumps({"results": results}).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self, status: int, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        # One write: headers and body in separate segments can meet Nagle and delayed ACKs.
        self.wfile.write(head.encode("ascii") + body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = urlsplit(self.path).path
        endpoint = next((e for e in _ENDPOINTS if path.endswith(e)), None)
        if endpoint is None:
            self.server.bad_requests += 1
            self._reply(404, b'{"detail":"not found"}')
            return
        try:
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            events = json.loads(body)["batch"]
            count = len(events)
            # Capture v1 answers with a verdict per event, as PostHog does.
            answer = _OK if endpoint == "/batch/" else _verdicts(events)
        except (OSError, ValueError, KeyError, TypeError):
            self.server.bad_requests += 1
            self._reply(400, b'{"detail":"bad body"}')
            return
        now = time.monotonic()
        prefix = path[: -len(endpoint)]
        with self.server.changed:
            run = self.server.runs.setdefault(prefix, _Run(first=now))
            run.count += count
            run.requests += 1
            run.last = now
            self.server.changed.notify_all()
        self._reply(200, answer)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        if url.path != "/wait":
            self._reply(404, b'{"detail":"not found"}')
            return
        query = parse_qs(url.query)
        prefix = query.get("run", [""])[0]
        want = int(query.get("count", ["0"])[0])
        timeout = min(float(query.get("timeout", ["60"])[0]), _MAX_WAIT)
        with self.server.changed:
            self.server.changed.wait_for(
                lambda: self.server.runs.get(prefix, _Run()).count >= want, timeout
            )
            run = self.server.runs.get(prefix, _Run())
            answer = {
                "count": run.count,
                "requests": run.requests,
                "first": run.first,
                "last": run.last,
                "bad_requests": self.server.bad_requests,
            }
        self._reply(200, json.dumps(answer).encode())

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def wait_for(sink: str, prefix: str, count: int, timeout: float) -> dict[str, float]:
    """Block until the sink has ``count`` events under ``prefix``; returns its counters."""
    from urllib.request import urlopen

    url = f"{sink}/wait?run={prefix}&count={count}&timeout={timeout}"
    with urlopen(url, timeout=timeout + 10) as answer:  # noqa: S310 - loopback only
        result: dict[str, float] = json.loads(answer.read())
    return result


@contextlib.contextmanager
def sink_process(lifetime: float = 1800.0) -> Iterator[str]:
    """Start the sink in its own process (its CPU is not the SDK's) and yield its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.sink", "--lifetime", str(lifetime)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError(f"the sink did not start: {line!r}")
        yield f"http://127.0.0.1:{line[1]}"
    finally:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifetime", type=float, default=1800.0)
    args = parser.parse_args()
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True)
    thread.start()
    print(f"PORT {server.server_address[1]}", flush=True)
    # Serve until the parent closes our stdin (or dies), bounded by the lifetime.
    reader = threading.Thread(target=sys.stdin.read, daemon=True)
    reader.start()
    reader.join(args.lifetime)
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
