"""Differential test: our local evaluation against the official `posthog` package's.

A seeded generator builds flag definitions (one or two conditions of one or two property
filters, rollouts, variants, both property-matching versions) and inputs, and evaluates each
pair with both SDKs, without network: ours through the pure evaluator, theirs through
`posthog.feature_flags.match_feature_flag_properties` / `match_property`. Outcomes are
three-valued (a value, or "undecided": theirs raises InconclusiveMatchError). Any difference
must be explained by one entry of DEVIATIONS, each a row of the README's table "Where local
evaluation differs from the official SDK"; anything else fails the test.

The default run checks a fast subset; `python3 scripts/test.py -m slow` checks 25,000 pairs.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

posthog_ff = pytest.importorskip("posthog.feature_flags")

from posthog_client._flags.evaluation import evaluate_flag  # noqa: E402
from posthog_client._flags.model import Decided, EvalContext, PropertyFilter  # noqa: E402
from posthog_client._flags.parse import parse_definitions  # noqa: E402
from posthog_client._flags.parse_filters import FilterParser  # noqa: E402
from posthog_client._flags.unresolved import Unknown  # noqa: E402

UNDECIDED = "undecided"
_MISSING = object()

# Each entry: README row name -> predicate(filter, property value or _MISSING). A difference is
# accepted only when the entry's predicate holds for the filter that differs.
_NUMERIC = {"gt", "gte", "lt", "lte"}
_REGEX = {"regex", "not_regex"}
_RUST_WORDS = re.compile(r"[+-]?(inf|infinity|nan)", re.IGNORECASE)


def _is_number_text(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        or (
            isinstance(value, str)
            and re.fullmatch(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", value)
            is not None
        )
    )


DEVIATIONS: dict[str, Callable[[dict[str, Any], object], bool]] = {
    # Null filter values never match (the service's `None => return Ok(false)`).
    "null filter value": lambda f, p: f.get("value") is None,
    # Semver as the service's semver crate reads it.
    "semver": lambda f, p: str(f.get("operator", "")).startswith("semver_"),
    # Dates as the service's chrono/dateparser chain reads them.
    "dates": lambda f, p: str(f.get("operator", "")).startswith("is_date_"),
    # Regexes: RE2 behind a translation and guard, not Python's `re`.
    "regex engine": lambda f, p: f.get("operator") in _REGEX,
    # Rust's f64 parser reads inf/infinity/nan; a non-number filter value is false, not
    # undecided.
    "numbers": lambda f, p: (
        f.get("operator") in _NUMERIC
        and (
            not _is_number_text(f.get("value"))
            or (isinstance(p, str) and _RUST_WORDS.fullmatch(p) is not None)
        )
    ),
    # Operators the service evaluates and the official SDK does not.
    "more operators": lambda f, p: (
        f.get("operator")
        in {"is_date_exact", "between", "not_between", "icontains_multi", "in", "not_in"}
    ),
}
FLAG_DEVIATIONS = {
    # Every filter agrees, the flag does not: an undecided condition is not given up on when
    # it could not change the answer (out of rollout anyway), and does not hide a later match
    # that would give another value (the official SDK returns the later condition's value).
    "three-valued conditions",
}

# --- generator -----------------------------------------------------------------------------------

TEXTS = ["pro", "PRO", "Pro", "free", "true", "TRUE", "false", "FALSE", "banana", "", "null"]
TEXTS += ["NULL", "straße", "STRASSE", "ß", "ss", "İ", "i̇", "é", "É", "٣", "a@example.com"]
NUMBERS_TEXT = ["1", "1.0", "10", "9", "-5", "1e5", "1.", ".5", " 12", "١٢", "inf", "NaN", "abc"]
VERSIONS = ["1.2.3", "v1.2.3", "1.2", "1", "2.0.0", "1.2.3-beta", "1.2.3-beta.2", "1.2.3+b.7"]
VERSIONS += ["01.2.3", "1.2.3.4", "1.10.0", "0.0.3", "0.2.9", "v 1.2.3", "1.2.x"]
DATES = ["2024-06-01", "2024-06-01T10:00:00Z", "2024-06-01 10:00:00+02:00", "2024-1-5"]
DATES += ["2024-001", "June 1, 2024", "1717200000", "-7d", "2024-06-01T10:00", "2023", "-1m"]
PATTERNS = [r"^pro$", r"(?i)^PRO$", r"@example\.com$", r"^\d+$", r"^\d$", r"a{,3}", r"[\d-z]"]
PATTERNS += [r"^(a|a)+$", r"\bpro\b", r"^\w+$", r"foo(?!bar)", r"\s", r"^.{2,5}$", r"[", r"1\.0"]
SCALARS: list[object] = [0, 1, 10, -5, 1.0, 1.5, 1e-7, 2.5e16, True, False, None, 1717200000]
LISTS: list[object] = [
    [],
    [True],
    ["true", "false"],
    ["pro"],
    [1, "a"],
    [[True], "pro"],
    ["FREE", "PRO"],
]
OPERATORS = ["exact", "is_not", "icontains", "not_icontains", "starts_with", "not_ends_with"]
OPERATORS += ["regex", "not_regex", "gt", "gte", "lt", "lte", "is_set", "is_not_set"]
OPERATORS += ["is_date_before", "is_date_after", "semver_eq", "semver_gt", "semver_lte"]
OPERATORS += ["semver_tilde", "semver_caret", "semver_wildcard", "is_date_exact", "between"]


def _any_value(rng: random.Random) -> object:
    pool = rng.choice([TEXTS, NUMBERS_TEXT, VERSIONS, DATES, SCALARS, LISTS, [{"a": 1}]])
    return rng.choice(pool)


def _filter_value(rng: random.Random, operator: str) -> object:
    if rng.random() < 0.04:
        return None
    if operator in _REGEX:
        return rng.choice(PATTERNS) if rng.random() < 0.85 else _any_value(rng)
    if operator in _NUMERIC:
        return rng.choice(NUMBERS_TEXT + SCALARS[:8])  # type: ignore[operator]
    if operator.startswith("semver_"):
        return rng.choice(VERSIONS + ["~1.2.3", "1.*", "*", "1.2.*"])
    if operator.startswith("is_date_"):
        return rng.choice(DATES)
    if operator == "between":
        return rng.choice([[1, 10], [10, 1], ["1", 5], [1]])
    return _any_value(rng)


def _filter(rng: random.Random) -> dict[str, Any]:
    operator = rng.choice(OPERATORS)
    value = _filter_value(rng, operator)
    return {"key": rng.choice(["a", "b"]), "type": "person", "operator": operator, "value": value}


def _case(rng: random.Random, index: int) -> tuple[dict[str, Any], dict[str, Any], int]:
    conditions = []
    for _ in range(1 if rng.random() < 0.7 else 2):
        props = [_filter(rng) for _ in range(1 if rng.random() < 0.75 else 2)]
        conditions.append(
            {"properties": props, "rollout_percentage": rng.choice([None, 100, 50, 0])}
        )
    filters: dict[str, Any] = {"groups": conditions}
    if rng.random() < 0.3:
        halves = [{"key": "c", "rollout_percentage": 50}, {"key": "t", "rollout_percentage": 50}]
        filters["multivariate"] = {"variants": halves}
    flag = {"id": 1, "key": f"f{index}", "active": True, "filters": filters}
    person: dict[str, Any] = {"distinct_id": f"user-{index}"}
    for key in ("a", "b"):
        if rng.random() < 0.85:
            person[key] = _any_value(rng)
    return flag, person, rng.choice([1, 2, 1])


# --- the two evaluators ---------------------------------------------------------------------------


def _ours(flag: dict[str, Any], person: dict[str, Any], version: int, now: datetime) -> object:
    defs = parse_definitions({"flags": [flag], "property_matching_version": version})
    outcome = evaluate_flag(defs, flag["key"], EvalContext(person["distinct_id"], person), now)
    return outcome.value if isinstance(outcome, Decided) else UNDECIDED


def _theirs(flag: dict[str, Any], person: dict[str, Any], version: int) -> object:
    try:
        return posthog_ff.match_feature_flag_properties(
            flag,
            person["distinct_id"],
            person,
            bucketing_value=person["distinct_id"],
            property_matching_version=version,
            cohort_properties={},
            flags_by_key={},
        )
    except (posthog_ff.InconclusiveMatchError, posthog_ff.RequiresServerEvaluation):
        return UNDECIDED


def _filter_outcomes(f: dict[str, Any], person: dict[str, Any], version: int, now: datetime):  # type: ignore[no-untyped-def]
    parsed = FilterParser(version, lambda _: None).filter(f)
    if isinstance(parsed, PropertyFilter):
        value = person.get(parsed.key, _MISSING)
        mine = parsed.on_missing if value is _MISSING else parsed.matcher(value, now)
    else:
        mine = parsed.outcome  # type: ignore[union-attr]
    try:
        theirs: object = posthog_ff.match_property(f, person, version)
    except (posthog_ff.InconclusiveMatchError, posthog_ff.RequiresServerEvaluation):
        theirs = UNDECIDED
    return (UNDECIDED if isinstance(mine, Unknown) else mine), theirs


def _explain(
    flag: dict[str, Any], person: dict[str, Any], version: int, now: datetime
) -> str | None:
    """The deviation that explains a difference, or None."""
    differing = False
    for condition in flag["filters"]["groups"]:
        for f in condition["properties"]:
            mine, theirs = _filter_outcomes(f, person, version, now)
            if mine != theirs:
                differing = True
                value = person.get(f["key"], _MISSING)
                for name, applies in DEVIATIONS.items():
                    if applies(f, value):
                        return name
    if not differing:
        return "three-valued conditions"
    return None


def _run(count: int, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    seen: Counter[str] = Counter()
    for index in range(count):
        flag, person, version = _case(rng, index)
        mine = _ours(flag, person, version, now)
        theirs = _theirs(flag, person, version)
        if mine == theirs and type(mine) is type(theirs):
            seen["same"] += 1
            continue
        why = _explain(flag, person, version, now)
        assert why is not None, (
            f"unexplained difference: ours {mine!r}, official {theirs!r}\n"
            f"flag {flag}\nperson {person}\nproperty_matching_version {version}"
        )
        seen[why] += 1
    return seen


def test_every_deviation_names_a_readme_row() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    for name in [*DEVIATIONS, *FLAG_DEVIATIONS]:
        assert f"| {name} |" in readme, name


def test_local_evaluation_agrees_with_the_official_sdk_fast_subset() -> None:
    seen = _run(1_500, seed=12)
    assert seen["same"] > 700


@pytest.mark.slow
def test_local_evaluation_agrees_with_the_official_sdk() -> None:
    seen = _run(25_000, seed=2026)
    assert sum(seen.values()) == 25_000 and seen["same"] > 12_000
