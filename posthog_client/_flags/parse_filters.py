"""Parsing of property filters and cohort property groups (pure).

Each filter's operator is compiled once here (see `operators`); anything that cannot be
evaluated locally becomes a `FixedFilter` holding an `Unknown`, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable

from .model import (
    MAX_DEPTH,
    CohortFilter,
    Filter,
    FixedFilter,
    FlagDependency,
    GroupEntry,
    PropertyFilter,
    PropertyGroup,
)
from .operators import DATE_OPERATORS, build_matcher
from .unresolved import Unknown, UnresolvedReason, brief, unsupported


def as_int(value: object) -> int | None:
    """A 64-bit int, else None (a bool is not an int here; nor is a number too long to print)."""
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    return None


def as_id(value: object) -> str | None:
    """An id as text: a string or a 64-bit int."""
    if isinstance(value, str):
        return value
    number = as_int(value)
    return None if number is None else str(number)


class FilterParser:
    """Parses filters and property groups; `problem` collects notes for `Definitions.problems`."""

    def __init__(self, matching_version: int, problem: Callable[[str], None]) -> None:
        self.matching_version = matching_version
        self.problem = problem
        self.has_dependencies = False  # whether any flag dependency was parsed

    def filter(self, raw: object) -> Filter:
        if not isinstance(raw, dict):
            return FixedFilter(unsupported("property filter is not an object"))
        ptype = raw.get("type")
        negation = raw.get("negation") is True
        if ptype == "cohort":
            return self.cohort_filter(raw, negation)
        if ptype == "flag":
            return self.dependency(raw, negation)
        if ptype not in (None, "person", "group"):
            return FixedFilter(
                unsupported(f"property type {brief(ptype)} is not evaluated locally")
            )
        key = raw.get("key")
        if not isinstance(key, str):
            return FixedFilter(unsupported("property filter without a string key"))
        operator = raw.get("operator")
        if operator is None:
            operator = "exact"
        if not isinstance(operator, str):
            return FixedFilter(unsupported(f"operator {brief(operator)} is not a string"))
        group_index = raw.get("group_type_index")
        if group_index is not None and as_int(group_index) is None:
            return FixedFilter(unsupported(f"group_type_index {brief(group_index)}"))
        value = raw.get("value")
        matcher = build_matcher(operator, value, self.matching_version)
        if isinstance(matcher, Unknown):
            return FixedFilter(matcher)
        owner = "group property" if ptype == "group" else "property"
        if operator == "is_not_set":
            missing = f"is_not_set on {owner} {key!r}: not passed, so it may be set on the server"
        else:
            missing = f"{owner} {key!r} is needed but was not passed"
        return PropertyFilter(
            key=key,
            type=ptype or "",
            group_type_index=as_int(group_index),
            negation=negation,
            matcher=matcher,
            on_missing=Unknown(UnresolvedReason.MISSING_PROPERTY, missing),
            reads_clock=operator in DATE_OPERATORS,
        )

    def cohort_filter(self, raw: dict[str, object], negation: bool) -> Filter:
        value = raw.get("value")
        cohort_id = as_id(value)
        if cohort_id is None:
            return FixedFilter(unsupported(f"cohort id {brief(value)} is not an id"))
        operator = raw.get("operator")
        if operator not in (None, "in", "exact", "not_in"):
            return FixedFilter(unsupported(f"cohort operator {brief(operator)}"))
        return CohortFilter(cohort_id, operator == "not_in", negation)

    def dependency(self, raw: dict[str, object], negation: bool) -> Filter:
        key, value = raw.get("key"), raw.get("value")
        if (
            raw.get("operator") != "flag_evaluates_to"
            or not isinstance(key, str)
            or not key
            or not isinstance(value, (bool, str))
        ):
            # Malformed: a definite no-match (PostHog/posthog-python#740: never a remote storm).
            self.problem(f"malformed flag dependency {brief(raw.get('key'))} (evaluates to false)")
            return FixedFilter(False)
        chain = raw.get("dependency_chain")
        unresolved = UnresolvedReason.UNRESOLVED_DEPENDENCY
        if not isinstance(chain, list) or not all(isinstance(k, str) for k in chain):
            return FixedFilter(Unknown(unresolved, f"dependency on {key!r} has no chain"))
        if not chain:
            # The server sends an empty chain for a circular dependency.
            return FixedFilter(Unknown(unresolved, f"circular dependency on {key!r}"))
        self.has_dependencies = True
        return FlagDependency(key, value, negation)

    def group(self, raw: object, depth: int = 0) -> GroupEntry:
        if depth > MAX_DEPTH:
            return FixedFilter(unsupported("property groups nested too deeply"))
        if isinstance(raw, dict) and not raw:
            return PropertyGroup("AND", ())  # `{}` matches everyone
        if not isinstance(raw, dict):
            return FixedFilter(unsupported("property group is not an object"))
        gtype, values = raw.get("type"), raw.get("values")
        if gtype not in ("AND", "OR") or not isinstance(values, list):
            return FixedFilter(unsupported("malformed property group (type/values)"))
        entries: list[GroupEntry] = []
        for entry in values:
            nested = isinstance(entry, dict) and (
                "values" in entry or entry.get("type") in ("AND", "OR")
            )
            entries.append(self.group(entry, depth + 1) if nested else self.filter(entry))
        return PropertyGroup(str(gtype), tuple(entries))
