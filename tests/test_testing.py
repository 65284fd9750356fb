"""posthog_client.testing as a product: both front ends, the standalone server, the pytest
plugin, and assertion messages people can read."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import posthog_client as posthog
from posthog_client import Client
from posthog_client.testing import FakePostHog

pytest_plugins = ["pytester"]


@pytest.fixture(params=["in-memory", "loopback"])
def wired(request: pytest.FixtureRequest, fake: FakePostHog) -> Iterator[Client]:
    """The same client options, through the requests adapter or over real HTTP."""
    if request.param == "in-memory":
        yield fake.client()
    else:
        with fake.serve() as url:
            client = fake.client(host=url, session=None)
            yield client
            client.shutdown(2)


def test_capture_through_both_front_ends(fake: FakePostHog, wired: Client) -> None:
    wired.capture("u1", "signed up", {"plan": "pro"})
    assert wired.flush(timeout=5)
    fake.assert_captured("signed up", distinct_id="u1", properties={"plan": "pro"})
    assert fake.capture_requests[0].header("Content-Encoding") == "gzip"


def test_retries_through_both_front_ends(fake: FakePostHog, wired: Client) -> None:
    fake.fail(status=503, times=1, retry_after=0)
    fake.fail_with("connection", times=1)
    wired.capture("u1", "e")
    assert wired.flush(timeout=10)
    assert [r.status for r in fake.capture_requests] == [503, 0, 200]
    assert len(fake.events) == 1


def test_413_split_through_both_front_ends(fake: FakePostHog, wired: Client) -> None:
    fake.reject_bodies_over(8 * 1024)
    for i in range(40):
        wired.capture("u1", "e", {"pad": f"{i}" + "x" * 500})
    assert wired.flush(timeout=10)
    assert len(fake.events) == 40


def test_flags_through_both_front_ends(fake: FakePostHog, wired: Client) -> None:
    fake.set_flag("beta", payload={"a": 1})
    fake.set_flag("pro", filters={"groups": [{"properties": [{"key": "plan", "value": "pro"}]}]})
    fake.set_remote_flags("u1", {"pro": True})
    assert wired.get_feature_flag_payload("beta", "u1") == {"a": 1}
    result = wired.get_feature_flag_result("pro", "u1")
    assert result is not None and result.value is True and not result.locally_evaluated


def test_assert_captured_explains_the_nearest_event(fake: FakePostHog) -> None:
    client = fake.client()
    client.capture("u1", "signed up", {"plan": "free", "source": "ad"})
    client.capture("u2", "logged in")
    client.flush()
    with pytest.raises(AssertionError) as info:
        fake.assert_captured(
            "signed up", distinct_id="u1", properties={"plan": "pro", "x": 1}, timeout=0
        )
    message = str(info.value)
    assert message.splitlines()[0] == (
        'expected an event \'signed up\' for \'u1\' with {"plan": "pro", "x": 1}; '
        "none of the 2 received events matches."
    )
    assert "Closest: 'signed up' for 'u1':" in message
    assert "  - property 'plan' is 'free', expected 'pro'" in message
    assert "  - property 'x' is missing, expected 1" in message
    assert "Received: 'signed up', 'logged in'" in message


def test_assert_captured_with_nothing_received(fake: FakePostHog) -> None:
    with pytest.raises(AssertionError, match="no events were received"):
        fake.assert_captured("signed up", timeout=0)


def test_events_helpers_and_reset(fake: FakePostHog) -> None:
    client = fake.client()
    client.capture("u1", "a", {"n": 1})
    client.capture("u2", "a", {"n": 2})
    client.capture("u1", "b")
    client.flush()
    assert fake.events.named("a").for_distinct_id("u2").where(n=2)[0].properties["n"] == 2
    assert fake.wait_for_events(3, timeout=1).names() == ["a", "a", "b"]
    fake.reset()
    assert fake.events == [] and fake.capture_requests == []


def test_patch_module_routes_the_module_api(fake: FakePostHog) -> None:
    with fake.patch_module():
        posthog.capture("u1", "from the module")
        posthog.flush()
    fake.assert_captured("from the module", distinct_id="u1")
    assert posthog.get_client() is None or posthog.api_key != fake.api_key


def test_standalone_server_as_a_subprocess() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "posthog_client.testing", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.split(" listening on ")[1].split()[0]
        plain = requests.post(
            f"{url}/batch/",
            json={"api_key": "phc_test", "batch": [{"event": "plain", "distinct_id": "x"}]},
            timeout=5,
        )
        assert plain.status_code == 200
        client = Client("phc_test", host=url)
        client.capture("u1", "from the sdk")
        assert client.shutdown(timeout=5)
        events = requests.get(f"{url}/_fake/events", timeout=5).json()
        assert [e["event"] for e in events] == ["plain", "from the sdk"]
        assert requests.post(f"{url}/_fake/reset", timeout=5).json() == {"reset": True}
        assert requests.get(f"{url}/_fake/events", timeout=5).json() == []
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert "POST /batch/ -> 200" in output  # one line per request
    assert "phc_test" not in output.split("\n", 2)[-1]  # request lines carry no keys


def test_standalone_server_serves_definitions(tmp_path: Any) -> None:
    definitions = {
        "flags": [{"id": 1, "key": "beta", "active": True, "filters": {"groups": [{}]}}],
        "group_type_mapping": {},
        "cohorts": {},
    }
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(definitions))
    process = subprocess.Popen(
        [sys.executable, "-m", "posthog_client.testing", "serve", "--port", "0"]
        + ["--definitions", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(" listening on ")[1].split()[0]
        client = Client("phc_test", host=url, personal_api_key="phx_test")
        assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
        client.shutdown(timeout=5)
    finally:
        process.terminate()
        process.communicate(timeout=10)


PLUGIN_TEST = """
import posthog_client

