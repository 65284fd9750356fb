"""``python -m posthog_client``: capture, flags and doctor, run in-process against FakePostHog."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from flag_helpers import PRO_ONLY

from posthog_client._cli.main import main
from posthog_client.testing import FakePostHog


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run(fake: FakePostHog, *argv: str, **env: str) -> Run:
    environ = {
        "POSTHOG_API_KEY": fake.api_key,
        "POSTHOG_PERSONAL_API_KEY": fake.personal_api_key,
        "POSTHOG_HOST": fake.host,
    }
    environ.update(env)
    environ = {k: v for k, v in environ.items() if v}
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), env=environ, stdout=out, stderr=err, session=fake.session())
    return Run(code, out.getvalue(), err.getvalue())


def with_flags(fake: FakePostHog) -> FakePostHog:
    fake.set_flag("beta", payload={"color": "blue"})
    fake.set_flag("pro-only", filters=PRO_ONLY)
    fake.set_flag("sticky", ensure_experience_continuity=True)
    return fake


# -- usage -------------------------------------------------------------------------------------


def test_help_goes_to_stdout(fake: FakePostHog) -> None:
    result = run(fake, "--help")
    assert result.code == 0
    assert "capture" in result.out and "doctor" in result.out and "POSTHOG_API_KEY" in result.out
    for command in ("capture", "flags", "doctor"):
        assert run(fake, command, "--help").code == 0


@pytest.mark.parametrize(
    "argv",
    [
        (),
        ("launch",),
        ("capture", "u1"),
        ("capture", "u1", "ev", "--prop", "no-equals-sign"),
        ("flags", "u1", "--group", "company"),
        ("doctor", "--timeout", "-1"),
    ],
)
def test_usage_errors_exit_2(fake: FakePostHog, argv: tuple[str, ...]) -> None:
    result = run(fake, *argv)
    assert result.code == 2
    assert "usage:" in result.err and result.out == ""


def test_missing_project_key_is_a_usage_error(fake: FakePostHog) -> None:
    result = run(fake, "capture", "u1", "ev", POSTHOG_API_KEY="")
    assert result.code == 2
    assert "POSTHOG_API_KEY is not set" in result.err
    assert fake.requests == []


def test_bad_host_is_a_usage_error(fake: FakePostHog) -> None:
    result = run(fake, "capture", "u1", "ev", "--host", "ftp://example.com")
    assert result.code == 2 and "host must use http or https" in result.err


# -- capture -----------------------------------------------------------------------------------


def test_capture_delivers_and_reports_the_uuid(fake: FakePostHog) -> None:
    result = run(
        fake, "capture", "u1", "signed up", "--prop", "n=3", "--prop", "ok=true",
        "--prop", "plan=pro", "--prop", "tags=[1, 2]", "--prop", "big=1e999",
    )  # fmt: skip
    assert result.code == 0, result.err
    [event] = fake.events.named("signed up")
    assert event.distinct_id == "u1"
    props = event.properties
    assert (props["n"], props["ok"], props["plan"], props["tags"]) == (3, True, "pro", [1, 2])
    assert props["big"] == "1e999"
    assert event.uuid in result.out and "Delivered" in result.out


def test_capture_json_output(fake: FakePostHog) -> None:
    result = run(fake, "capture", "u1", "ping", "--json")
    data = result.json()
    assert data["delivered"] is True and data["error"] is None
    assert data["uuid"] == fake.events.named("ping")[0].uuid


def test_capture_that_is_refused_exits_1_and_says_why(fake: FakePostHog) -> None:
    fake.fail(status=400, times=None, body={"detail": "invalid payload"})
    result = run(fake, "capture", "u1", "ping", "--json")
    assert result.code == 1
    data = result.json()
    assert data["delivered"] is False and "400" in data["error"]


# -- flags -------------------------------------------------------------------------------------


def test_flags_show_local_and_remote_with_reasons(fake: FakePostHog) -> None:
    result = run(with_flags(fake), "flags", "u1")
    assert result.code == 0, result.err
    lines = {line.split()[0]: line for line in result.out.splitlines() if line.strip()}
    assert "true" in lines["beta"] and "locally" in lines["beta"]
    assert '{"color": "blue"}' in lines["beta"]
    assert "remotely" in lines["pro-only"] and "remotely" in lines["sticky"]
    assert "missing_property" in result.out and "'plan'" in result.out
    assert "experience_continuity" in result.out
    assert not any(e.name == "$feature_flag_called" for e in fake.events)


def test_flags_json_output(fake: FakePostHog) -> None:
    result = run(with_flags(fake), "flags", "u1", "--person-prop", "plan=pro", "--json")
    data = result.json()
    assert data["definitions_loaded"] is True and data["remote_error"] is None
    rows = {row["key"]: row for row in data["flags"]}
    assert rows["beta"] == {
        "key": "beta",
        "value": True,
        "payload": {"color": "blue"},
        "evaluated": "locally",
        "reason": "condition 1 matched",
        "unresolved": None,
        "unresolved_detail": None,
    }
    assert rows["pro-only"]["evaluated"] == "locally" and rows["pro-only"]["value"] is True
    assert rows["sticky"]["evaluated"] == "remotely"
    assert rows["sticky"]["unresolved"] == "experience_continuity"
    [remote] = fake.requests_to("/flags/")
    assert remote.json["flag_keys_to_evaluate"] == ["sticky"]  # one request, undecided only


def test_flags_local_only_never_asks_the_server(fake: FakePostHog) -> None:
    result = run(with_flags(fake), "flags", "u1", "--local-only", "--json")
    assert result.code == 0
    rows = {row["key"]: row for row in result.json()["flags"]}
    assert rows["pro-only"]["value"] is None and rows["pro-only"]["evaluated"] is None
    assert rows["pro-only"]["unresolved"] == "missing_property"
    assert fake.requests_to("/flags/") == []


def test_flags_local_only_needs_a_personal_key(fake: FakePostHog) -> None:
    result = run(fake, "flags", "u1", "--local-only", POSTHOG_PERSONAL_API_KEY="")
    assert result.code == 2 and "POSTHOG_PERSONAL_API_KEY" in result.err


def test_flags_without_personal_key_are_all_remote(fake: FakePostHog) -> None:
    no_key = {"POSTHOG_PERSONAL_API_KEY": ""}
    result = run(with_flags(fake), "flags", "u1", "--group", "company=acme", "--json", **no_key)
    rows = {row["key"]: row for row in result.json()["flags"]}
    assert set(rows) == {"beta", "pro-only", "sticky"}
    assert {row["evaluated"] for row in rows.values()} == {"remotely"}
    assert rows["beta"]["payload"] == {"color": "blue"}
    [remote] = fake.requests_to("/flags/")
    assert remote.json["groups"] == {"company": "acme"}
    text = run(fake, "flags", "u1", **no_key).out
    assert "No POSTHOG_PERSONAL_API_KEY" in text


def test_flags_when_the_server_fails_exit_1(fake: FakePostHog) -> None:
    with_flags(fake)
    fake.fail(path="/flags/", status=500, times=None)
    result = run(fake, "flags", "u1")
    assert result.code == 1
    assert "api_error_500" in result.out
    assert "beta" in result.out  # what was decided locally is still shown


def test_flags_with_a_refused_personal_key_say_so(fake: FakePostHog) -> None:
    result = run(with_flags(fake), "flags", "u1", POSTHOG_PERSONAL_API_KEY="phx_wrong")
    assert result.code == 0
    assert "could not be loaded" in result.out and "doctor" in result.out
    assert "refused" in result.err  # the SDK's own log line


# -- doctor ------------------------------------------------------------------------------------


def test_doctor_healthy(fake: FakePostHog) -> None:
    result = run(with_flags(fake), "doctor")
    assert result.code == 0, result.out
    assert "[FAIL]" not in result.out and "All good." in result.out
    assert "project API key was accepted" in result.out
    assert "3 flag definition(s) loaded" in result.out
    assert "sticky" in result.out  # can never be evaluated locally
    assert fake.api_key not in result.out and fake.personal_api_key not in result.out


def test_doctor_json(fake: FakePostHog) -> None:
    data = run(fake, "doctor", "--json").json()
    assert data["ok"] is True
    assert all(c["status"] in ("ok", "info") for c in data["checks"])


def test_doctor_explains_a_refused_project_key(fake: FakePostHog) -> None:
    result = run(fake, "doctor", POSTHOG_API_KEY="phc_wrong")
    assert result.code == 1
    assert "[FAIL] The project API key was refused (401)" in result.out
    assert "region" in result.out  # the fix


def test_doctor_explains_a_refused_personal_key(fake: FakePostHog) -> None:
    result = run(fake, "doctor", POSTHOG_PERSONAL_API_KEY="phx_wrong")
    assert result.code == 1
    assert "project API key was accepted" in result.out
    assert "[FAIL] The personal API key was refused (401)" in result.out
    assert "phx_wrong" not in result.out


def test_doctor_explains_an_unreachable_host(fake: FakePostHog) -> None:
    fake.fail_with("connection", path=None, times=None)
    result = run(fake, "doctor")
    assert result.code == 1
    assert "[FAIL] Cannot reach https://fake.posthog.test" in result.out
    assert "[skip] Personal API key not checked" in result.out


def test_doctor_explains_key_mix_ups(fake: FakePostHog) -> None:
    result = run(fake, "doctor", POSTHOG_API_KEY="phx_test", POSTHOG_PERSONAL_API_KEY="phc_test")
    assert result.code == 1
    assert "POSTHOG_API_KEY is a personal API key" in result.out
    assert "POSTHOG_PERSONAL_API_KEY is a project key" in result.out
    missing = run(fake, "doctor", POSTHOG_API_KEY="")
    assert missing.code == 1 and "POSTHOG_API_KEY is not set" in missing.out


def test_doctor_mentions_app_hosts_and_a_missing_personal_key(fake: FakePostHog) -> None:
    result = run(fake, "doctor", "--host", "eu.posthog.com", POSTHOG_PERSONAL_API_KEY="")
    assert result.code == 0
    assert "eu.posthog.com is PostHog's app (UI) host" in result.out
    assert "eu.i.posthog.com" in result.out
    assert "No POSTHOG_PERSONAL_API_KEY" in result.out


def test_doctor_explains_a_host_that_is_not_posthog(fake: FakePostHog) -> None:
    fake.fail(path="/flags/", status=404, times=None)
    result = run(fake, "doctor")
    assert result.code == 1 and "does not look like PostHog" in result.out


def test_doctor_runs_as_a_module_against_a_real_socket(fake: FakePostHog) -> None:
    with fake.serve() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")}
        env.update(
            POSTHOG_API_KEY=fake.api_key,
            POSTHOG_PERSONAL_API_KEY=fake.personal_api_key,
            POSTHOG_HOST=url,
        )
        done = subprocess.run(
            [sys.executable, "-m", "posthog_client", "doctor", "--timeout", "5"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{url} answered like PostHog" in done.stdout
    assert "All good." in done.stdout
    assert {r.path for r in fake.requests} == {
        "/flags/",
        "/flags/definitions",
        "/i/v1/analytics/events",
    }


def test_doctor_says_which_capture_endpoint_the_host_speaks(fake: FakePostHog) -> None:
    result = run(with_flags(fake), "doctor")
    assert "speaks capture v1" in result.out
    assert not any(r.json and r.json.get("batch") for r in fake.capture_requests)  # no events
    from posthog_client.testing import FakeResponse

    fake.respond_with(lambda request: FakeResponse(404, b""), path="/i/v1/analytics/events")
    result = run(fake, "doctor")
    assert "has no capture v1 endpoint" in result.out and 'capture_mode="v0"' in result.out


def test_version(fake: FakePostHog) -> None:
    from posthog_client import __version__

    result = run(fake, "--version")
    assert result.code == 0 and result.out.strip() == f"posthog-client {__version__}"


@pytest.mark.parametrize(
    ("detail", "advice"),
    [
        ("dns: could not look up nowhere.invalid (Name or service not known)", "does not resolve"),
        ("refused: the host refused the connection", "Nothing accepts connections"),
        ("tls: certificate verify failed", "TLS handshake failed"),
        ("timeout: could not connect in time", "No answer in time"),
        ("connection: ConnectionError", "Check the host name"),
    ],
)
def test_doctor_advice_follows_the_kind_of_connection_failure(detail: str, advice: str) -> None:
    from posthog_client._cli.doctor import _unreachable_fix

    assert advice in _unreachable_fix(detail)
