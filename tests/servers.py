"""Real servers for the tests that need them (gunicorn, uWSGI, redis-server): started on a free
loopback port by the test that uses them, and stopped by it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str = "/", timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
        body: bytes = answer.read()
        return body


def wait_http(port: int, path: str = "/", timeout: float = 20.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return get(port, path, timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def _bin(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


@contextlib.contextmanager
def wsgi_server(
    kind: str,
    app_dir: Path,
    *,
    module: str = "app:application",
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
    log: Path | None = None,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """gunicorn (``--preload``) or uWSGI (app loaded in the master, its default) with
    ``workers`` workers, on a socket the test bound itself (no port race)."""
    exe = _bin(kind)
    if exe is None:
        import pytest

        pytest.skip(f"{kind} is not installed (it is a dev dependency: pip install -e '.[dev]')")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = int(sock.getsockname()[1])
    fd = sock.fileno()
    if kind == "gunicorn":
        command = [exe, "--no-control-socket", "--preload", "-w", str(workers)]
        command += ["--bind", f"fd://{fd}", *extra, module]
    else:
        command = [exe, "--master", "--processes", str(workers), "--need-app", "--enable-threads"]
        command += ["--die-on-term", "--http-socket", f"fd://{fd}", "--module", module, *extra]
    output = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        command,
        cwd=app_dir,
        env={**os.environ, "PYTHONPATH": str(app_dir), **(env or {})},
        pass_fds=[fd],
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    sock.close()
    try:
        wait_http(port, "/health")
        yield process, port
    finally:
        stop(process)
        if log is not None:
            output.close()  # type: ignore[union-attr]


@contextlib.contextmanager
def redis_server(port: int | None = None, args: Sequence[str] = ()) -> Iterator[int]:
    """A throwaway redis-server on a free port, or on ``port`` (skips the test where none is
    installed). ``args`` are extra server options, e.g. ``("--requirepass", "secret")``."""
    exe = _bin("redis-server")
    if exe is None:
        import pytest

        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    for _ in range(5 if port is None else 1):
        chosen = free_port() if port is None else port
        directory = tempfile.mkdtemp(prefix="posthog-redis-")
        command = [exe, "--port", str(chosen), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--daemonize", "no", "--dir", directory, *args]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", chosen), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        break
            except OSError:
                time.sleep(0.01)
        else:
            stop(process, signal.SIGKILL)
            shutil.rmtree(directory, ignore_errors=True)
            continue  # the port was taken: try another
        try:
            yield chosen
        finally:
            stop(process)
            shutil.rmtree(directory, ignore_errors=True)
        return
    raise RuntimeError("could not start redis-server")
