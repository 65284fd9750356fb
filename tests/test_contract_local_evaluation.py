"""PostHog's SDK contract for local flag evaluation, run through the public API only.

The table is tests/cases/contract_local_evaluation.json (see its "about"): a faithful conversion of
contracts/feature_flags_local_evaluation_tests.yaml from PostHog/posthog-sdk-test-harness, one
parametrized test per getter call (119). Each test builds a fresh FakePostHog serving the case's
definitions, replays the case's earlier steps when the case reloads definitions, makes the call
with ``only_evaluate_locally=True`` (as the contract does) and checks the value, then checks that
nothing was asked of the remote evaluation endpoint (``/flags``, ``/decide``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from posthog_client import Client
from posthog_client.testing import FakePostHog

_TABLE = json.loads(
    (Path(__file__).parent / "cases" / "contract_local_evaluation.json").read_text("utf-8")
)
CASES: list[dict[str, Any]] = _TABLE["cases"]
CALLS: list[tuple[dict[str, Any], int]] = [
    (case, index) for case in CASES for index in range(len(case["calls"]))
]


def _definitions_for(case: dict[str, Any], index: int) -> dict[str, Any]:
    """The definitions in effect for call ``index`` (the last reload at or before it)."""
    defs: dict[str, Any] = case["definitions"]
    for call in case["calls"][: index + 1]:
        defs = call.get("reload_definitions", defs)
    return defs


def _matching_version(case: dict[str, Any], index: int) -> str:
    return str(_definitions_for(case, index).get("property_matching_version", "missing"))


def _call_id(case: dict[str, Any], index: int) -> str:
    call = case["calls"][index]
    ident = f"{case['name']}/{index + 1:02d}-{call['args']['key']}"
    if any("reload_definitions" in c for c in case["calls"]):
        ident += f"-pmv{_matching_version(case, index)}"
    return re.sub(r"[^A-Za-z0-9_./-]", "_", ident)


def _invoke(client: Client, call: dict[str, Any]) -> Any:
    args = dict(call["args"])
    key, distinct_id = args.pop("key"), args.pop("distinct_id")
    method = getattr(client, call["method"])
    # Exposure events are not what the contract checks; they would only add /batch traffic.
    return method(key, distinct_id, send_feature_flag_events=False, **args)


def _remote_requests(fake: FakePostHog, case: dict[str, Any]) -> list[str]:
    forbidden = {path.rstrip("/") for path in case["forbidden_paths"]}
    return [r.path for r in fake.requests if r.path.rstrip("/") in forbidden]


def test_table_matches_the_contract() -> None:
    assert _TABLE["source"]["call_count"] == len(CALLS) == 119
    assert [len(case["calls"]) for case in CASES] == [38, 38, 38, 5]
    assert all("/flags" in case["forbidden_paths"] for case in CASES)
    ids = [_call_id(case, index) for case, index in CALLS]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(("case", "index"), CALLS, ids=[_call_id(c, i) for c, i in CALLS])
def test_contract_local_evaluation(case: dict[str, Any], index: int) -> None:
    fake = FakePostHog(personal_api_key=case.get("init", {}).get("personal_api_key", "phx_test"))
    client: Client | None = None
    try:
        fake.set_definitions(case["definitions"])
        client = fake.client()
        assert client.load_feature_flags(), "the contract's reload_feature_flag_definitions failed"
        value: Any = None
        for step in case["calls"][: index + 1]:
            if "reload_definitions" in step:
                fake.set_definitions(step["reload_definitions"])
                assert client.load_feature_flags(), "reloading definitions failed"
            value = _invoke(client, step)  # earlier calls are replayed for sequence fidelity
        call = case["calls"][index]
        expected = call["expected"]
        remote = _remote_requests(fake, case)
        assert len(remote) == case["expected_flags_request_count"], (
            f"remote evaluation was asked: {remote}"
        )
        assert value == expected and type(value) is type(expected), (
            f"{call['method']}({call['args']}) returned {value!r}, the contract expects "
            f"{expected!r} (property_matching_version={_matching_version(case, index)})"
        )
    finally:
        fake.close()
        if client is not None:
            client.shutdown()
