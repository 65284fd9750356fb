"""Table-driven tests of the pure evaluator: tests/cases/flag_evaluation.json (see its "about")."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from posthog_client._flags.evaluation import evaluate_flag, evaluate_flags
from posthog_client._flags.model import EMPTY_DEFINITIONS, Decided, EvalContext, Undecided
from posthog_client._flags.parse import parse_definitions
from posthog_client._flags.unresolved import UnresolvedReason

_TABLE = json.loads((Path(__file__).parent / "cases" / "flag_evaluation.json").read_text("utf-8"))
CASES: list[dict[str, Any]] = _TABLE["cases"]


def _context(raw: dict[str, Any]) -> EvalContext:
    return EvalContext(
        distinct_id=raw["distinct_id"],
        person_properties=raw.get("person_properties", {}),
        groups=raw.get("groups", {}),
        group_properties=raw.get("group_properties", {}),
        device_id=raw.get("device_id"),
    )


def _run(case: dict[str, Any]) -> Decided | Undecided:
    raw = case["definitions"]
    defs = EMPTY_DEFINITIONS if raw is None else parse_definitions(raw)
    now = datetime.fromisoformat(case["now"].replace("Z", "+00:00"))
    return evaluate_flag(defs, case["flag"], _context(case["context"]), now)


def test_table_is_large_and_named_uniquely() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) >= 80
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_flag_evaluation(case: dict[str, Any]) -> None:
    result = _run(case)
    expected = case["expected"]
    assert result.key == case["flag"]
    if "undecided" in expected:
        assert isinstance(result, Undecided), result
        assert result.reason is UnresolvedReason(expected["undecided"]), result
        assert result.detail  # always says what to pass or fix
        return
    assert isinstance(result, Decided), result
    assert result.value == expected["value"] and type(result.value) is type(expected["value"])
    for field in ("variant", "payload", "reason", "condition_index"):
        if field in expected:
            assert getattr(result, field) == expected[field], (field, result)
    if isinstance(result.value, str):
        assert result.variant == result.value


def test_decided_carries_flag_id_and_version() -> None:
    defs = parse_definitions(
        {
            "flags": [
                {"id": 9, "version": 4, "key": "f", "active": True, "filters": {"groups": [{}]}}
            ]
        }
    )
    result = evaluate_flag(defs, "f", EvalContext("u"), datetime(2025, 1, 1))
    assert isinstance(result, Decided)
    assert (result.flag_id, result.flag_version, result.value) == (9, 4, True)


def test_evaluate_flags_evaluates_everything_in_definition_order() -> None:
    defs = parse_definitions(
        {
            "flags": [
                {"key": "b", "active": True, "filters": {"groups": [{}]}},
                {"key": "a", "active": False},
                {
                    "key": "c",
                    "active": True,
                    "filters": {"groups": [{"properties": [{"key": "p", "value": "x"}]}]},
                },
            ]
        }
    )
    results = evaluate_flags(defs, EvalContext("u"), datetime(2025, 1, 1))
    assert list(results) == ["b", "a", "c"]
    assert [type(r).__name__ for r in results.values()] == ["Decided", "Decided", "Undecided"]
    some = evaluate_flags(defs, EvalContext("u"), datetime(2025, 1, 1), keys=["a", "zz"])
    assert (
        isinstance(some["zz"], Undecided) and some["zz"].reason is UnresolvedReason.FLAG_NOT_FOUND
    )
    empty = evaluate_flags(EMPTY_DEFINITIONS, EvalContext("u"), datetime(2025, 1, 1), keys=["a"])
    assert isinstance(empty["a"], Undecided)
    assert empty["a"].reason is UnresolvedReason.NO_DEFINITIONS


def test_shared_dependency_is_evaluated_once_per_request() -> None:
    dep = {"key": "parent", "type": "flag", "operator": "flag_evaluates_to", "value": True}
    children = [
        {
            "key": f"child{i}",
            "active": True,
            "filters": {"groups": [{"properties": [{**dep, "dependency_chain": ["parent"]}]}]},
        }
        for i in range(3)
    ]
    defs = parse_definitions(
        {"flags": [{"key": "parent", "active": True, "filters": {"groups": [{}]}}, *children]}
    )
    results = evaluate_flags(defs, EvalContext("u"), datetime(2025, 1, 1))
    assert all(isinstance(r, Decided) and r.value is True for r in results.values())


def test_caller_mappings_are_not_mutated() -> None:
    person: dict[str, object] = {"plan": "pro"}
    groups = {"company": "acme"}
    group_props: dict[str, dict[str, object]] = {"company": {}}
    defs = parse_definitions(
        {
            "flags": [
                {
                    "key": "f",
                    "active": True,
                    "filters": {"groups": [{"properties": [{"key": "distinct_id", "value": "u"}]}]},
                }
            ],
            "group_type_mapping": {"0": "company"},
        }
    )
    ctx = EvalContext("u", person, groups, group_props)
    assert isinstance(evaluate_flag(defs, "f", ctx, datetime(2025, 1, 1)), Decided)
    assert person == {"plan": "pro"} and group_props == {"company": {}}


def test_every_flag_of_a_request_is_evaluated_as_on_its_own() -> None:
    # `evaluate_flags` (get_all_flags) takes shortcuts of its own when no flag depends on
    # another: each table case gives the same outcome there, for every flag of its definitions.
    # (With dependencies, the shared cache may word a cycle's detail from the other end.)
    for case in CASES:
        raw = case["definitions"]
        defs = EMPTY_DEFINITIONS if raw is None else parse_definitions(raw)
        if defs.has_dependencies:
            continue
        ctx = _context(case["context"])
        now = datetime.fromisoformat(case["now"].replace("Z", "+00:00"))
        together = evaluate_flags(defs, ctx, now)
        alone = {key: evaluate_flag(defs, key, ctx, now) for key in defs.flags}
        assert together == alone, case["name"]


def test_the_clock_is_read_once_and_only_for_date_filters() -> None:
    def person(key: str, operator: str, value: object) -> dict[str, object]:
        return {"key": key, "operator": operator, "value": value, "type": "person"}

    def flag(key: str, *properties: dict[str, object]) -> dict[str, object]:
        return {"key": key, "active": True, "filters": {"groups": [{"properties": [*properties]}]}}

    dated = parse_definitions(
        {
            "flags": [
                flag("plain", person("plan", "exact", ["pro"])),
                flag("recent", person("signup", "is_date_after", "-30d")),
                flag("old", person("signup", "is_date_before", "2020-01-01")),
            ]
        }
    )
    reads: list[datetime] = []

    def clock() -> datetime:
        reads.append(datetime(2025, 1, 15, tzinfo=timezone.utc))
        return reads[-1]

    ctx = EvalContext("u", {"plan": "pro", "signup": "2025-01-01"})
    assert evaluate_flag(dated, "plain", ctx, clock) == evaluate_flag(
        dated, "plain", ctx, datetime(1999, 1, 1)
    )
    assert reads == []  # no date filter, no clock
    outcomes = evaluate_flags(dated, ctx, clock)
    assert len(reads) == 1  # two date filters, one read
    assert [o.value for o in outcomes.values() if isinstance(o, Decided)] == [True, True, False]
    assert outcomes == evaluate_flags(dated, ctx, reads[0])


def test_flags_sharing_a_cohort_each_read_it_their_way() -> None:
    # A request evaluates a shared cohort once; `not_in` and a missing property still apply.
    cohort = {"type": "AND", "values": [{"key": "plan", "value": ["pro"], "type": "person"}]}

    def flag(key: str, operator: str) -> dict[str, object]:
        member = {"key": "id", "value": 7, "type": "cohort", "operator": operator}
        return {"key": key, "active": True, "filters": {"groups": [{"properties": [member]}]}}

    defs = parse_definitions(
        {"flags": [flag("in", "in"), flag("out", "not_in")], "cohorts": {"7": cohort}}
    )
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    for person, expected in (({"plan": "pro"}, [True, False]), ({"plan": "free"}, [False, True])):
        outcomes = evaluate_flags(defs, EvalContext("u", person), now)
        assert [o.value for o in outcomes.values() if isinstance(o, Decided)] == expected
    missing = evaluate_flags(defs, EvalContext("u"), now)
    assert all(isinstance(o, Undecided) for o in missing.values())
