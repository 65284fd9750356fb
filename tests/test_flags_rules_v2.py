"""Feature Flag Rules v2 (config version 2) on the wire: PostHog/posthog-sdk-test-harness
``contracts/feature_flag_rules_v2`` fixtures (``tests/cases/feature_flag_rules_v2/``, contract
1.0.0 as stored: response records, tolerant-reader cases, ``$feature_flag_called`` context,
``$experiment_exposure`` properties), served by the fake and read back from the events it got.

The property names and presence follow the official ``posthog`` 7.91.x, which vendors a newer
revision of the same contract (10.0.0). Where the two differ, ``NEWER`` below says how, and the
expectation of the stored fixture is translated: ``$feature_flag_variant`` is named
``$feature_flag_variant_key``; experiment and holdout ids are not sent; ``$experiment_exposure``
leaves the config version, reason code, rule type and source to ``$feature_flag_called``; an
experiment id is not needed for an exposure; a failed record's response is ``None``.
"""

from __future__ import annotations

import copy
import json
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

from posthog_client import Client
from posthog_client.testing import FakePostHog

CASES = pathlib.Path(__file__).parent / "cases" / "feature_flag_rules_v2"
KEY = "garden-layout"
WHO = "invented-reader"
RULE = "10000000-0000-4000-8000-000000000001"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CASES / name).read_text("utf-8"))
    return data


READERS, CALLS = _load("readers.json"), _load("calls.json")
EXPOSURES, TRANSPORT = _load("exposures.json"), _load("event_transport.json")

# How the newer contract (what the official SDK sends) differs from the stored 1.0.0 cases.
NEWER = {"readers.partial_split_missing_experiment_id": {"experiment_exposure": True}}
RENAMED = {"$feature_flag_variant": "$feature_flag_variant_key"}
NOT_SENT = {"$feature_flag_experiment_id", "$feature_flag_holdout_id"}
EXPOSURE_LEAVES_OUT = {
    "$feature_flag_config_version",
    "$feature_flag_reason_code",
    "$feature_flag_rule_type",
    "$experiment_exposure_source",
}
ATTRIBUTION = {
    "$feature_flag",
    "$feature_flag_response",
    "$feature_flag_config_version",
    "$feature_flag_reason_code",
    "$feature_flag_rule_id",
    "$feature_flag_rule_type",
    "$feature_flag_variant_key",
}


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def build(fixture: dict[str, Any], case: dict[str, Any]) -> Any:
    """A case's document: its template, minus ``remove``, plus ``set`` (JSON pointers)."""
    document = copy.deepcopy(fixture["templates"][case["template"]])
    for pointer in case.get("remove", []):
        *parents, last = _tokens(pointer)
        target = document
        for token in parents:
            target = target[token]
        del target[last]
    for pointer, value in case.get("set", {}).items():
        *parents, last = _tokens(pointer)
        target = document
        for token in parents:
            target = target[token]
        target[last] = copy.deepcopy(value)
    return document


def newer(properties: dict[str, Any]) -> dict[str, Any]:
    """A stored ``$feature_flag_called`` expectation, as the newer contract names it."""
    return {RENAMED.get(k, k): v for k, v in properties.items() if k not in NOT_SENT}


def serve(fake: FakePostHog, answer: dict[str, Any]) -> None:
    fake.fail(path="/flags", status=200, body=answer, times=None)


def events(fake: FakePostHog, client: Client, name: str, key: str = KEY) -> list[Any]:
    assert client.flush()
    return [e for e in fake.events.named(name) if e.properties.get("$feature_flag") == key]


def read_snapshot(client: Client, key: str, default: bool) -> Any:
    value = client.evaluate_flags(WHO).get_flag(key)
    return default if value is None else value


def read_getter(client: Client, key: str, default: bool) -> Any:
    value = client.get_feature_flag(key, WHO)
    return default if value is None else value


READER_CASES = [c for c in READERS["cases"] if c["expected"] == "reader"]
READS: dict[str, Callable[[Client, str, bool], Any]] = {
    "snapshot": read_snapshot,
    "getter": read_getter,
}


