"""``debug=True`` says what the SDK does, once per line, wherever the app's logging goes."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from posthog_client import Client
from posthog_client.testing import FakePostHog

PLAN_FLAG = {
    "groups": [
        {
            "properties": [{"key": "plan", "value": "pro", "operator": "exact", "type": "person"}],
            "rollout_percentage": 100,
        }
    ]
}


def debug_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "posthog_client" and r.levelno == logging.DEBUG
    ]


def test_debug_tells_what_the_sdk_does(fake: FakePostHog, caplog: pytest.LogCaptureFixture) -> None:
    fake.set_flag("plan-flag", filters=PLAN_FLAG)
    caplog.set_level(logging.DEBUG, logger="posthog_client")
    client = fake.client(debug=True)
    assert client.load_feature_flags()
    client.capture("u1", "signed up")
    fake.fail(status=503, times=1)
    assert client.flush(timeout=5)
    client.get_feature_flag("plan-flag", "u1", send_feature_flag_events=False)
    lines = "\n".join(debug_lines(caplog))
    assert "loaded 1 flag definition(s)" in lines
    assert "queued 'signed up'" in lines
    assert "sent a batch of 1 event(s)" in lines and "HTTP 503" in lines
    assert "retry in" in lines
    assert "attempt 2: ok" in lines
    assert "flag 'plan-flag' not decided locally (missing_property" in lines
    assert "asking the server" in lines


def test_debug_can_be_switched_at_run_time(fake: FakePostHog) -> None:
    client = fake.client()
    logger = logging.getLogger("posthog_client")
    assert client.debug is False
    client.debug = True
    assert client.debug is True and logger.isEnabledFor(logging.DEBUG)
    client.debug = False
    assert not logger.isEnabledFor(logging.DEBUG)


SCRIPT = """
import logging, sys
{setup}
from posthog_client.testing import FakePostHog
fake = FakePostHog()
client = fake.client(debug=True, personal_api_key=None)
client.capture("u1", "signed up")
client.flush()
fake.close()
"""


@pytest.mark.parametrize(
    ("setup", "stream"),
    [
        ("", "stderr"),  # no logging configured: the SDK's own handler shows the lines
        ("logging.basicConfig(stream=sys.stdout, level=logging.INFO)", "stdout"),  # the app's
    ],
)
def test_each_debug_line_is_printed_once(setup: str, stream: str) -> None:
    code = textwrap.dedent(SCRIPT.format(setup=setup))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = getattr(out, stream)
    assert text.count("queued 'signed up'") == 1, text
    assert text.count("sent a batch of 1 event(s)") == 1, text


def test_a_host_that_is_not_a_url_is_a_config_error() -> None:
    from posthog_client import ConfigError

    with pytest.raises(ConfigError, match="not a valid URL"):
        Client("phc_x", host="not a url")
    assert Client("phc_x", host=None, disabled=True).host == "https://us.i.posthog.com"


def test_a_refused_key_suggests_doctor(fake: FakePostHog, caplog: pytest.LogCaptureFixture) -> None:
    client = fake.client()
    fake.fail(status=401, times=1)
    client.capture("u1", "e")
    assert client.flush(timeout=5) is False
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "HTTP 401" in line and "python -m posthog_client doctor" in line
