"""Unit tests of the property operators and their operand parsers (pure functions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from posthog_client._flags.operands import (
    VersionRange,
    caret_range,
    parse_date_operand,
    parse_datetime,
    parse_semver,
    tilde_range,
    wildcard_range,
)
from posthog_client._flags.operators import (
    MAX_REGEX_SUBJECT,
    Matcher,
    as_text,
    build_matcher,
    is_truthy,
    outcome_for_none,
    to_number,
)
from posthog_client._flags.unresolved import Outcome, Unknown, UnresolvedReason

UTC = timezone.utc
NOW = datetime(2025, 3, 31, 12, 0, tzinfo=UTC)


def match(operator: str, value: object, prop: object, version: int = 1) -> Outcome:
    matcher = build_matcher(operator, value, version)
    assert not isinstance(matcher, Unknown), matcher
    return matcher(prop, NOW)


def compiled(operator: str, value: object, version: int = 1) -> Matcher:
    matcher = build_matcher(operator, value, version)
    assert not isinstance(matcher, Unknown), matcher
    return matcher


def reason(outcome: Outcome | Matcher) -> UnresolvedReason:
    assert isinstance(outcome, Unknown), outcome
    return outcome.reason


# --- exact / is_not and property_matching_version ---------------------------------------------

# (filter value, property value, version 1 (§2.5), version 2 (explicit)). The version-2 column is
# PostHog's published table (posthog-js core tests for propertyMatchingVersion, PostHog PR #90694).
EXACT_TABLE = [
    (False, "banana", False, False),
    (False, 0, False, False),
    (["true", "false"], "true", True, True),
    (["true", "false"], "pro", False, False),
    ([], True, False, True),
    ([], [], False, True),
    (True, [True], False, False),
    (False, "FALSE", True, True),
    (False, "", False, False),
    ([], [True, ["TRUE", []]], False, True),
    ([], [True, False], False, False),
    ([], False, False, False),
    ([], 0, False, False),
    ([], "banana", False, False),
    ([True, "PRO"], "TRUE", True, True),
    ([False, "PRO"], "banana", False, False),
    (["FREE", "PRO"], "pro", True, True),
    ("Ä", "ä", True, True),
    ([1, "PRO"], "1", True, True),
]


@pytest.mark.parametrize(("value", "prop", "v1", "v2"), EXACT_TABLE)
def test_exact_and_is_not_by_matching_version(
    value: object, prop: object, v1: bool, v2: bool
) -> None:
    for version, expected in ((1, v1), (2, v2), (3, v1)):
        assert match("exact", value, prop, version) is expected, version
        assert match("is_not", value, prop, version) is (not expected), version


def test_none_property_outcomes() -> None:
    # False for every operator except is_not (posthog-python); is_set follows the server.
    assert outcome_for_none("exact", compiled("exact", False)) is False
    assert outcome_for_none("is_not", compiled("is_not", False)) is True
    assert outcome_for_none("is_not", compiled("is_not", [], 2)) is True
    assert outcome_for_none("gt", compiled("gt", 1)) is False
    assert outcome_for_none("is_set", compiled("is_set", None)) is True
    assert outcome_for_none("is_not_set", compiled("is_not_set", None)) is False


def test_as_text_and_truthiness() -> None:
    assert [as_text(v) for v in ("x", True, False, None, 1, 1.5)] == [
        "x",
        "true",
        "false",
        "null",
        "1",
        "1.5",
    ]
    assert as_text({"b": 1, "a": [True, None]}) == '{"a":[true,null],"b":1}'
    cyclic: list[object] = []
    cyclic.append(cyclic)
    # Mixed key types (unsortable), cycles and huge ints cannot be spelled: no error, no match.
    for odd in ({1: "x", "a": 2}, cyclic, [10**5000]):
        assert as_text(odd).startswith("<unprintable")
    assert as_text(10**5000) == "<int>"
    assert is_truthy(True) and is_truthy("TRUE") and is_truthy([]) and is_truthy([[], "true"])
    falsy: tuple[object, ...] = (False, "yes", 1, None, [True, 0], {})
    assert not any(is_truthy(v) for v in falsy)


# --- text operators ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "prop", "expected"),
    [
        ("icontains", "ELL", "hello", True),
        ("icontains", "straße", "STRASSE", True),  # casefold, not lower
        ("not_icontains", "ell", "HELLO", False),
        ("starts_with", "He", "hello", True),
        ("not_starts_with", "he", "hello", False),
        ("ends_with", "LO", "hello", True),
        ("not_ends_with", "x", "hello", True),
        ("icontains", 42, 1423, True),
        ("icontains", "tru", True, True),
    ],
)
def test_text_operators(operator: str, value: object, prop: object, expected: bool) -> None:
    assert match(operator, value, prop) is expected


def test_text_operator_with_a_list_value_is_unsupported() -> None:
    assert reason(build_matcher("icontains", ["a"])) is UnresolvedReason.UNSUPPORTED_DEFINITION


# --- regex ------------------------------------------------------------------------------------


def test_regex_basics() -> None:
    assert match("regex", r"^\d{3}-\d{4}$", "555-1234") is True
    assert match("regex", "b", "abc") is True  # search, not fullmatch
    assert match("not_regex", "z", "abc") is True
    assert match("regex", "^true$", True) is True  # booleans are spelled as JSON
    assert match("regex", "[", "[") is False and match("not_regex", "[", "x") is False


def test_regex_syntax_rre2_cannot_run_is_left_to_the_server() -> None:
    for pattern in (r"foo(?!bar)", r"(?<=a)b", r"(x)\1"):
        assert reason(build_matcher("regex", pattern)) is UnresolvedReason.UNSUPPORTED_DEFINITION


def test_regex_redos_pattern_runs_in_linear_time() -> None:
    # Catastrophic for a backtracking engine (seconds at 25 characters); RE2 is linear.
    assert match("regex", "^(a|a)+$", "a" * 10000 + "!") is False
    assert match("not_regex", "^(a|a)+$", "a" * 10000 + "!") is True
    assert match("regex", "^(a+)+$", "a" * 10000) is True


def test_regex_subject_and_pattern_are_capped() -> None:
    too_long = match("regex", "a", "a" * (MAX_REGEX_SUBJECT + 1))
    assert reason(too_long) is UnresolvedReason.INVALID_PROPERTY_VALUE
    assert reason(build_matcher("regex", "a" * 5000)) is UnresolvedReason.UNSUPPORTED_DEFINITION


# --- numbers ----------------------------------------------------------------------------------


def test_to_number() -> None:
    assert [to_number(v) for v in (1, 2.5, "3", "-4.5e1", Decimal("1.5"))] == [1, 2.5, 3, -45, 1.5]
    assert all(to_number(v) is None for v in (True, None, "", " 1", "1_000", "abc", [1], 10**400))


@pytest.mark.parametrize(
    ("operator", "value", "prop", "expected"),
    [
        ("gt", "10", "9", False),  # numeric, not lexicographic
        ("lt", "10", "9", True),
        ("gt", 10, 10.5, True),
        ("gte", "10", 10, True),
        ("lt", 0, -1, True),
        ("lte", 1.5, "1.5", True),
        ("gt", 1, "nope", False),
        ("gt", 0, True, False),
        ("gt", "abc", "abd", False),
        ("gt", 1, float("nan"), False),
    ],
)
def test_numeric_operators(operator: str, value: object, prop: object, expected: bool) -> None:
    assert match(operator, value, prop) is expected


# --- dates ------------------------------------------------------------------------------------


def test_parse_datetime_forms() -> None:
    expected = datetime(2024, 6, 1, tzinfo=UTC)
    for text in (
        "2024-06-01",
        "2024-06-01T00:00:00Z",
        "2024-06-01 00:00:00 UTC",
        "2024-06-01T02:00+02:00",
    ):
        assert parse_datetime(text, NOW) == expected, text
    assert parse_datetime("2023", NOW) == datetime(2023, 3, 31, tzinfo=UTC)  # today's month/day
    feb29 = datetime(2024, 2, 29, tzinfo=UTC)
    assert parse_datetime("2023", feb29) == datetime(2023, 2, 28, tzinfo=UTC)
    assert parse_datetime("yesterday", NOW) is None and parse_datetime("2024-13-01", NOW) is None


def test_relative_dates_use_calendar_months() -> None:
    def at(text: str, now: datetime) -> datetime | None:
        operand = parse_date_operand(text)
        assert operand is not None
        return operand.at(now)

    assert at("-1m", NOW) == datetime(2025, 2, 28, 12, tzinfo=UTC)
    assert at("1m", datetime(2024, 3, 31, tzinfo=UTC)) == datetime(2024, 2, 29, tzinfo=UTC)
    assert at("-1y", datetime(2024, 2, 29, tzinfo=UTC)) == datetime(2023, 2, 28, tzinfo=UTC)
    assert at("-36h", NOW) == NOW - timedelta(hours=36)
    assert at("-2w", NOW) == NOW - timedelta(weeks=2)
    assert at("-9999y", NOW) == datetime.min.replace(tzinfo=UTC)  # clamped, no overflow
    assert parse_date_operand("-10000d") is None and parse_date_operand("-1q") is None
    assert parse_date_operand(7) is None


def test_date_operators_accept_datetimes_dates_strings_and_epochs() -> None:
    assert (
        match("is_date_before", "2025-01-01", datetime(2024, 12, 31, 23, 59)) is True
    )  # naive=UTC
    aware = datetime(2025, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert match("is_date_before", "2025-01-01T00:00:00Z", aware) is True
    assert match("is_date_after", "2025-01-01T10:00:00Z", date(2025, 1, 1)) is False  # by day
    assert match("is_date_after", "2025-01-01T10:00:00Z", date(2025, 1, 2)) is True
    assert match("is_date_after", "-7d", "2025-03-30") is True
    assert match("is_date_before", "2025-01-01", 1704067200) is True  # 2024-01-01 as epoch
    bad = match("is_date_before", "2025-01-01", ["2024"])
    assert reason(bad) is UnresolvedReason.INVALID_PROPERTY_VALUE
    assert reason(build_matcher("is_date_after", "soon")) is UnresolvedReason.UNSUPPORTED_DEFINITION


# --- semantic versions ------------------------------------------------------------------------


def test_parse_semver() -> None:
    assert parse_semver("1.2.3") == (1, 2, 3)
    assert parse_semver(" v1.2 ") == (1, 2, 0)
    assert parse_semver("2") == (2, 0, 0)
    assert parse_semver("1.2.3-rc.1+build.7") == (1, 2, 3)
    assert parse_semver(1.5) == (1, 5, 0)
    for bad in (
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "1.2.3.4",
        "",
        "v",
        "a.b.c",
        True,
        None,
        "1..2",
        "１.2",
    ):
        assert parse_semver(bad) is None, bad


@pytest.mark.parametrize(
    ("builder", "text", "inside", "outside"),
    [
        (tilde_range, "~1.2.3", (1, 2, 9), (1, 3, 0)),
        (tilde_range, "1.2.3", (1, 2, 3), (1, 2, 2)),
        (caret_range, "^1.2.3", (1, 9, 0), (2, 0, 0)),
        (caret_range, "0.2.3", (0, 2, 9), (0, 3, 0)),
        (caret_range, "0.0.3", (0, 0, 3), (0, 0, 4)),
        (wildcard_range, "1.*", (1, 99, 0), (2, 0, 0)),
        (wildcard_range, "1.2.x", (1, 2, 0), (1, 3, 0)),
    ],
)
def test_semver_ranges(
    builder: Callable[[object], VersionRange | None],
    text: str,
    inside: tuple[int, int, int],
    outside: tuple[int, int, int],
) -> None:
    bounds = builder(text)
    assert bounds is not None
    assert inside in bounds and outside not in bounds


def test_invalid_wildcards() -> None:
    assert wildcard_range("*") is None and wildcard_range("1.2.3") is None


def test_semver_operators() -> None:
    assert match("semver_gt", "1.9.0", "1.10.0") is True
    assert match("semver_lte", "2.0.0", "v2.0.0") is True
    assert match("semver_neq", "1.0.0", "1") is False
    assert match("semver_caret", "1.2.3", "1.2.2") is False
    assert reason(match("semver_eq", "1.0.0", "01.0.0")) is UnresolvedReason.INVALID_PROPERTY_VALUE
    assert reason(build_matcher("semver_eq", "1.00.0")) is UnresolvedReason.UNSUPPORTED_DEFINITION
    assert reason(build_matcher("semver_tilde", "x")) is UnresolvedReason.UNSUPPORTED_DEFINITION


def test_unknown_operator_is_unsupported() -> None:
    assert reason(build_matcher("between", [1, 2])) is UnresolvedReason.UNSUPPORTED_DEFINITION