@pytest.mark.parametrize("read", sorted(READS))
@pytest.mark.parametrize("case", READER_CASES, ids=lambda c: c["id"])
def test_reader_cases(fake: FakePostHog, case: dict[str, Any], read: str) -> None:
    serve(fake, build(READERS, case))
    client = fake.client(personal_api_key=None)
    expectations = {
        case["reader"]["requested_key"]: {**case["reader"], **NEWER.get(case["id"], {})}
    }
    expectations.update(case.get("sibling_expectations", {}))
    for key, expected in expectations.items():
        value = READS[read](client, key, expected.get("caller_default", False))
        if "value" in expected:
            assert value == expected["value"] and type(value) is type(expected["value"])
        [flag_called] = events(fake, client, "$feature_flag_called", key)
        props = flag_called.properties
        exposures = events(fake, client, "$experiment_exposure", key)
        assert len(exposures) == (1 if expected["experiment_exposure"] else 0), key
        version = expected.get("config_version")
        error_code = expected.get("error_code")
        assert props.get("$feature_flag_config_version") == (
            2 if version == 2 and error_code != "PARSE_ERROR" else None
        ), key
        error = props.get("$feature_flag_error", "")
        if error_code == "FLAG_NOT_FOUND":
            assert "flag_missing" in error
        elif error_code == "GENERAL":
            assert "evaluation_failed" in error and props["$feature_flag_response"] is None
        elif error_code == "INVALID_CONTEXT":
            assert props["$feature_flag_reason_code"] == "missing_group_key"
        elif error_code == "PARSE_ERROR":
            assert props["$feature_flag_reason"].startswith("unreadable record")
        for name in (*props, *(p for e in exposures for p in e.properties)):
            if not name.startswith("$feature/"):
                assert not any(part in name for part in ("experiment_id", "holdout", "seed"))


V2_CALLS = [
    name
    for name, template in CALLS["templates"].items()
    if template.get("$feature_flag_config_version") == 2 and name in READERS["templates"]
]


@pytest.mark.parametrize("template", V2_CALLS)
def test_feature_flag_called_context(fake: FakePostHog, template: str) -> None:
    serve(fake, READERS["templates"][template])
    client = fake.client(personal_api_key=None)
    client.evaluate_flags(WHO).get_flag(KEY)
    [event] = events(fake, client, "$feature_flag_called")
    sent = {k: v for k, v in event.properties.items() if k in ATTRIBUTION}
    expected = newer(CALLS["templates"][template])
    if template in ("dependency_error", "error"):  # failed: no value, so no response
        expected["$feature_flag_response"] = None
    assert sent == expected
    assert "$feature_flag_reason" not in event.properties  # the reason code replaces it
    assert event.properties["$feature_flag_id"] == 201
    assert event.properties["$feature_flag_version"] == 7
    assert event.properties["$feature_flag_request_id"] == "20000000-0000-4000-8000-000000000002"
    assert event.properties["$feature_flag_evaluated_at"] == 1800000000000
    assert event.properties["locally_evaluated"] is False


def test_experiment_exposure_properties(fake: FakePostHog) -> None:
    serve(fake, READERS["templates"]["experiment_split"])
    client = fake.client(personal_api_key=None)
    groups = {"company": "garden-club"}
    assert client.evaluate_flags(WHO, groups=groups).get_flag(KEY) is False
    [exposure] = events(fake, client, "$experiment_exposure")
    [flag_called] = events(fake, client, "$feature_flag_called")
    template = TRANSPORT["templates"]["exposure"]["properties"]
    expected = {k: v for k, v in newer(template).items() if k not in EXPOSURE_LEAVES_OUT}
    expected.pop("distinct_id")  # the event's own, not a property
    expected.pop("$lib")  # this SDK's name
    sent = {k: v for k, v in exposure.properties.items() if k in expected}
    assert sent == expected
    assert not EXPOSURE_LEAVES_OUT & set(exposure.properties)
    assert exposure.distinct_id == WHO and exposure.uuid != flag_called.uuid
    split = newer(EXPOSURES["templates"]["split"])
    for name in ("$feature_flag", "$feature_flag_response", "$feature_flag_variant_key"):
        assert exposure.properties[name] == split[name]
    assert flag_called.properties["$feature_flag_variant_key"] == "arm_a"


def test_one_exposure_per_assignment(fake: FakePostHog) -> None:
    split = READERS["templates"]["experiment_split"]
    client = fake.client(personal_api_key=None)
    cases = {c["id"]: c for c in EXPOSURES["cases"]}
    answers = [
        split,
        {**split, "requestId": "20000000-0000-4000-8000-000000000009"},  # same assignment
        _with_metadata(split, build(EXPOSURES, cases["exposures.arm_b_equal_value"])),
        _with_metadata(split, build(EXPOSURES, cases["exposures.successor_experiment"])),
    ]
    for answer in answers:
        fake.clear_faults()
        serve(fake, answer)
        client.evaluate_flags(WHO).get_flag(KEY)
        client.get_feature_flag(KEY, WHO)  # the getters share the dedupe
    exposures = events(fake, client, "$experiment_exposure")
    assert [
        (e.properties["$feature_flag_variant_key"], e.properties["$feature_flag_rule_id"])
        for e in exposures
    ] == [
        ("arm_a", RULE),
        ("arm_b", RULE),
        ("arm_a", "10000000-0000-4000-8000-000000000002"),
    ]
    # Equal-valued arms and successive experiments are each reported, the same one once.
    assert len(events(fake, client, "$feature_flag_called")) == 3


