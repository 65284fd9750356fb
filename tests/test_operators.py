"""Unit tests of the property operators and their operands (pure functions).

Expected values are PostHog's flag service's (rust/feature-flags, see posthog_client/_flags/);
the numbered comments are the reproducers of issue 12.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from posthog_client._flags.dates import (
    UNSURE,
    Relative,
    instant_of,
    parse_date_text,
    property_date,
)
from posthog_client._flags.operands import as_text, float_text, is_truthy, to_number
from posthog_client._flags.operators import MAX_REGEX_SUBJECT, Matcher, build_matcher
from posthog_client._flags.semver import range_requirement, to_version
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


def reason(outcome: object) -> UnresolvedReason:
    assert isinstance(outcome, Unknown), outcome
    return outcome.reason


# --- exact / is_not and property_matching_version ---------------------------------------------

# (filter value, property value, legacy (missing, 1, 3, ...), version 2). The legacy column is
# the service's truthiness rule; both columns are PostHog's SDK conformance table
# (posthog-go featureflags_matching_version_test.go) plus the contract's cases.
EXACT_TABLE = [
    (False, "banana", True, False),  # 1.
    (False, 0, True, False),
    (False, None, True, False),
    (False, "", True, False),
    (["true", "false"], "true", False, True),
    (["true", "false"], "pro", True, False),
    (["TrUe", "FALSE"], True, False, True),
    ([], True, True, True),
    ([], [], True, True),
    ([], [True, ["TRUE", []]], True, True),
    ([], False, False, False),
    ([], 0, False, False),
    ([], "banana", False, False),
    (True, [True], True, False),
    (True, [], True, False),
    (False, "FALSE", True, True),
    ([True, "PRO"], "TRUE", True, True),
    ([False, "PRO"], "pro", True, True),
    (["FREE", "PRO"], "pro", True, True),
    ([[True], "pro"], [True], True, True),
    ("İ", "i̇", True, True),  # Unicode lower-casing
    ("ß", "ss", False, False),  # 2. not case folding
    ("NULL", None, True, True),  # 3. None is the text null
    ([1, "PRO"], "1", True, True),
    (1, 1.0, False, False),  # "1" vs "1.0"
    ("1.0", 1.0, True, True),
    ({"b": 1, "a": 2}, '{"a":2,"b":1}', True, True),
]


@pytest.mark.parametrize(("value", "prop", "legacy", "v2"), EXACT_TABLE)
def test_exact_and_is_not_by_matching_version(
    value: object, prop: object, legacy: bool, v2: bool
) -> None:
    for version, expected in ((1, legacy), (2, v2), (3, legacy), (0, legacy)):
        assert match("exact", value, prop, version) is expected, version
        assert match("is_not", value, prop, version) is (not expected), version


@pytest.mark.parametrize(
    "operator",
    ["exact", "is_not", "icontains", "not_icontains", "regex", "not_regex", "gt", "lt"]
    + ["starts_with", "not_ends_with", "semver_eq", "semver_neq", "is_date_before", "between"],
)
def test_a_null_filter_value_never_matches(operator: str) -> None:  # 4.
    for prop in ("null", None, "x", 1):
        assert match(operator, None, prop) is False


def test_is_set_ignores_the_value_and_none_is_set() -> None:
    assert match("is_set", None, None) is True and match("is_not_set", "x", None) is False


# --- text ---------------------------------------------------------------------------------------


def test_as_text_spells_values_as_serde_json() -> None:
    assert [as_text(v) for v in ("x", True, False, None, 1, 1.5, 1.0, 1e-7, 1e16, 1e-5)] == [
        "x",
        "true",
        "false",
        "null",
        "1",
        "1.5",
        "1.0",
        "1e-7",  # 8.
        "1e16",
        "0.00001",
    ]
    assert as_text({"b": 1, "a": [True, None, "é\n"]}) == '{"a":[true,null,"é\\n"],"b":1}'
    assert as_text(2**70) == "1.1805916207174113e21"  # beyond u64: an f64
    assert as_text(Decimal("2.5")) == "2.5" and as_text(date(2024, 1, 2)) == "2024-01-02"
    assert as_text((1, "a")) == '[1,"a"]' and as_text(float("nan")) == "null"


@pytest.mark.parametrize(
    "number", [0.1, 100000.0, 1e15, 1e16, 1.5e300, 5e-324, -0.0, 123456.789, 1e-5, 1.2e-6]
)
def test_float_text_round_trips(number: float) -> None:
    assert float(float_text(number)) == number


@pytest.mark.parametrize(
    ("operator", "value", "prop", "expected"),
    [
        ("icontains", "ELL", "hello", True),
        ("icontains", "ß", "STRASSE", False),  # 2. ASCII lower-casing only
        ("icontains", "É", "é", False),
        ("not_icontains", "ell", "HELLO", False),
        ("not_icontains", "@example.com", None, True),  # 3.
        ("icontains", "nul", None, True),
        ("starts_with", "He", "hello", True),
        ("not_starts_with", "he", "hello", False),
        ("ends_with", "LO", "hello", True),
        ("not_ends_with", "x", "hello", True),
        ("icontains", 42, 1423, True),
        ("icontains", "tru", True, True),
        ("icontains", "1.0", 1.0, True),
        ("not_icontains", ["pro"], "ro", True),  # 10. the list's JSON text
        ("icontains", ["pro"], 'is ["PRO"]', True),
        ("icontains", "", "anything", True),
    ],
)
def test_text_operators(operator: str, value: object, prop: object, expected: bool) -> None:
    assert match(operator, value, prop) is expected


def test_icontains_multi() -> None:
    assert match("icontains_multi", ["x", "ELL"], "hello") is True
    assert match("not_icontains_multi", ["x", "y"], "hello") is True
    assert reason(build_matcher("icontains_multi", "x")) is UnresolvedReason.UNSUPPORTED_DEFINITION


# --- numbers ------------------------------------------------------------------------------------


def test_to_number_follows_rusts_f64_grammar() -> None:
    readable = (1, 2.5, "3", "-4.5e1", "1.", ".5", "+7", "1E3", Decimal("1.5"))
    assert [to_number(v) for v in readable] == [1, 2.5, 3, -45, 1, 0.5, 7, 1000, 1.5]
    assert to_number("inf") == float("inf") and to_number("-Infinity") == float("-inf")
    nan = to_number("NaN")
    assert nan is not None and nan != nan
    unreadable = (True, None, "", " 1", "1 ", "1_000", "abc", "١٢", "１", "e5", "1e", "0x10")
    assert all(to_number(v) is None for v in unreadable + ([1],))


@pytest.mark.parametrize(
    ("operator", "value", "prop", "expected"),
    [
        ("gt", "10", "9", False),  # numeric, not lexicographic
        ("lt", "10", "9", True),
        ("gt", 10, 10.5, True),
        ("gte", "10", 10, True),
        ("gte", 1, "١٢", False),  # 8. ASCII digits only
        ("lte", 1.5, "1.5", True),
        ("gt", 1, "nope", False),
        ("gt", 0, True, False),
        ("gt", 0, None, False),
        ("gt", "abc", "abd", False),
        ("gt", 5, "inf", True),  # Rust reads "inf"
        ("lt", 5, "NaN", False),
        ("gt", "nan", 5, False),
        ("between", [1, 3], "2", True),
        ("between", [1, 3], 3, True),
        ("not_between", [1, 3], 4, True),
        ("not_between", [1, 3], "x", False),
        ("between", [3, 1], 2, False),
        ("between", [1], 1, False),
    ],
)
def test_numeric_operators(operator: str, value: object, prop: object, expected: bool) -> None:
    assert match(operator, value, prop) is expected


def test_operators_the_service_rejects_on_properties_are_false() -> None:
    for operator in ("in", "not_in", "flag_evaluates_to"):
        assert match(operator, "x", "x") is False
    assert reason(build_matcher("bogus", 1)) is UnresolvedReason.UNSUPPORTED_DEFINITION


def test_truthiness() -> None:
    assert is_truthy(True) and is_truthy("TRUE") and is_truthy([]) and is_truthy([[], "true"])
    falsy: tuple[object, ...] = (False, "yes", 1, None, [True, 0], {})
    assert not any(is_truthy(v) for v in falsy)


# --- dates --------------------------------------------------------------------------------------


def _utc(*args: int) -> int:
    return instant_of(datetime(*args, tzinfo=UTC))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-01", _utc(2024, 6, 1)),
        ("2024-6-1", _utc(2024, 6, 1)),  # 9. chrono reads one-digit months and days
        ("2024-06-01T00:00:00Z", _utc(2024, 6, 1)),
        ("2024-06-01 02:00:00+02:00", _utc(2024, 6, 1)),
        ("2024-06-01t00:00:00.5z", _utc(2024, 6, 1) + 500_000_000),
        ("2024-06-01T10:30", _utc(2024, 6, 1, 10, 30)),  # naive: UTC here
        ("2024-06-01 10:30:15.25", _utc(2024, 6, 1, 10, 30, 15) + 250_000_000),
        ("1717200000", _utc(2024, 6, 1)),  # dateparser's unix seconds
        ("1717200000000", _utc(2024, 6, 1)),  # and milliseconds
        ("2024-001", None),  # 9. ordinal dates: no parser reads them
        ("2024", None),
        ("someday", None),
        ("2024-02-30", None),
        ("2024-06-01 00:00:00 UTC", UNSURE),  # only dateparser reads these
        ("Sat, 01 Jun 2024 00:00:00 GMT", UNSURE),
        ("June 1, 2024", UNSURE),
        ("2024/06/01", UNSURE),
        (" 2024-06-01", UNSURE),
        ("2024-06-01T23:59:60Z", UNSURE),
    ],
)
def test_date_filter_forms(text: str, expected: object) -> None:
    assert parse_date_text(text) == expected


def test_relative_dates() -> None:
    def at(text: str, now: datetime) -> int:
        operand = parse_date_text(text)
        assert isinstance(operand, Relative)
        found = operand.at(now)
        assert isinstance(found, int)
        return found

    assert at("-1m", NOW) == _utc(2025, 2, 28, 12)
    assert at("2m", datetime(2025, 3, 31, tzinfo=UTC)) == _utc(2025, 1, 31)  # one clamp, chrono
    assert at("-1y", datetime(2024, 2, 29, tzinfo=UTC)) == _utc(2023, 2, 28)
    assert at("-36h", NOW) == instant_of(NOW - timedelta(hours=36))
    assert at("30d", NOW) == at("-30d", NOW)  # the sign is ignored
    assert at("-9999y", NOW) < _utc(1, 1, 1)  # before year 1 is still a date
    assert parse_date_text("-10000d") is None and parse_date_text("-1q") is None


def test_date_operators() -> None:
    assert match("is_date_before", "2025-01-01", datetime(2024, 12, 31, 23, 59)) is True
    aware = datetime(2025, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert match("is_date_before", "2025-01-01T00:00:00Z", aware) is True
    assert match("is_date_after", "2025-01-01T10:00:00Z", date(2025, 1, 2)) is True
    assert match("is_date_after", "-7d", "2025-03-30") is True
    assert match("is_date_before", "2025-01-01", 1704067200) is True  # epoch seconds
    assert match("is_date_before", "2025-01-01", "1704067200") is True  # text too
    assert match("is_date_before", "2025-01-01", "nan") is True  # Rust: NaN -> 1970
    assert match("is_date_after", "2025-01-01", "1620021848429") is True  # ms read as seconds
    assert match("is_date_exact", "2024-06-01", "2024-06-01T00:00:00Z") is True
    assert match("is_date_exact", "2024-06-01", "2024-06-01T10:00:00Z") is False
    for odd in (["2024"], None, True, "next tuesday", "inf"):
        assert match("is_date_before", "2025-01-01", odd) is False
    assert match("is_date_before", "2024-001", None) is False  # 9.
    assert match("is_date_before", 20240101, "2020-01-01") is False  # filter must be text
    unsure = build_matcher("is_date_after", "June 1, 2024")
    assert not isinstance(unsure, Unknown)
    assert unsure("not a date", NOW) is False  # the property is read first
    assert reason(unsure("2025-01-01", NOW)) is UnresolvedReason.UNSUPPORTED_DEFINITION
    assert reason(match("is_date_after", "2024-01-01", "5 May 2024")) is not None


def test_a_property_date_read_again_is_read_alike() -> None:
    # Property date texts are kept once read (short ones): the same text gives the same answer
    # the second time, a relative one still follows `now`, and a long one is read each time.
    later = NOW + timedelta(days=10)
    long_text = "2025-01-01T00:00:00" + "." + "0" * 60 + "Z"
    for text in ("2025-02-01", "-3d", "1704067200", "next tuesday", long_text):
        first = [property_date(text, when) for when in (NOW, later)]
        assert [property_date(text, when) for when in (NOW, later)] == first, text
    assert property_date("-3d", later) == property_date("-3d", NOW) + 10 * 86_400 * 10**9
    assert property_date(long_text, NOW) == _utc(2025, 1, 1)


# --- semantic versions --------------------------------------------------------------------------


def test_versions_are_read_as_the_service_reads_them() -> None:
    for text, triple in (("1.2", (1, 2, 0)), ("1", (1, 0, 0)), ("3.08", (3, 8, 0))):
        version = to_version(text)
        assert version is not None and (version.major, version.minor, version.patch) == triple
    for good in ("v 1.2.3", "01.02.03", "1.2-beta", "1.2.3+build.01", " 1.2.3 "):
        assert to_version(good) is not None, good
    for bad in ("1.2.3.4", "1.2.3-01", "", "1.2.x", "=1.2.3", "V1.2.3", "1..2", "null", "1.2.3-é"):
        assert to_version(bad) is None, bad


@pytest.mark.parametrize(
    ("operator", "value", "prop", "expected"),
    [
        ("semver_gt", "1.9.0", "1.10.0", True),
        ("semver_lte", "2.0.0", "v2.0.0", True),
        ("semver_neq", "1.0.0", "1", False),
        ("semver_eq", "1.2.3", "1.2.3+build.7", False),  # 7. build metadata counts
        ("semver_gt", "1.0.0", "1.0.0+a", True),
        ("semver_lt", "1.0.0", "1.0.0-alpha", True),
        ("semver_gt", "1.0.0-alpha.2", "1.0.0-alpha.10", True),
        ("semver_eq", "1.2.3.4", "1.2.3.4", False),  # 7. four parts do not parse
        ("semver_eq", "1.0.0", "01.0.0", True),
        ("semver_gt", 1.5, 2, True),
        ("semver_tilde", "~1.2.3", "1.2.3", False),  # 7. an operator in the value
        ("semver_tilde", "1.2", "1.2.3-beta", False),  # 7. pre-releases excluded
        ("semver_tilde", "1.2.3-beta", "1.2.3-rc", True),
        ("semver_tilde", "1.2", "1.2.9", True),
        ("semver_tilde", "1", "1.1.0", False),  # ~1 -> ~1.0.0
        ("semver_caret", "1.2.3", "1.9.0", True),
        ("semver_caret", "0.2.3", "0.3.0", False),
        ("semver_caret", "0.0.3", "0.0.4", False),
        ("semver_caret", "0", "0.0.1", False),  # ^0 -> ^0.0.0
        ("semver_caret", "1", "1.5.0-alpha", False),
        ("semver_wildcard", "1.*", "1.99.0", True),
        ("semver_wildcard", "1.2.x", "1.3.0", False),
        ("semver_wildcard", "*", "7.0.0", True),
        ("semver_wildcard", "*", "7.0.0-rc.1", False),
        ("semver_wildcard", "1.2.3", "1.9.0", True),  # a plain req: caret
        ("semver_wildcard", "1.*.3", "1.0.3", False),
        ("semver_wildcard", ">1.*", "2.0.0", True),
        ("semver_wildcard", ">1.*", "1.5.0", False),
    ],
)
def test_semver_operators(operator: str, value: object, prop: object, expected: bool) -> None:
    assert match(operator, value, prop) is expected


def test_semver_requirements_with_a_wildcard_in_a_tilde_are_left_to_the_server() -> None:
    assert reason(match("semver_tilde", "1.*", "1.2.3")) is UnresolvedReason.UNSUPPORTED_DEFINITION
    assert match("semver_tilde", "1.*", "not a version") is False
    assert range_requirement("semver_caret", "1.2.3") is not None


# --- regex --------------------------------------------------------------------------------------


def test_regex_basics() -> None:
    assert match("regex", r"^\d{3}-\d{4}$", "555-1234") is True
    assert match("regex", "b", "abc") is True  # search, not fullmatch
    assert match("not_regex", "z", "abc") is True
    assert match("regex", "^true$", True) is True  # booleans are spelled as JSON
    assert match("regex", "^null$", None) is True  # 3.
    assert match("regex", "^1.0$", 1.0) is True
    assert match("regex", "[", "[") is False and match("not_regex", "[", "x") is False
    assert match("regex", "a$", "a\n") is False  # Rust's $ is the end of the text


@pytest.mark.parametrize(
    ("pattern", "prop", "expected"),
    [
        (r"^\d$", "٣", True),  # 5. Unicode \d
        (r"^\D$", "٣", False),
        (r"^\s$", "\u3000", True),  # Unicode White_Space
        (r"^\S+$", "a\u2003", False),
        (r"^[\d]+$", "12٣", True),
        (r"^a{,3}$", "aa", True),  # 5. {,n} is {0,n}
        (r"x{,3}", "x y", True),
        (r"(?<n>ab)c", "abc", True),
        (r"(?i)ABC", "xabcx", True),
        (r"\bfoo\b", "a foo b", True),
        (r"[a-z-]+", "a-b", True),
        (r"[a-z-\d]+", "a-1", True),
    ],
)
def test_regex_translation_keeps_the_services_meaning(
    pattern: str, prop: str, expected: bool
) -> None:
    assert match("regex", pattern, prop) is expected
    assert match("not_regex", pattern, prop) is (not expected)


@pytest.mark.parametrize("pattern", [r"[\d-z]", r"[a-\w]", r"[\w-a]", "(", "a\\"])
def test_regex_the_service_cannot_compile_is_false_for_both(pattern: str) -> None:  # 5.
    assert match("regex", pattern, "a") is False and match("not_regex", pattern, "a") is False


@pytest.mark.parametrize(
    "pattern",
    [r"foo(?!bar)", r"(?<=a)b", r"(x)\1", r"(?>a)", "a++", r"\p{Greek}", r"[a[b]]", r"(?x) a"]
    + [r"a{x}", r"\Z", r"\h", r"[a&&b]", r"\Qa\E"],
)
def test_regex_syntax_left_to_the_server(pattern: str) -> None:
    assert reason(build_matcher("regex", pattern)) is UnresolvedReason.UNSUPPORTED_DEFINITION


def test_word_classes_on_non_ascii_text_are_left_to_the_server() -> None:
    assert match("regex", r"\w+", "abc") is True
    assert reason(match("regex", r"\w+", "é")) is UnresolvedReason.UNSUPPORTED_DEFINITION
    assert reason(match("regex", r"\bé", "é")) is UnresolvedReason.UNSUPPORTED_DEFINITION


def test_regex_catastrophic_pattern_stays_linear() -> None:
    """Under 10 ms on a 10 KB value (a backtracking engine takes longer than the universe).
    The best of five tries is compared, so a busy machine's pause cannot fail it."""
    subject = "a" * 10_000 + "!"
    for pattern in ("^(a|a)+$", "^(a+)+$", r"^(\w+\s?)*$", "(a*)*b"):
        matcher = compiled("regex", pattern)
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            assert matcher(subject, NOW) is False
            best = min(best, time.perf_counter() - started)
        assert best < 0.010, pattern


def test_regex_subject_and_pattern_are_capped() -> None:
    too_long = match("regex", "a", "a" * (MAX_REGEX_SUBJECT + 1))
    assert reason(too_long) is UnresolvedReason.INVALID_PROPERTY_VALUE
    assert reason(build_matcher("regex", "a" * 5000)) is UnresolvedReason.UNSUPPORTED_DEFINITION
