"""``python -m posthog_client flags-relay`` and ``doctor --store``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from servers import free_port
from test_cli import run
from test_fleet import wait_until

from posthog_client._flags import envelope
from posthog_client.testing import FakePostHog

ROOT = Path(__file__).resolve().parents[1]


def test_the_relay_fills_the_store_for_keyless_processes_and_gives_the_lease_back(
    fake: FakePostHog, redis_port: int
) -> None:
    fake.set_flag("beta")
    prefix = f"relay{os.getpid()}"
    url = f"redis://127.0.0.1:{redis_port}/0?prefix={prefix}"
    lease = f"{prefix}:{{{envelope.project_id(fake.api_key)}}}:lease"
    r = redis.Redis(port=redis_port)
    with fake.serve() as host:
        env = {
            **os.environ,
            "POSTHOG_API_KEY": fake.api_key,
            "POSTHOG_PERSONAL_API_KEY": fake.personal_api_key,
            "POSTHOG_HOST": host,
        }
        command = [sys.executable, "-m", "posthog_client", "flags-relay", "--store", url]
        relay = subprocess.Popen(
            [*command, "--poll-interval", "0.3"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until(lambda: r.get(lease) is not None, 20)
            app = fake.client(personal_api_key=None, definitions_store=url, poll_interval=0.3)
            result = app.get_feature_flag_result("beta", "u1", only_evaluate_locally=True)
            assert result is not None and result.value is True and result.locally_evaluated
            assert app.stats().flags.role == "follower"
        finally:
            relay.send_signal(signal.SIGTERM)
            output, _ = relay.communicate(timeout=20)
    assert relay.returncode == 0, output
    assert r.get(lease) is None  # given back on SIGTERM: a standby takes over at once
    assert "leader (fence 1)" in output and "flags-relay stopped" in output
    assert fake.personal_api_key not in output
    r.close()


def test_the_relay_once_and_doctor_on_the_file_store(fake: FakePostHog, tmp_path: Path) -> None:
    fake.set_flag("beta")
    url = f"file://{tmp_path}"
    relay = run(fake, "flags-relay", "--store", url, "--once", "--poll-interval", "60")
    assert relay.code == 0, relay.err
    assert "flags-relay done" in relay.out and "leader (fence 1)" in relay.out
    doctor = run(fake, "doctor", "--store", url)
    assert "[ok]   Definitions store file://" in doctor.out
    assert "holds 1 flag definition(s) (fence 1), confirmed by PostHog" in doctor.out
    assert "No process holds the lease" in doctor.out  # the relay exited
    assert doctor.code == 0
    (next(tmp_path.glob("*/snapshot"))).write_bytes(b"not a snapshot")
    broken = run(fake, "doctor", "--store", url, POSTHOG_DEFINITIONS_STORE="ignored")
    assert "[FAIL] The store's snapshot is unusable (foreign data" in broken.out


def test_doctor_reports_an_unreachable_or_empty_store(fake: FakePostHog, redis_port: int) -> None:
    refused = run(fake, "doctor", POSTHOG_DEFINITIONS_STORE=f"redis://127.0.0.1:{free_port()}/0")
    assert "[FAIL] Cannot use the definitions store redis://127.0.0.1:" in refused.out
    assert "ConnectionError" in refused.out and refused.code == 1
    empty = run(fake, "doctor", "--store", f"redis://127.0.0.1:{redis_port}/0?prefix=empty")
    assert "[warn] The store holds no flag definitions for this project yet." in empty.out
    assert "flags-relay" in empty.out


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["flags-relay"], {}, "--store"),
        (["flags-relay", "--store", "redis://h:x/0"], {}, "not a valid URL"),
        (["flags-relay", "--store", "file:///tmp/x"], {"POSTHOG_PERSONAL_API_KEY": ""}, "PERSONAL"),
        (["flags-relay", "--store", "file:///tmp/x", "--poll-interval", "0"], {}, "seconds"),
    ],
)
def test_relay_usage_errors(
    fake: FakePostHog, argv: list[str], env: dict[str, str], message: str
) -> None:
    result = run(fake, *argv, **env)
    assert result.code == 2 and message in result.err


def test_the_relay_never_prints_keys(fake: FakePostHog, tmp_path: Any) -> None:
    result = run(fake, "flags-relay", "--store", f"file://{tmp_path}", "--once", "--json")
    assert result.code == 0 and '"role": "leader"' in result.out
    assert fake.personal_api_key not in result.out + result.err