def test_string_split_and_silent_reads(fake: FakePostHog) -> None:
    cases = {c["id"]: c for c in READERS["cases"]}
    answer = build(READERS, cases["readers.complete_split"])
    answer["flags"][KEY]["value"] = "same-copy"
    answer["flags"][KEY]["metadata"]["payload"] = {"columns": 2}
    serve(fake, answer)
    client = fake.client(personal_api_key=None)
    assert client.get_feature_flag_payload(KEY, WHO) == {"columns": 2}
    flags = client.evaluate_flags(WHO)
    assert flags.get_flag_payload(KEY) == {"columns": 2}
    assert flags.get_flag(KEY, send_feature_flag_events=False) == "same-copy"
    assert events(fake, client, "$experiment_exposure") == []  # payloads and opt-outs: silent
    assert flags.is_enabled(KEY) is True
    [exposure] = events(fake, client, "$experiment_exposure")
    assert exposure.properties["$feature_flag_response"] == "same-copy"


def test_unknown_members_and_seeds_never_reach_events(fake: FakePostHog) -> None:
    answer = copy.deepcopy(READERS["templates"]["experiment_split"])
    record = answer["flags"][KEY]
    record["metadata"].update(seed="invented-seed", holdout_seed="s", future={"seed": 1})
    record["assignment_seed"] = "invented-seed"
    answer["future_envelope"] = {"seed": "x"}
    serve(fake, answer)
    client = fake.client(personal_api_key=None)
    client.evaluate_flags(WHO, groups={"company": "garden-club"}).get_flag(KEY)
    assert client.flush()
    sent = [e for e in fake.events if e.name in ("$feature_flag_called", "$experiment_exposure")]
    assert len(sent) == 2
    assert "seed" not in json.dumps(sent)


def test_a_v2_definition_is_left_to_the_server(fake: FakePostHog) -> None:
    definitions = {
        "flags": [{"id": 201, "key": KEY, "active": True, "filters": {"version": 2, "rules": []}}],
        "group_type_mapping": {},
        "cohorts": {},
    }
    fake.set_definitions(definitions)
    fake.set_flag_record(KEY, READERS["templates"]["experiment_split"]["flags"][KEY])
    client = fake.client()
    assert client.evaluate_flags(WHO, only_evaluate_locally=True).keys == []
    flags = client.evaluate_flags(WHO)
    assert flags.get_flag(KEY) is False
    assert flags.explain(KEY).unresolved == "unsupported_definition"
    [exposure] = events(fake, client, "$experiment_exposure")
    assert exposure.properties["locally_evaluated"] is False
    assert len([r for r in fake.requests if r.path.rstrip("/") == "/flags"]) == 1


def _with_metadata(answer: dict[str, Any], exposure: dict[str, Any]) -> dict[str, Any]:
    """The split answer carrying an exposure case's variant and rule."""
    changed = copy.deepcopy(answer)
    meta = changed["flags"][KEY]["metadata"]
    meta["variant_key"] = exposure["$feature_flag_variant"]
    meta["rule_id"] = exposure["$feature_flag_rule_id"]
    return changed


@pytest.mark.parametrize(
    ("record", "value", "payload", "malformed"),
    [
        (
            {"value": 3},
            True,
            "3",
            None,
        ),  # reserved number/object values: on, the value is the payload
        ({"value": {"a": 1}}, True, '{"a":1}', None),
        ({"value": "v", "metadata": {"payload": '{"b": 2}'}}, "v", '{"b": 2}', None),
        ({"value": None}, False, None, None),
        ({"value": [1]}, False, None, "value"),
        ({"value": True, "metadata": {"id": "201"}}, False, None, "metadata.id"),
        ({"value": True, "metadata": {"config_version": 2.0, "id": 201.0}}, True, None, None),
        ({"value": True, "reason": "matched"}, False, None, "reason"),
        ({"enabled": True, "variant": "v", "metadata": {"config_version": 2}}, "v", None, None),
        ({"enabled": True, "variant": 3}, False, None, "variant"),
        ("not a record", False, None, "record"),
    ],
)
def test_records_are_read_tolerantly(
    record: Any, value: Any, payload: Any, malformed: str | None
) -> None:
    from posthog_client._flags.remote import parse_record

    parsed = parse_record(record)
    assert (parsed.value, parsed.payload, parsed.malformed) == (value, payload, malformed)
    if isinstance(record, dict) and "enabled" in record and malformed is None:
        assert parsed.config_version == 1  # an older record is never config version 2


def test_failed_records_have_no_value_anywhere(fake: FakePostHog) -> None:
    answer = copy.deepcopy(READERS["templates"]["error"])
    answer["flags"]["other"] = {"key": "other", "value": True}
    serve(fake, answer)
    client = fake.client(personal_api_key=None)
    assert client.get_all_flags(WHO) == {"other": True}
    assert client.get_feature_flag(KEY, WHO) is None
    result = client.get_feature_flag_result(KEY, WHO, send_feature_flag_events=False)
    assert result is not None and result.value is None
    assert result.error == "errors_while_computing_flags,evaluation_failed"
    flags = client.evaluate_flags(WHO)
    assert flags.keys == ["other"] and flags.is_enabled(KEY, True) is True
    assert flags.explain(KEY).error == "errors_while_computing_flags,evaluation_failed"
