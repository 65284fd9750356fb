"""Every example runs as a script (against the embedded fake PostHog), exits 0, and never
touches the network; the example test file passes under pytest.

``examples/demo.py`` is run by ``test_readme.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(
    path.name
    for path in EXAMPLES.glob("*.py")
    if path.name != "demo.py" and not path.name.startswith("test_")
)
TEST_FILES = sorted(path.name for path in EXAMPLES.glob("test_*.py"))
TIMEOUT = 60

# Loaded at interpreter start-up in every example process: any connection (or name lookup)
# beyond this machine fails loudly, so an example that reaches for the network cannot pass.
NO_NETWORK = """
import socket

_LOCAL = {None, "localhost", "127.0.0.1", "::1", b"localhost", b"127.0.0.1", b"::1"}
_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _check(address):
    if isinstance(address, tuple) and address and address[0] not in _LOCAL:
        raise OSError(f"examples must not use the network (tried {address[0]!r})")


def getaddrinfo(host, *args, **kwargs):
    _check((host,))
    return _getaddrinfo(host, *args, **kwargs)


def connect(self, address):
    _check(address)
    return _connect(self, address)


def connect_ex(self, address):
    _check(address)
    return _connect_ex(self, address)


socket.getaddrinfo = getaddrinfo
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
"""


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    guard = tmp_path_factory.mktemp("offline")
    (guard / "sitecustomize.py").write_text(NO_NETWORK)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("POSTHOG_", "CELERY_"))  # no key: the examples use the fake
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(guard), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def runs(offline_env: dict[str, str]) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Start every example at once (they are independent); each test waits for its own."""
    commands = {name: [sys.executable, str(EXAMPLES / name)] for name in SCRIPTS}
    for name in TEST_FILES:
        commands[name] = [sys.executable, "-m", "pytest", "-q", str(EXAMPLES / name)]
    processes = {
        name: subprocess.Popen(
            command,
            cwd=ROOT,
            env=offline_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, command in commands.items()
    }
    try:
        yield processes
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.communicate()


def finish(process: subprocess.Popen[str]) -> str:
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"timed out after {TIMEOUT} s:\n{output}") from None
    assert process.returncode == 0, output
    return output


def test_there_are_examples() -> None:
    assert {
        "quickstart.py",
        "django_app.py",
        "flask_app.py",
        "fastapi_app.py",
        "celery_task.py",
        "local_flags.py",
        "fleet.py",
    } <= set(SCRIPTS)
    assert TEST_FILES == ["test_with_fake.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_offline(script: str, runs: dict[str, subprocess.Popen[str]]) -> None:
    output = finish(runs[script])
    assert "Traceback" not in output
    if script != "local_flags.py":
        assert "The fake PostHog received" in output


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_example_tests_pass(test_file: str, runs: dict[str, subprocess.Popen[str]]) -> None:
    output = finish(runs[test_file])
    assert " passed" in output and "failed" not in output


def test_the_network_guard_works(offline_env: dict[str, str]) -> None:
    code = "import socket; socket.create_connection(('example.com', 80), timeout=1)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=offline_env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode != 0
    assert "examples must not use the network" in result.stderr
