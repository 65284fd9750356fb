"""Property operators, compiled once per filter at definition-parse time (pure, no I/O).

`build_matcher(operator, value, matching_version)` turns a filter's operator and value into a
small closure `matcher(property_value, now) -> True | False | Unknown`, with every operand
prepared up front, because evaluation runs on request paths. It returns an `Unknown` instead
when the filter itself cannot be evaluated locally. The evaluator handles a *missing* key
(undecided: the server may know the property); a present value, None included, is matched.

Semantics are the flag service's `match_property`
(`rust/feature-flags/src/properties/property_matching.rs`,
PostHog/posthog@02469d424c854adb33445127f6b4075a948a930f); the service turns every error
(a value that is not a number, a date or a version) into "condition does not match"
(`flags/flag_matching.rs` @00c5d0b71e7a43e5e9cf700b21a38882212aa22a: `unwrap_or(false)`), so
those are decided False here too. In short:
- A null filter value never matches, for any operator (negated ones included).
- A None property is the text `null` (`to_string_representation`).
- `exact`/`is_not`, `property_matching_version` missing or anything but 2 (legacy): a
  boolean-like filter value (true/false, "true"/"false" in any case, or a list of those, `[]`
  included) compares truthiness; a list is membership; else text equality after Unicode
  lower-casing (`str.lower`, not casefold). Version 2 (explicit, PostHog PR #90694 and the
  SDK contract tables): scalar text equality and list membership, `[]` still truthiness.
  `is_not` is the complement.
- Text operators lower-case ASCII only; a list filter value is searched as its JSON text.
- `gt`/`gte`/`lt`/`lte`/`between`: both sides as Rust reads an f64; otherwise false.
- Dates: `dates`; semantic versions: `semver`; regexes: `regex`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .dates import UNSURE, Relative, parse_date_text, property_date
from .operands import as_text, ascii_lower, is_boolean_like, is_truthy, to_number
from .regex import MAX_REGEX_SUBJECT, Matcher, regex_matcher
from .semver import matches, range_requirement, to_version
from .unresolved import Outcome, Unknown, UnresolvedReason, brief, unsupported

TEXT_OPERATORS = frozenset(
    {"icontains", "not_icontains", "starts_with", "not_starts_with", "ends_with", "not_ends_with"}
)
SEMVER_OPERATORS = frozenset(
    {"semver_eq", "semver_neq", "semver_gt", "semver_gte", "semver_lt", "semver_lte"}
)
SEMVER_RANGE_OPERATORS = frozenset({"semver_tilde", "semver_caret", "semver_wildcard"})
DATE_OPERATORS = frozenset({"is_date_before", "is_date_after", "is_date_exact"})
# Operators the service knows but rejects on a property filter (an error: no match).
_REJECTED = frozenset({"in", "not_in", "flag_evaluates_to"})


def _negate(matcher: Matcher) -> Matcher:
    def negated(value: object, now: datetime) -> Outcome:
        result = matcher(value, now)
        return (not result) if isinstance(result, bool) else result

    return negated


def _always(result: bool) -> Matcher:
    def constant(value: object, now: datetime) -> Outcome:
        return result

    return constant


NEVER = _always(False)


# --- operator builders -------------------------------------------------------------------------


def _exact(value: object, matching_version: int) -> Matcher:
    if (matching_version != 2 and is_boolean_like(value)) or value == []:
        target = is_truthy(value)

        def truthy(prop: object, now: datetime) -> Outcome:
            return is_truthy(prop) is target

        return truthy
    # A text property is its own text: `as_text` is called only for other values.
    # benchmarks: get_feature_flag evals/s, get_all_flags calls/s (exact is the common filter)
    if isinstance(value, list):
        targets = frozenset(as_text(item).lower() for item in value)

        def member(prop: object, now: datetime) -> Outcome:
            return (prop if type(prop) is str else as_text(prop)).lower() in targets

        return member
    target_text = as_text(value).lower()

    def equal(prop: object, now: datetime) -> Outcome:
        return (prop if type(prop) is str else as_text(prop)).lower() == target_text

    return equal


def _text_operator(operator: str, value: object) -> Matcher:
    needle = ascii_lower(as_text(value))
    base = operator.removeprefix("not_")
    # As in `_exact`, a text property is its own text. benchmarks: get_all_flags calls/s
    if base == "icontains":

        def contains(prop: object, now: datetime) -> Outcome:
            return needle in ascii_lower(prop if type(prop) is str else as_text(prop))

        matcher: Matcher = contains
    elif base == "starts_with":

        def starts(prop: object, now: datetime) -> Outcome:
            return ascii_lower(prop if type(prop) is str else as_text(prop)).startswith(needle)

        matcher = starts
    else:

        def ends(prop: object, now: datetime) -> Outcome:
            return ascii_lower(prop if type(prop) is str else as_text(prop)).endswith(needle)

        matcher = ends
    return _negate(matcher) if operator.startswith("not_") else matcher


def _icontains_multi(operator: str, value: object) -> Matcher | Unknown:
    if not isinstance(value, list):
        return unsupported(f"{operator} needs a list value")
    needles = tuple(ascii_lower(as_text(item)) for item in value)

    def contains_any(prop: object, now: datetime) -> Outcome:
        text = ascii_lower(as_text(prop))
        return any(needle in text for needle in needles)

    return _negate(contains_any) if operator.startswith("not_") else contains_any


def _numeric(operator: str, value: object) -> Matcher:
    bound = to_number(value)
    if bound is None:
        return NEVER  # "filter value is not a number": an error, so no match
    compare: Callable[[float], bool] = {
        "gt": bound.__lt__,  # property > bound  <=>  bound < property
        "gte": bound.__le__,
        "lt": bound.__gt__,
        "lte": bound.__ge__,
    }[operator]

    def numeric(prop: object, now: datetime) -> Outcome:
        number = to_number(prop)
        return number is not None and compare(number)

    return numeric


def _between(operator: str, value: object) -> Matcher:
    bounds = [to_number(v) for v in value] if isinstance(value, list) else []
    if len(bounds) != 2 or None in bounds:
        return NEVER
    low, high = bounds
    assert low is not None and high is not None
    if not low <= high:  # also NaN
        return NEVER
    inside = operator == "between"

    def between(prop: object, now: datetime) -> Outcome:
        number = to_number(prop)
        if number is None or number != number:  # not a number, or NaN: false for both
            return False
        return (low <= number <= high) is inside

    return between


def _date(operator: str, value: object) -> Matcher | Unknown:
    if not isinstance(value, str):
        return NEVER
    operand = parse_date_text(value)
    if operand is None:
        return NEVER
    unsure = Unknown(
        UnresolvedReason.INVALID_PROPERTY_VALUE,
        f"{operator}: the property's date is read by the server only",
    )
    unsure_filter = unsupported(f"{operator} value {brief(value)} is read by the server only")
    before, after = operator == "is_date_before", operator == "is_date_after"

    def compare(prop: object, now: datetime) -> Outcome:
        mine = property_date(prop, now)
        if mine is None:
            return False  # the service reads the property first: not a date, no match
        if operand is UNSURE:
            return unsure_filter
        target = operand.at(now) if isinstance(operand, Relative) else operand
        if mine is UNSURE or target is UNSURE:
            return unsure
        if target is None:
            return False
        assert isinstance(mine, int) and isinstance(target, int)
        if before:
            return mine < target
        return mine > target if after else mine == target

    return compare


def _semver(operator: str, value: object) -> Matcher | Unknown:
    text = as_text(value)
    if operator in SEMVER_RANGE_OPERATORS:
        core = text.split("-")[0].split("+")[0]
        if operator != "semver_wildcard" and any(c in core for c in "*xX"):
            # `~1.*`: the semver crate's reading differs between versions; the server decides
            # (a property that is not a version is false first, as in the service).
            mixed = unsupported(f"{operator} value {brief(value)} mixes a range and a wildcard")

            def mixed_range(prop: object, now: datetime) -> Outcome:
                return False if to_version(as_text(prop)) is None else mixed

            return mixed_range
        requirement = range_requirement(operator, text)
        if requirement is None:
            return NEVER

        def in_range(prop: object, now: datetime) -> Outcome:
            version = to_version(as_text(prop))
            return version is not None and matches(requirement, version)

        return in_range
    target = to_version(text)
    if target is None:
        return NEVER
    key = target.key
    compare: Callable[[tuple[object, ...]], bool] = {
        "semver_eq": key.__eq__,
        "semver_neq": key.__ne__,
        "semver_gt": key.__lt__,  # property > target  <=>  target < property
        "semver_gte": key.__le__,
        "semver_lt": key.__gt__,
        "semver_lte": key.__ge__,
    }[operator]

    def semver(prop: object, now: datetime) -> Outcome:
        version = to_version(as_text(prop))
        return version is not None and compare(version.key)

    return semver


# Every operator with a builder below (and `exact`/`is_not`): a null filter value never
# matches them, negated operators included.
_BUILDERS: dict[str, Callable[[str, object], Matcher | Unknown]] = {
    **dict.fromkeys(TEXT_OPERATORS, _text_operator),
    **dict.fromkeys(("regex", "not_regex"), regex_matcher),
    **dict.fromkeys(("gt", "gte", "lt", "lte"), _numeric),
    **dict.fromkeys(("between", "not_between"), _between),
    **dict.fromkeys(("icontains_multi", "not_icontains_multi"), _icontains_multi),
    **dict.fromkeys(DATE_OPERATORS, _date),
    **dict.fromkeys(SEMVER_OPERATORS | SEMVER_RANGE_OPERATORS, _semver),
}


def build_matcher(operator: str, value: object, matching_version: int = 1) -> Matcher | Unknown:
    """Compile one property filter; an `Unknown` means the filter cannot be evaluated locally."""
    if operator == "is_set":
        return _always(True)  # the evaluator only calls matchers for present keys
    if operator == "is_not_set":
        return _always(False)  # present (None included) => set; missing stays undecided
    if operator in _REJECTED:
        return NEVER
    if operator in ("exact", "is_not"):
        if value is None:
            return NEVER
        exact = _exact(value, matching_version)
        return exact if operator == "exact" else _negate(exact)
    builder = _BUILDERS.get(operator)
    if builder is None:
        return unsupported(f"operator {brief(operator)} is not supported locally")
    return NEVER if value is None else builder(operator, value)


__all__ = ["MAX_REGEX_SUBJECT", "Matcher", "as_text", "build_matcher", "is_truthy", "to_number"]