def test_client_fixture(posthog_client, posthog_fake):
    posthog_client.capture("u1", "signed up", {"plan": "pro"})
    posthog_client.flush()
    posthog_fake.assert_captured("signed up", distinct_id="u1", properties={"plan": "pro"})

def test_module_fixture(posthog_module):
    posthog_client.capture("u2", "from module")
    posthog_client.flush()
    posthog_module.assert_captured("from module", distinct_id="u2")

def test_flags(posthog_fake, posthog_client):
    posthog_fake.set_flag("beta")
    assert posthog_client.feature_enabled("beta", "u1")

def test_fails_readably(posthog_fake, posthog_client):
    posthog_client.capture("u1", "other")
    posthog_client.flush()
    posthog_fake.assert_captured("signed up")
"""


def test_pytest_plugin_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=PLUGIN_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*Closest: 'other' for 'u1':*"])


def test_the_pytest_plugin_imports_nothing_heavy_until_a_fixture_is_used() -> None:
    """It is loaded in every test run of a project that installs the package."""
    import subprocess
    import sys

    heavy = ["requests", "re2", "dateutil", "posthog_client._flags.evaluation"]
    code = (
        "import sys, posthog_client.testing.pytest_plugin;"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_standalone_server_with_a_path_prefix_and_a_short_flags_file(tmp_path: Any) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"beta": True, "pricing": {"variants": {"a": 100}}}))
    process = subprocess.Popen(
        [sys.executable, "-m", "posthog_client.testing", "serve", "--port", "0"]
        + ["--path-prefix", "/ph", "--flags", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(" listening on ")[1].split()[0]
        assert url.endswith("/ph")
        assert "serving 2 feature flag(s)" in process.stdout.readline()
        client = Client("phc_test", host=url, personal_api_key="phx_test")
        assert client.get_all_flags("u1", only_evaluate_locally=True) == {
            "beta": True,
            "pricing": "a",
        }
        client.capture("u1", "through the prefix")
        assert client.shutdown(timeout=5)
        base = url[: -len("/ph")]
        events = requests.get(f"{base}/_fake/events", timeout=5).json()
        assert [e["event"] for e in events] == ["through the prefix"]
        assert requests.post(f"{base}/batch/", json={}, timeout=5).status_code == 404
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_short_flags_format() -> None:
    from posthog_client.testing._flagfile import apply

    fake = FakePostHog()
    data = {
        "on": True,
        "off": False,
        "half": 50,
        "multi": {"variants": {"a": 50, "b": 50}, "payload": {"a": {"x": 1}}},
        "banner": {"payload": {"text": "hi"}},
        "company": {"group_type": "company"},
    }
    assert apply(fake, data) == (6, ())
    client = fake.client()
    flags = client.get_all_flags("u1", groups={"company": "acme"}, only_evaluate_locally=True)
    assert flags["on"] is True and flags["off"] is False and flags["company"] is True
    assert flags["multi"] in ("a", "b") and isinstance(flags["half"], bool)
    assert client.get_feature_flag_payload("banner", "u1") == {"text": "hi"}
    fake.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        ("{not json", "not valid JSON (line 1, column 2"),
        ("[1, 2]", "expected a JSON object"),
        ('{"beta": "yes"}', "flag 'beta': expected true, false, a rollout percentage"),
        ('{"beta": 150}', "a percentage must be a number from 0 to 100, got 150"),
        ('{"beta": {"rolout": 5}}', "unknown field 'rolout'"),
    ],
)
def test_a_bad_flags_file_is_one_line(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    from posthog_client.testing.__main__ import main

    path = tmp_path / "flags.json"
    if content is not None:
        path.write_text(content)
    assert main(["serve", "--port", "0", "--flags", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from posthog_client.testing.__main__ import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {port} is in use" in err


@pytest.mark.parametrize(
    ("error", "shown"),
    [(ConnectionResetError(), False), (BrokenPipeError(), False), (KeyError(), True)],
)
def test_the_loopback_server_is_quiet_about_clients_that_drop_their_connection(
    error: Exception, shown: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker process that exits with a request in flight resets its connection: not the
    fake's error, so no traceback in the test's output; a real error still shows."""
    from posthog_client.testing._server import _Handler, _Server

    server = _Server(("127.0.0.1", 0), _Handler)
    try:
        try:
            raise error
        except Exception:
            server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    assert ("Traceback" in capsys.readouterr().err) is shown
