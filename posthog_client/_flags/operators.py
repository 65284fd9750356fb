"""Property operators, compiled once per filter at definition-parse time (pure, no I/O).

`build_matcher(operator, value, matching_version)` turns a filter's operator and value into a
small closure `matcher(property_value, now) -> True | False | Unknown`, with every operand
(casefolded strings, compiled regexes, numbers, dates, versions) prepared up front, because
evaluation runs on request paths. It returns an `Unknown` instead when the filter itself cannot
be evaluated locally.

The evaluator handles a *missing* key (undecided) and a `None` value (`outcome_for_none`) before
calling a matcher, so matchers only ever see a present, non-None value.

Semantics follow posthog-python v7/HEAD (see the protocol reference §2.5), with these deliberate
changes where the SDK disagreed with the PostHog server, which is what remote evaluation answers:
- gt/gte/lt/lte compare numerically after coercing numeric strings; a side that is not a number
  (or a boolean) does not match. The SDK compared strings lexicographically ("10" < "9").
- Booleans, None and containers are spelled as JSON (`true`, `null`, `["a"]`) when compared as
  text, as the server does; case-insensitive equality is unchanged (`True` still equals "true").
- Regexes run on RE2 (linear time: no ReDoS). Patterns RE2 cannot compile but Python's `re` can
  (lookaround, backreferences) are server-only syntax: undecided, so the server decides. A pattern
  neither engine accepts is invalid and matches nothing, for `regex` and `not_regex` alike (as in
  the SDK and the server).

`property_matching_version` (the definitions payload's top-level field) changes `exact`/`is_not`:
- 1 or missing: posthog-python §2.5 — case-insensitive text equality; a list filter matches when
  any element is equal; so an empty list filter matches nothing.
- 2: PostHog's "explicit" matching (PostHog/posthog PR #90694 "fix(flags): make exact boolean
  matching explicit", the sdk-specs contract PR #59, and the table pinned in posthog-js's core tests
  for `propertyMatchingVersion`): normalized scalar equality (JSON spelling, lower-cased), member
  equality for a non-empty list filter, and for an EMPTY list filter the "recursive truthiness"
  rule: it matches when the property is truthy (true, "true" in any case, or a list whose elements
  are all truthy, recursively: so `[]` matches `[]` and `true`, not `false`, `0` or "banana").
  `is_not` is the complement of `exact` for a present property.
  Note: the *server's* version-1 matcher differs from §2.5 (it coerces boolean-like filters to
  truthiness, so `exact false` matches "banana"); version 1 here follows §2.5 as specified.
Any other version number is treated as 1, as every official SDK does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .operands import (
    VersionRange,
    as_text,
    caret_range,
    is_truthy,
    override_datetime,
    parse_date_operand,
    parse_semver,
    tilde_range,
    to_number,
    wildcard_range,
)
from .regex import MAX_REGEX_SUBJECT, regex_matcher
from .unresolved import Outcome, Unknown, UnresolvedReason, brief

Matcher = Callable[[object, datetime], Outcome]

STRING_OPERATORS = frozenset(
    {
        "icontains",
        "not_icontains",
        "starts_with",
        "not_starts_with",
        "ends_with",
        "not_ends_with",
    }
)
SEMVER_OPERATORS = frozenset(
    {"semver_eq", "semver_neq", "semver_gt", "semver_gte", "semver_lt", "semver_lte"}
)
SEMVER_RANGE_OPERATORS = frozenset({"semver_tilde", "semver_caret", "semver_wildcard"})


def _unsupported(detail: str) -> Unknown:
    return Unknown(UnresolvedReason.UNSUPPORTED_DEFINITION, detail)


def _invalid(detail: str) -> Unknown:
    return Unknown(UnresolvedReason.INVALID_PROPERTY_VALUE, detail)


# --- text normalisation ----------------------------------------------------------------------


def _negate(matcher: Matcher) -> Matcher:
    def negated(value: object, now: datetime) -> Outcome:
        result = matcher(value, now)
        return (not result) if isinstance(result, bool) else result

    return negated


def _always(result: bool) -> Matcher:
    def constant(value: object, now: datetime) -> Outcome:
        return result

    return constant


# --- operator builders -----------------------------------------------------------------------


def _exact(value: object, matching_version: int) -> Matcher | Unknown:
    if value is None:
        return _unsupported("exact filter with a null value")
    if matching_version == 2:
        if isinstance(value, list) and not value:

            def truthy(prop: object, now: datetime) -> Outcome:
                return is_truthy(prop)

            return truthy
        fold: Callable[[str], str] = str.lower  # the server lower-cases (Rust to_lowercase)
    else:
        fold = str.casefold  # posthog-python v7 casefolds
    if isinstance(value, list):
        targets = frozenset(fold(as_text(item)) for item in value)

        def member(prop: object, now: datetime) -> Outcome:
            return fold(as_text(prop)) in targets

        return member
    target = fold(as_text(value))

    def equal(prop: object, now: datetime) -> Outcome:
        return fold(as_text(prop)) == target

    return equal


def _text_operator(operator: str, value: object) -> Matcher | Unknown:
    if value is None or isinstance(value, (list, dict)):
        return _unsupported(f"{operator} filter value must be a scalar")
    needle = as_text(value).casefold()
    base = operator.removeprefix("not_")
    if base == "icontains":

        def contains(prop: object, now: datetime) -> Outcome:
            return needle in as_text(prop).casefold()

        matcher: Matcher = contains
    elif base == "starts_with":

        def starts(prop: object, now: datetime) -> Outcome:
            return as_text(prop).casefold().startswith(needle)

        matcher = starts
    else:

        def ends(prop: object, now: datetime) -> Outcome:
            return as_text(prop).casefold().endswith(needle)

        matcher = ends
    return _negate(matcher) if operator.startswith("not_") else matcher


def _numeric(operator: str, value: object) -> Matcher | Unknown:
    bound = to_number(value)
    if bound is None:
        # The server refuses to compare a non-numeric filter value (no match); mirror it.
        return _always(False)
    if operator == "gt":

        def gt(prop: object, now: datetime) -> Outcome:
            n = to_number(prop)
            return n is not None and n > bound

        return gt
    if operator == "gte":

        def gte(prop: object, now: datetime) -> Outcome:
            n = to_number(prop)
            return n is not None and n >= bound

        return gte
    if operator == "lt":

        def lt(prop: object, now: datetime) -> Outcome:
            n = to_number(prop)
            return n is not None and n < bound

        return lt

    def lte(prop: object, now: datetime) -> Outcome:
        n = to_number(prop)
        return n is not None and n <= bound

    return lte


def _date(operator: str, value: object) -> Matcher | Unknown:
    operand = parse_date_operand(value)
    if operand is None:
        return _unsupported(f"{operator} value {brief(value)} is not a date or relative date")
    before = operator == "is_date_before"
    unreadable = _invalid(f"{operator}: property is not a date, datetime or ISO 8601 string")

    def compare(prop: object, now: datetime) -> Outcome:
        target = operand.at(now)
        theirs = override_datetime(prop, now)
        if target is None or theirs is None:
            return unreadable
        if isinstance(theirs, datetime):
            return theirs < target if before else theirs > target
        day = target.date()  # a plain date compares on the calendar day
        return theirs < day if before else theirs > day

    return compare


def _semver(operator: str, value: object) -> Matcher | Unknown:
    unreadable = _invalid(f"{operator}: property is not a version like 1.2.3")
    if operator in SEMVER_RANGE_OPERATORS:
        builder = {
            "semver_tilde": tilde_range,
            "semver_caret": caret_range,
            "semver_wildcard": wildcard_range,
        }[operator]
        bounds: VersionRange | None = builder(value)
        if bounds is None:
            return _unsupported(f"{operator} value {brief(value)} is not a version range")

        def in_range(prop: object, now: datetime) -> Outcome:
            version = parse_semver(prop)
            return unreadable if version is None else version in bounds

        return in_range
    target = parse_semver(value)
    if target is None:
        return _unsupported(f"{operator} value {brief(value)} is not a valid version")
    compare: Callable[[tuple[int, int, int]], bool] = {
        "semver_eq": target.__eq__,
        "semver_neq": target.__ne__,
        "semver_gt": target.__lt__,  # property > target  <=>  target < property
        "semver_gte": target.__le__,
        "semver_lt": target.__gt__,
        "semver_lte": target.__ge__,
    }[operator]

    def semver(prop: object, now: datetime) -> Outcome:
        version = parse_semver(prop)
        return unreadable if version is None else compare(version)

    return semver


def build_matcher(operator: str, value: object, matching_version: int = 1) -> Matcher | Unknown:
    """Compile one property filter; an `Unknown` means the filter cannot be evaluated locally."""
    if operator in ("exact", "is_not"):
        exact = _exact(value, matching_version)
        if isinstance(exact, Unknown) or operator == "exact":
            return exact
        return _negate(exact)
    if operator == "is_set":
        return _always(True)  # the evaluator only calls matchers for present keys
    if operator == "is_not_set":
        return _always(False)  # present => set; a missing key stays undecided (§3)
    if operator in STRING_OPERATORS:
        return _text_operator(operator, value)
    if operator in ("regex", "not_regex"):
        return regex_matcher(operator, value)
    if operator in ("gt", "gte", "lt", "lte"):
        return _numeric(operator, value)
    if operator in ("is_date_before", "is_date_after"):
        return _date(operator, value)
    if operator in SEMVER_OPERATORS or operator in SEMVER_RANGE_OPERATORS:
        return _semver(operator, value)
    return _unsupported(f"operator {brief(operator)} is not supported locally")


def outcome_for_none(operator: str, matcher: Matcher) -> Outcome:
    """The result for a property passed explicitly as None.

    As in posthog-python: False for every operator except `is_not`, which is the complement of
    `exact`. `is_set`/`is_not_set` follow the server: a key present with a null value is set.
    """
    if operator == "is_not":
        return matcher(None, datetime.min)
    return operator == "is_set"


__all__ = [
    "MAX_REGEX_SUBJECT",
    "Matcher",
    "as_text",
    "build_matcher",
    "is_truthy",
    "outcome_for_none",
    "to_number",
]
