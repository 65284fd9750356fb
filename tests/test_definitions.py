"""Parsing definitions: malformed input never raises (except one error for a hopeless top level),
bad parts are isolated, good flags survive, and nothing parsed can make evaluation raise."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_client._flags.evaluation import evaluate_flags
from posthog_client._flags.model import (
    EMPTY_DEFINITIONS,
    MAX_DEPTH,
    Decided,
    Definitions,
    EvalContext,
    FixedFilter,
    Undecided,
)
from posthog_client._flags.parse import DefinitionsError, parse_definitions
from posthog_client._flags.unresolved import Unknown, UnresolvedReason

NOW = datetime(2025, 1, 15, tzinfo=timezone.utc)
GOOD: dict[str, Any] = {
    "key": "good",
    "active": True,
    "filters": {"groups": [{"rollout_percentage": 100}]},
}


def evaluate_all(defs: Definitions, ctx: EvalContext | None = None) -> dict[str, Any]:
    return evaluate_flags(defs, ctx or EvalContext("u1"), NOW)


@pytest.mark.parametrize(
    "raw", [None, [], "flags", 3, {}, {"flags": None}, {"flags": {}}, {"flags": "x"}]
)
def test_hopeless_top_level_raises_definitions_error(raw: object) -> None:
    with pytest.raises(DefinitionsError):
        parse_definitions(raw)
    assert issubclass(DefinitionsError, ValueError)


def test_minimal_payload_and_defaults() -> None:
    defs = parse_definitions({"flags": []}, etag='"abc"')
    assert defs.loaded and defs.etag == '"abc"' and dict(defs.flags) == {}
    assert not defs.minimal_flag_called_events
    assert not EMPTY_DEFINITIONS.loaded


def test_bad_flag_entries_are_dropped_and_good_ones_kept() -> None:
    raw: dict[str, Any] = {
        "flags": [None, 7, "x", [], {}, {"key": ""}, {"key": 5}, GOOD, {**GOOD, "active": False}],
        "group_type_mapping": {"0": "company", "x": "bad", "1": 5},
        "cohorts": "nope",
    }
    defs = parse_definitions(raw)
    assert list(defs.flags) == ["good"]  # the duplicate key keeps the first
    assert dict(defs.group_type_mapping) == {0: "company"}
    assert len(defs.problems) == 11  # 7 entries, 1 duplicate, 2 mappings, cohorts
    result = evaluate_all(defs)["good"]
    assert isinstance(result, Decided) and result.value is True


def test_malformed_parts_mark_only_their_flag_unsupported() -> None:
    broken: list[dict[str, Any]] = [
        {"key": "filters", "active": True, "filters": "x"},
        {"key": "groups", "active": True, "filters": {"groups": {}}},
        {
            "key": "variants",
            "active": True,
            "filters": {"multivariate": {"variants": [{"key": 1}]}},
        },
        {"key": "agg", "active": True, "filters": {"aggregation_group_type_index": "0"}},
        {"key": "bucket", "active": True, "bucketing_identifier": "cookie"},
        {"key": "holdout", "active": True, "filters": {"holdout": {"id": True}}},
        {"key": "active", "active": "yes"},
    ]
    defs = parse_definitions({"flags": [*broken, GOOD]})
    results = evaluate_all(defs)
    for flag in broken:
        result = results[str(flag["key"])]
        assert isinstance(result, Undecided), result
        assert result.reason is UnresolvedReason.UNSUPPORTED_DEFINITION
        assert str(flag["key"]) in result.detail
    assert isinstance(results["good"], Decided)


def test_malformed_filters_are_isolated_as_fixed_outcomes() -> None:
    props = [
        "x",
        {"value": 1},
        {"key": "k", "operator": 3},
        {"key": "k", "group_type_index": "0"},
        {"key": "k", "type": "event"},
        {"key": "k", "operator": "unknown_op", "value": 1},
        {"type": "cohort", "value": [1]},
        {"type": "flag", "key": "p", "operator": "exact", "value": True},
    ]
    defs = parse_definitions(
        {"flags": [{"key": "f", "active": True, "filters": {"groups": [{"properties": props}]}}]}
    )
    parsed = defs.flags["f"].conditions[0].properties
    assert all(isinstance(p, FixedFilter) for p in parsed)
    outcomes = [p.outcome for p in parsed if isinstance(p, FixedFilter)]
    assert outcomes[-1] is False  # malformed dependency: definite no-match
    assert all(isinstance(o, Unknown) for o in outcomes[:-1])


def test_payloads_are_kept_as_raw_json_text() -> None:
    flag = {
        "key": "f",
        "active": True,
        "filters": {"payloads": {"true": '{"a": 1}', "b": {"x": [1]}, "c": None, "d": 3}},
    }
    payloads = parse_definitions({"flags": [flag]}).flags["f"].payloads
    assert dict(payloads) == {"true": '{"a": 1}', "b": '{"x": [1]}', "d": "3"}


def test_variant_bounds_are_cumulative_and_overrides_validated() -> None:
    variants = [{"key": k, "rollout_percentage": p} for k, p in (("a", 20), ("b", 30), ("c", 50))]
    flag = {
        "key": "f",
        "active": True,
        "filters": {
            "groups": [{"variant": "b"}, {"variant": "zzz"}],
            "multivariate": {"variants": variants},
        },
    }
    parsed = parse_definitions({"flags": [flag]}).flags["f"]
    assert [(v.lower, v.upper) for v in parsed.variants] == [(0, 0.2), (0.2, 0.5), (0.5, 1.0)]
    assert [c.variant_override for c in parsed.conditions] == ["b", None]


def test_bucketing_identifier_top_level_or_in_filters_and_versions() -> None:
    defs = parse_definitions(
        {
            "flags": [
                {"key": "a", "bucketing_identifier": "device_id"},
                {"key": "b", "filters": {"bucketing_identifier": "device_id"}},
                {"key": "c", "id": 3, "version": 9, "has_experiment": True},
            ],
            "property_matching_version": 2,
            "minimal_flag_called_events": True,
        }
    )
    assert [f.bucketing_identifier for f in defs.flags.values()] == ["device_id"] * 2 + [
        "distinct_id"
    ]
    c = defs.flags["c"]
    assert (c.id, c.version, c.has_experiment) == (3, 9, True)
    assert defs.minimal_flag_called_events


def test_snapshot_is_immutable_and_input_untouched() -> None:
    raw = {"flags": [GOOD], "cohorts": {"1": {"type": "AND", "values": []}}}
    before = copy.deepcopy(raw)
    defs = parse_definitions(raw)
    assert raw == before
    with pytest.raises(TypeError):
        defs.flags["new"] = defs.flags["good"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        defs.etag = "x"  # type: ignore[misc]


def test_deeply_nested_cohorts_are_unsupported_not_a_crash() -> None:
    group: dict[str, Any] = {"type": "AND", "values": [{"key": "k", "value": "v"}]}
    for _ in range(MAX_DEPTH * 3):
        group = {"type": "OR", "values": [group]}
    cohort_ref = {"type": "cohort", "value": 1}
    loops = {"type": "AND", "values": [{"type": "cohort", "value": 2}]}
    defs = parse_definitions(
        {
            "flags": [
                {
                    "key": "deep",
                    "active": True,
                    "filters": {"groups": [{"properties": [cohort_ref]}]},
                },
                {
                    "key": "loop",
                    "active": True,
                    "filters": {"groups": [{"properties": [{"type": "cohort", "value": 2}]}]},
                },
            ],
            "cohorts": {"1": group, "2": loops},
        }
    )
    results = evaluate_all(defs, EvalContext("u", {"k": "v"}))
    assert all(isinstance(r, Undecided) for r in results.values())
    assert {r.reason for r in results.values()} == {UnresolvedReason.UNSUPPORTED_DEFINITION}


# --- fuzzing ----------------------------------------------------------------------------------

HOSTILE = ["\ud800", float("nan"), float("inf"), "9" * 40, 2**64]


def _too_long_to_print() -> int:  # built lazily: hypothesis cannot repr such an int
    return 10**5000


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(HOSTILE)
    | st.builds(_too_long_to_print)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)
OPERATORS = [
    "exact", "is_not", "is_set", "is_not_set", "icontains", "not_icontains", "regex", "not_regex",
    "gt", "gte", "lt", "lte", "is_date_before", "is_date_after", "semver_eq", "semver_tilde",
    "semver_caret", "semver_wildcard", "starts_with", "in", "not_in", "flag_evaluates_to", "bogus",
]  # fmt: skip
KEYS = st.sampled_from(["a", "b", "f0", "f1", "f2", "distinct_id", "$group_key"])
prop_filter = st.fixed_dictionaries(
    {
        "key": KEYS | json_scalars,
        "value": json_values | st.sampled_from(["-1m", "1.2.3", "^(a|a)+$", "2024-01-01", "1"]),
        "operator": st.sampled_from(OPERATORS) | json_scalars,
        "type": st.sampled_from(["person", "group", "cohort", "flag", None, "event"]),
    },
    optional={
        "group_type_index": st.sampled_from([0, 1, 7, None, "0"]),
        "negation": st.booleans(),
        "dependency_chain": st.lists(KEYS, max_size=3) | json_values,
    },
)
condition = st.fixed_dictionaries(
    {},
    optional={
        "properties": st.lists(prop_filter, max_size=3) | json_values,
        "rollout_percentage": st.sampled_from([None, 0, 50, 100, 150, -1, "x"]) | st.floats(),
        "variant": st.sampled_from([None, "a", "b", 3]),
        "aggregation_group_type_index": st.sampled_from([None, 0, 1, 9]),
    },
)
flag = st.fixed_dictionaries(
    {"key": st.sampled_from(["f0", "f1", "f2", "f3"]) | json_scalars},
    optional={
        "active": st.booleans() | json_scalars,
        "ensure_experience_continuity": st.booleans(),
        "bucketing_identifier": st.sampled_from(["device_id", "distinct_id", "x", None]),
        "filters": st.fixed_dictionaries(
            {},
            optional={
                "groups": st.lists(condition, max_size=3) | json_values,
                "multivariate": st.just({"variants": [{"key": "a", "rollout_percentage": 50}]})
                | json_values,
                "aggregation_group_type_index": st.sampled_from([None, 0, 1, 5, True]),
                "holdout": st.just({"id": 1, "exclusion_percentage": 30}) | json_values,
                "payloads": json_values,
                "early_exit": st.booleans(),
                "feature_enrollment": st.booleans(),
                "super_groups": st.lists(condition, max_size=1) | json_values,
            },
        )
        | json_values,
    },
)
definitions = st.fixed_dictionaries(
    {"flags": st.lists(flag | json_values, max_size=4)},
    optional={
        "group_type_mapping": st.just({"0": "company", "1": "team"}) | json_values,
        "cohorts": st.dictionaries(
            st.sampled_from(["1", "2", "3"]),
            st.fixed_dictionaries(
                {"type": st.sampled_from(["AND", "OR", "XOR"]), "values": st.lists(prop_filter)}
            )
            | json_values,
            max_size=3,
        ),
        "property_matching_version": st.sampled_from([1, 2, None, "2", True]),
    },
)
contexts = st.builds(
    EvalContext,
    distinct_id=st.text(max_size=6),
    person_properties=st.dictionaries(KEYS | st.text(max_size=3), json_values, max_size=4),
    groups=st.dictionaries(st.sampled_from(["company", "team"]), st.text(max_size=4), max_size=2),
    group_properties=st.dictionaries(
        st.sampled_from(["company", "team"]),
        st.dictionaries(KEYS, json_values, max_size=3),
        max_size=2,
    ),
    device_id=st.none() | st.text(max_size=4),
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_and_evaluate(raw: object, ctx: EvalContext) -> None:
    try:
        defs = parse_definitions(raw)
    except DefinitionsError:
        return
    results = evaluate_flags(defs, ctx, NOW)
    for key, result in results.items():
        assert result.key == key
        assert isinstance(result, (Decided, Undecided))
        if isinstance(result, Decided):
            assert isinstance(result.value, (bool, str))


@FUZZ
@given(raw=json_values, ctx=contexts)
def test_fuzz_random_json_never_raises(raw: object, ctx: EvalContext) -> None:
    _parse_and_evaluate(raw, ctx)
    _parse_and_evaluate({"flags": [raw]}, ctx)


@FUZZ
@given(raw=definitions, ctx=contexts)
def test_fuzz_definition_shaped_json_never_raises(raw: dict[str, Any], ctx: EvalContext) -> None:
    _parse_and_evaluate(raw, ctx)
    try:  # the same input after a JSON round trip, i.e. what the wire delivers
        wire = json.loads(json.dumps(raw))
    except ValueError:  # an int too long to print cannot be sent anyway
        return
    _parse_and_evaluate(wire, ctx)


def test_hostile_values_neither_raise_nor_guess() -> None:
    huge = 10**5000  # too long for str() under Python's default int_max_str_digits
    lone = "\ud800"  # json.loads('"\\ud800"') produces this
    flags = [
        {"key": lone, "active": True, "filters": {"groups": [{"rollout_percentage": 50}]}},
        {
            "key": "huge",
            "active": True,
            "filters": {"holdout": {"id": huge, "exclusion_percentage": 1}},
        },
        {
            "key": "props",
            "active": True,
            "filters": {
                "groups": [
                    {
                        "properties": [
                            {"key": "n", "operator": "gt", "value": huge},
                            {"key": "r", "operator": "regex", "value": lone},
                            {"type": "cohort", "value": huge},
                            {"key": "s", "operator": "semver_eq", "value": huge},
                        ],
                        "rollout_percentage": huge,
                    }
                ],
                "aggregation_group_type_index": huge,
            },
        },
        {
            "key": "regex",
            "active": True,
            "filters": {
                "groups": [{"properties": [{"key": "r", "operator": "regex", "value": "."}]}]
            },
        },
    ]
    defs = parse_definitions(
        {"flags": flags, "group_type_mapping": {"9" * 5000: "x"}, "cohorts": {"1": {}}}
    )
    nested: list[object] = []
    for _ in range(5000):
        nested = [nested]
    ctx = EvalContext(lone, {"n": huge, "r": lone, "s": huge, "deep": nested}, device_id=lone)
    results = evaluate_all(defs, ctx)
    assert isinstance(results[lone], Decided)
    assert isinstance(results["huge"], Undecided) and isinstance(results["props"], Undecided)
    assert results["regex"] == evaluate_all(defs, ctx)["regex"]  # deterministic
    exact_deep = parse_definitions(
        {
            "flags": [
                {
                    "key": "d",
                    "active": True,
                    "filters": {"groups": [{"properties": [{"key": "deep", "value": []}]}]},
                }
            ],
            "property_matching_version": 2,
        }
    )
    assert isinstance(evaluate_all(exact_deep, ctx)["d"], Decided)
