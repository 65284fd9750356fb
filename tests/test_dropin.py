"""Code written for the official ``posthog`` package runs with only the import changed, and
delivers what the official SDK delivers.

``SCRIPT`` is a program of the official SDK's typical calls (the ones in the README's migration
table among them). It runs twice, in fresh processes, against the fake PostHog over loopback HTTP:
once with ``import posthog`` (the official package, 7.91.1, when installed) and once with
``import posthog_client as posthog``. The events both deliver are compared after setting aside
the differences the README lists as deliberate.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import posthog_client
import posthog_client._module
from posthog_client.testing import FakePostHog

SCRIPT = textwrap.dedent(
    """
    import datetime, json, sys

    if sys.argv[2] == "official":
        import posthog
        from posthog import Posthog
    else:
        import posthog_client as posthog
        from posthog_client import Posthog

    HOST = sys.argv[1]
    results = {}

    # module-level configuration, the official SDK's way
    posthog.project_api_key = "phc_test"
    posthog.host = HOST

    # events
    posthog.capture("signed up", distinct_id="u1", properties={"plan": "pro"},
                    groups={"company": "acme"})
    posthog.capture(event="keywords only", distinct_id="u1", properties={"n": 2})
    posthog.capture("geolocated", distinct_id="u1", disable_geoip=False)
    posthog.capture("imported", distinct_id="u1",
                    timestamp=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
                    uuid="0190e9b4-0000-7000-8000-000000000001")
    posthog.capture("anonymous")  # no distinct id anywhere: personless
    posthog.capture("with flags", distinct_id="u1", send_feature_flags=True)
    posthog.set(distinct_id="u1", properties={"email": "ian@example.com"})
    posthog.set_once(distinct_id="u1", properties={"first_seen": "2026-01-01"})
    posthog.alias("anon-1", "u1")
    posthog.group_identify("company", "acme", {"name": "Acme"})

    # request context
    with posthog.new_context():
        posthog.identify_context("ctx-user")
        posthog.set_context_session("session-1")
        posthog.set_context_device_id("device-1")
        context_flags = posthog.evaluate_flags()  # the context's person and device
        results["context_flag"] = context_flags.get_flag("beta", send_feature_flag_events=False)
        posthog.tag("route", "/checkout")
        posthog.capture("checkout started")
        posthog.capture(event="checkout step", properties={"step": 2})
    try:
        with posthog.new_context(capture_exceptions=False):
            raise ValueError("not captured")
    except ValueError:
        pass

    # exceptions
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        posthog.capture_exception(exc, distinct_id="u1", properties={"area": "checkout"})
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise ValueError("outer") from inner
    except ValueError as exc:
        posthog.capture_exception(exception=exc, distinct_id="u1")

    # flags at module level (positional groups, as the official module functions allow)
    results["feature_enabled"] = posthog.feature_enabled("beta", "u1")
    results["get_feature_flag"] = posthog.get_feature_flag("pricing", "u1", {"company": "acme"})
    results["payload"] = posthog.get_feature_flag_payload("beta", "u1")
    results["all"] = posthog.get_all_flags("u1")
    results["all_and_payloads"] = posthog.get_all_flags_and_payloads("u1")
    result = posthog.get_feature_flag_result("pricing", "u3")
    results["result"] = [result.key, result.enabled, result.variant, result.get_value()]

    # the official SDK's newer flag API: one evaluation, many reads
    flags = posthog.evaluate_flags("u4", groups={"company": "acme"})
    results["snapshot"] = [sorted(flags.keys), flags.is_enabled("beta"),
                           flags.get_flag("pricing"), flags.get_flag_payload("beta")]
    posthog.capture("with a snapshot", distinct_id="u4", flags=flags.only_accessed())

    @posthog.scoped()
    def job():
        posthog.identify_context("job-user")
        posthog.capture("job ran")

    job()

    # a client of one's own
    client = Posthog(project_api_key="phc_test", host=HOST, super_properties={"app": "shop"})
    client.capture("client event", distinct_id="u2", properties={"n": 1})
    client.disabled = True
    client.capture("never sent", distinct_id="u2")
    client.disabled = False
    client.debug = True
    client.debug = False
    results["client_flag"] = client.get_feature_flag(
        "pricing", "u2", groups={"company": "acme"}, person_properties={"plan": "pro"},
        send_feature_flag_events=False,
    )
    results["client_enabled"] = client.feature_enabled("beta", "u2", send_feature_flag_events=False)
    client.flush(timeout_seconds=5)
    client.shutdown()
    posthog.flush(timeout_seconds=5)
    posthog.shutdown()
    print(json.dumps(results, sort_keys=True))
    """
)

# Properties that legitimately differ: the library's name and version, system details the
# official SDK adds (and ours does not, or adds to every event), its own bookkeeping, random
# request ids, and the flat $exception_type/$exception_message only posthog_client still sends.
DIFFERENT = {
    "$lib",
    "$lib_version",
    "$os",
    "$os_version",
    "$os_distro",
    "$python_runtime",
    "$python_version",
    "$is_server",
    "$context_tags",
    "$exception_type",
    "$exception_message",
    "$feature_flag_request_id",
    "$feature_flag_has_experiment",
    "$feature_flag_evaluated_at",  # a clock reading (both send it)
}


def run_script(mode: str) -> tuple[list[Any], dict[str, Any]]:
    fake = FakePostHog()
    fake.set_flag("beta", payload={"a": 1})
    fake.set_flag("pricing", variants={"annual": 100})
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")}
    with fake.serve() as url:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, url, mode],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        events = list(fake.events)
    return events, json.loads(done.stdout.strip().splitlines()[-1])


def normalized(event: dict[str, Any]) -> tuple[str, str, str]:
    props = dict(event["properties"])
    for key in ("$set", "$set_once"):  # the official SDK sends them beside the properties (v0)
        if key in event:
            props[key] = event[key]
    props.setdefault("$geoip_disable", False)  # the official SDK leaves it out when False
    for key in DIFFERENT:
        props.pop(key, None)
    if "$active_feature_flags" in props:  # the official SDK does not sort them
        props["$active_feature_flags"] = sorted(props["$active_feature_flags"])
    if "$exception_list" in props:  # frames differ in detail (in-app rules, columns)
        props["$exception_list"] = [
            [e["type"], e["value"], e["mechanism"]] for e in props["$exception_list"]
        ]
    distinct_id = event["distinct_id"]
    if event["event"] == "$groupidentify" and "distinct_id" not in props:
        distinct_id = "<the group's>"  # official: a random id; here: $company_acme (README)
    if props.get("$process_person_profile") is False:
        distinct_id = "<personless>"
    if event["event"] == "imported":
        props["<uuid, timestamp>"] = [event["uuid"], event["timestamp"]]
    return event["event"], distinct_id, json.dumps(props, sort_keys=True)


def test_the_official_programs_calls_deliver_with_posthog_client() -> None:
    events, results = run_script("ours")
    by_name = {e["event"]: e for e in events}
    assert by_name["signed up"]["distinct_id"] == "u1"
    assert by_name["signed up"]["properties"]["$groups"] == {"company": "acme"}
    assert by_name["keywords only"]["properties"]["n"] == 2
    assert by_name["geolocated"]["properties"]["$geoip_disable"] is False
    assert by_name["imported"]["timestamp"] == "2026-01-02T03:04:05+00:00"
    assert by_name["imported"]["uuid"] == "0190e9b4-0000-7000-8000-000000000001"
    assert by_name["anonymous"]["properties"]["$process_person_profile"] is False
    flagged = by_name["with flags"]["properties"]
    assert flagged["$feature/beta"] is True and flagged["$active_feature_flags"] == [
        "beta",
        "pricing",
    ]
    assert by_name["$set"]["properties"]["$set"] == {"email": "ian@example.com"}
    assert by_name["$set_once"]["properties"]["$set_once"] == {"first_seen": "2026-01-01"}
    assert by_name["checkout started"]["distinct_id"] == "ctx-user"
    assert by_name["checkout started"]["properties"]["$session_id"] == "session-1"
    assert by_name["checkout step"]["properties"]["route"] == "/checkout"
    assert by_name["client event"]["properties"]["app"] == "shop"
    assert "never sent" not in by_name
    exceptions = [e for e in events if e["event"] == "$exception"]
    assert [e["properties"]["$exception_list"][0]["value"] for e in exceptions] == [
        "boom",
        "outer",
    ]
    chained = exceptions[1]["properties"]["$exception_list"][1]["mechanism"]
    assert chained["source"] == "cause" and chained["type"] == "chained"
    assert results["feature_enabled"] is True and results["get_feature_flag"] == "annual"
    assert results["payload"] == {"a": 1}
    assert results["all"] == {"beta": True, "pricing": "annual"}
    assert results["all_and_payloads"] == {
        "featureFlags": {"beta": True, "pricing": "annual"},
        "featureFlagPayloads": {"beta": {"a": 1}},  # decoded (the official SDK: JSON text)
    }
    assert results["result"] == ["pricing", True, "annual", "annual"]
    assert results["client_flag"] == "annual" and results["client_enabled"] is True
    assert results["snapshot"] == [["beta", "pricing"], True, "annual", {"a": 1}]
    assert results["context_flag"] is True
    snapshot_event = by_name["with a snapshot"]["properties"]
    assert snapshot_event["$active_feature_flags"] == ["beta", "pricing"]
    assert by_name["job ran"]["distinct_id"] == "job-user"


@pytest.mark.skipif(
    importlib.util.find_spec("posthog") is None, reason="the official posthog package is needed"
)
def test_posthog_client_delivers_what_the_official_sdk_delivers() -> None:
    official_events, official_results = run_script("official")
    our_events, our_results = run_script("ours")
    assert sorted(map(normalized, our_events)) == sorted(map(normalized, official_events))
    payloads = official_results["all_and_payloads"]["featureFlagPayloads"]
    official_results["all_and_payloads"]["featureFlagPayloads"] = {
        key: json.loads(value)
        for key, value in payloads.items()  # ours are decoded
    }
    assert our_results == official_results


# -- what the official SDK does not have, or cannot show against a local server -------------


def test_module_feature_enabled_returns_its_default_without_a_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("POSTHOG_API_KEY", "POSTHOG_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    posthog_client.shutdown()
    monkeypatch.setattr(posthog_client, "api_key", None)
    monkeypatch.setattr(posthog_client, "project_api_key", None)
    monkeypatch.setattr(posthog_client._module, "_warned_no_key", True)
    assert posthog_client.feature_enabled("beta", "u1", default=True) is True
    assert posthog_client.feature_enabled("beta", "u1") is None
    monkeypatch.setattr(posthog_client, "api_key", "phc_test")
    monkeypatch.setattr(posthog_client, "disabled", True)
    assert posthog_client.feature_enabled("beta", "u1", default=True) is True


def test_the_environment_configures_the_module_when_nothing_else_did(
    fake: FakePostHog, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake.patch_module():
        posthog_client.api_key = None  # patch_module restores these
        posthog_client.host = None
        posthog_client.personal_api_key = None
        posthog_client.disabled = None
        monkeypatch.setenv("POSTHOG_API_KEY", fake.api_key)
        monkeypatch.setenv("POSTHOG_HOST", fake.host)
        monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", fake.personal_api_key)
        client = posthog_client.get_client()
        assert client is not None and client.host == fake.host
        assert client._config.personal_api_key == fake.personal_api_key
        assert posthog_client.capture("from the environment", distinct_id="u1")
        assert posthog_client.flush()
        fake.assert_captured("from the environment", distinct_id="u1")
        posthog_client.host = "https://eu.i.posthog.com"  # code wins
        assert posthog_client.get_client().host == "https://eu.i.posthog.com"  # type: ignore[union-attr]
        monkeypatch.setenv("POSTHOG_DISABLED", "true")
        assert posthog_client.get_client() is None
        posthog_client.disabled = False  # code wins
        assert posthog_client.get_client() is not None


def test_host_none_is_the_default_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTHOG_HOST", raising=False)
    client = posthog_client.Posthog(project_api_key="phc_x", host=None, disabled=True)
    assert client.host == "https://us.i.posthog.com"
    monkeypatch.setattr(posthog_client, "host", None)
    assert posthog_client._settings()[1] is None  # the client's default then applies


def test_official_only_options_are_accepted_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = posthog_client.Posthog(
        "phc_x", disabled=True, enable_exception_autocapture=True, thread=2, send=True
    )
    [line] = [r.getMessage() for r in caplog.records if r.name == "posthog_client"]
    assert "enable_exception_autocapture, send, thread" in line
    assert client.disabled
    with pytest.raises(posthog_client.ConfigTypeError, match="unknown option"):
        posthog_client.Posthog("phc_x", not_an_option=1)


def test_the_backend_docs_form_and_the_context_form(fake: FakePostHog) -> None:
    client = fake.client()
    client.capture("u1", "docs form", {"a": 1})
    client.capture("u1", "docs form with keywords", properties={"a": 2}, groups={"g": "k"})
    client.capture("event first", {"a": 3}, distinct_id="u1")
    with client.new_context():
        client.identify_context("ctx")
        client.capture("one argument")
    client.flush()
    names = [(e["event"], e.distinct_id) for e in fake.events]
    assert names == [
        ("docs form", "u1"),
        ("docs form with keywords", "u1"),
        ("event first", "u1"),
        ("one argument", "ctx"),
    ]
    assert fake.events[2].properties["a"] == 3


def test_new_context_can_capture_the_exception_leaving_it(fake: FakePostHog) -> None:
    client = fake.client()
    with pytest.raises(ValueError), client.new_context(capture_exceptions=True):
        client.identify_context("ctx")
        raise ValueError("escaped")
    client.flush()
    [event] = fake.events.named("$exception")
    assert event.distinct_id == "ctx"
    assert event.properties["$exception_list"][0]["value"] == "escaped"


def test_sdk_exception_properties_win_over_the_callers(fake: FakePostHog) -> None:
    client = fake.client()
    try:
        raise ValueError("real")
    except ValueError as exc:
        client.capture_exception(
            exc, "u1", {"$exception_list": [], "$exception_level": "verbose", "area": "x"}
        )
        client.capture_exception(exc, "u1")  # captured once
    client.flush()
    [event] = fake.events
    assert event.properties["$exception_list"][0]["value"] == "real"
    assert event.properties["$exception_level"] == "error"
    assert event.properties["area"] == "x"


def test_a_flag_snapshot_reads_without_asking_again(fake: FakePostHog) -> None:
    fake.set_flag("beta", payload={"a": 1})
    fake.set_flag("off", active=False)
    client = fake.client(personal_api_key=None)  # every flag from the server: one request
    flags = client.evaluate_flags("u1", flag_keys=["beta", "off", "gone"])
    assert len(fake.requests_to("/flags")) == 1
    assert sorted(flags.keys) == ["beta", "off"]
    assert flags.get_flag_payload("beta") == {"a": 1}  # silent
    assert flags.is_enabled("beta") and not flags.is_enabled("off")
    assert flags.is_enabled("gone", default_value=True) is True
    assert flags.get_flag("beta", send_feature_flag_events=False) is True
    assert sorted(flags.only_accessed().keys) == ["beta", "off"]
    assert flags.only(["beta"]).keys == ["beta"]
    assert client.evaluate_flags("u1", flag_keys=[]).keys == []
    client.capture("bought", distinct_id="u1", flags=flags.only(["beta"]))
    client.flush()
    assert len(fake.requests_to("/flags")) == 1  # reading and capturing asked nothing more
    called = fake.events.named("$feature_flag_called")
    assert sorted(
        (e.properties["$feature_flag"], e.properties.get("$feature_flag_error")) for e in called
    ) == [
        ("beta", None),
        ("gone", "flag_missing"),
        ("off", None),
    ]
    [bought] = fake.events.named("bought")
    assert bought.properties["$feature/beta"] is True
    assert bought.properties["$active_feature_flags"] == ["beta"]


def test_the_context_device_id_goes_with_flag_calls(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    client = fake.client(personal_api_key=None)
    with client.new_context():
        client.identify_context("u1")
        client.set_context_device_id("device-1")
        assert client.get_feature_flag("beta", send_feature_flag_events=False) is True
        client.get_feature_flag("beta", device_id="explicit", send_feature_flag_events=False)
    bodies = [r.json for r in fake.requests_to("/flags")]
    assert [b["device_id"] for b in bodies] == ["device-1", "explicit"]
    assert bodies[0]["distinct_id"] == "u1"


def test_disabled_can_be_switched_at_run_time(
    fake: FakePostHog, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_flag("beta")
    client = fake.client(disabled=True)
    assert client.capture("u1", "while disabled") is None
    assert client.feature_enabled("beta", "u1", default=False) is False
    client.disabled = False
    assert client.load_feature_flags()  # the poller starts now
    assert client.get_feature_flag("beta", "u1", only_evaluate_locally=True) is True
    assert client.capture("u1", "enabled again")
    client.disabled = True
    assert client.get_feature_flag("beta", "u1") is None
    client.flush()
    assert fake.events.names() == ["$feature_flag_called", "enabled again"]
    keyless = posthog_client.Client(None)
    keyless.disabled = False
    assert keyless.disabled and "stays disabled" in caplog.text
    client.shutdown()
