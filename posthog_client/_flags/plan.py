"""Evaluation plans, compiled once per download from the parsed definitions (pure).

`parse` builds the frozen model (`model`); this module turns it into what evaluation runs on
every flag check, so that a check does no type dispatch and no lookup that the definitions
alone decide:

- each filter becomes a `Check`, a closure over its key, its compiled operator (`operators`)
  and where its value comes from: the person's properties (with the `distinct_id` fallback only
  for that key), or one group's properties with the group type already looked up in
  `group_type_mapping` (an unknown group type is a constant);
- each cohort's property tree becomes a `GroupCheck` tree of closures;
- each flag becomes a `FlagPlan`: the outcome when no input can change it (inactive, a newer
  rules format, unsupported, experience continuity, an unknown group type), and every `Decided`
  it can return, built here once instead of on each evaluation; a condition whose group type is
  unknown is dropped (evaluation skips it whatever the inputs).

Semantics are `evaluation`'s, which reads these plans; nothing here reads a request's inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import NamedTuple, Protocol, TypeAlias

from .model import (
    CohortFilter,
    Condition,
    Decided,
    EvalContext,
    Filter,
    FlagDefinition,
    FlagDependency,
    FlagOutcome,
    GroupEntry,
    PropertyFilter,
    PropertyGroup,
    Undecided,
)
from .unresolved import Outcome, Unknown, UnresolvedReason, worse

_R = UnresolvedReason
_MISSING = object()
_UNREAD = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the time given to matchers that ignore it


class Inputs(Protocol):
    """What a compiled check reads: one evaluation run (`evaluation._Run`)."""

    ctx: EvalContext

    @property
    def now(self) -> datetime: ...

    def cohort(self, cohort_id: str, depth: int) -> Outcome: ...

    def dependency(self, f: FlagDependency) -> Outcome: ...


Check: TypeAlias = Callable[[Inputs], Outcome]  # one filter of a condition
GroupCheck: TypeAlias = Callable[[Inputs, int], Outcome]  # a cohort tree node, at a depth


# --- filters ---------------------------------------------------------------------------------


def _constant(outcome: Outcome) -> Check:
    def constant(run: Inputs) -> Outcome:
        return outcome

    return constant


def property_check(f: PropertyFilter, aggregation: int | None, groups: Mapping[int, str]) -> Check:
    """A property filter read where evaluation reads it: a person property when the filter is
    typed "person", or untyped in a person-level condition; else a group's property."""
    key, matcher, on_missing = f.key, f.matcher, f.on_missing
    # Only a date operator reads the time: the run's clock is read when one first needs it,
    # and every other matcher is given `_UNREAD`. benchmarks: get_feature_flag evals/s
    dated = f.reads_clock
    if f.type == "person" or (not f.type and aggregation is None):
        if key == "distinct_id":  # posthog-python injects it: matched when not passed

            def person_or_id(run: Inputs) -> Outcome:
                ctx = run.ctx
                value = ctx.person_properties.get(key, _MISSING)
                value = ctx.distinct_id if value is _MISSING else value
                return matcher(value, run.now if dated else _UNREAD)

            return person_or_id

        def person(run: Inputs) -> Outcome:
            value = run.ctx.person_properties.get(key, _MISSING)
            if value is _MISSING:
                return on_missing
            return matcher(value, run.now if dated else _UNREAD)

        return person
    index = f.group_type_index if f.group_type_index is not None else aggregation
    group = groups.get(index) if index is not None else None
    if group is None:
        why = f"group property {key!r}: group type index {index} is unknown"
        return _constant(Unknown(_R.UNKNOWN_GROUP_TYPE, why))
    not_passed = Unknown(
        _R.MISSING_PROPERTY, f"group property {key!r} needs group {group!r}, which was not passed"
    )
    group_key_fallback = key == "$group_key"  # each group's key, as posthog-python injects it

    def group_property(run: Inputs) -> Outcome:
        ctx = run.ctx
        group_key = ctx.groups.get(group)
        if not group_key:
            return not_passed
        props = ctx.group_properties.get(group)
        value = _MISSING if props is None else props.get(key, _MISSING)
        if value is _MISSING:
            if not group_key_fallback:
                return on_missing
            value = group_key
        return matcher(value, run.now if dated else _UNREAD)

    return group_property


def filter_check(f: Filter, aggregation: int | None, groups: Mapping[int, str]) -> Check:
    """A condition's filter (`negation` is honoured in cohort trees only, as in PostHog)."""
    if isinstance(f, PropertyFilter):
        return property_check(f, aggregation, groups)
    if isinstance(f, CohortFilter):
        cohort_id, not_in = f.cohort_id, f.not_in

        def cohort(run: Inputs) -> Outcome:
            result = run.cohort(cohort_id, 0)
            return (not result) if not_in and isinstance(result, bool) else result

        return cohort
    if isinstance(f, FlagDependency):
        dependency = f

        def depends(run: Inputs) -> Outcome:
            return run.dependency(dependency)

        return depends
    return _constant(f.outcome)


def all_of(checks: tuple[Check, ...]) -> Check | None:
    """The AND of a condition's filters (None: no filter, always True): any False wins, then
    the most telling unknown. One filter is its own check (each returns a bool or an
    `Unknown`). benchmarks: get_all_flags calls/s (one call per condition)"""
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]

    def every(run: Inputs) -> Outcome:
        why: Unknown | None = None
        for check in checks:
            result = check(run)
            if result is False:
                return False
            if isinstance(result, Unknown):
                why = worse(why, result)
        return True if why is None else why

    return every


def _negated(check: GroupCheck) -> GroupCheck:
    def negated(run: Inputs, depth: int) -> Outcome:
        result = check(run, depth)
        return (not result) if isinstance(result, bool) else result

    return negated


def group_check(entry: GroupEntry, groups: Mapping[int, str]) -> GroupCheck:
    """A cohort's property tree in three-valued logic; `negation` inverts a leaf. Cohorts are
    person-level; a nested cohort is looked up one level deeper (bounded by `MAX_DEPTH`)."""
    if isinstance(entry, PropertyGroup):
        if not entry.values:
            return lambda run, depth: True  # an empty group matches, whether AND or OR
        children = tuple(group_check(child, groups) for child in entry.values)
        is_and = entry.type == "AND"
        decisive = not is_and  # False decides an AND, True decides an OR

        def group(run: Inputs, depth: int) -> Outcome:
            why: Unknown | None = None
            for child in children:
                result = child(run, depth + 1)
                if result is decisive:
                    return result
                if isinstance(result, Unknown):
                    why = worse(why, result)
            return is_and if why is None else why

        return group
    leaf: GroupCheck
    if isinstance(entry, PropertyFilter):
        check = property_check(entry, None, groups)
        leaf = lambda run, depth: check(run)  # noqa: E731 - a one-line adapter
    elif isinstance(entry, CohortFilter):
        cohort_id, not_in = entry.cohort_id, entry.not_in

        def cohort(run: Inputs, depth: int) -> Outcome:
            result = run.cohort(cohort_id, depth + 1)
            return (not result) if not_in and isinstance(result, bool) else result

        leaf = cohort
    elif isinstance(entry, FlagDependency):
        dependency = entry
        leaf = lambda run, depth: run.dependency(dependency)  # noqa: E731
    else:
        outcome = entry.outcome
        return lambda run, depth: outcome  # a fixed outcome is never negated
    return _negated(leaf) if entry.negation else leaf


# --- flags -----------------------------------------------------------------------------------


def decided(
    flag: FlagDefinition,
    value: bool | str,
    variant: str | None,
    reason: str,
    condition_index: int | None,
) -> Decided:
    return Decided(
        flag.key,
        value,
        variant,
        flag.payload_for(value),
        reason,
        condition_index,
        flag.id,
        flag.version,
    )


def undecided(flag: FlagDefinition, why: Unknown | None) -> Undecided:
    if why is None:  # defensive: every pending condition records a reason
        why = Unknown(_R.UNSUPPORTED_DEFINITION, "undecided")
    return Undecided(flag.key, why.reason, why.detail)


class ConditionPlan(NamedTuple):
    """One release condition, compiled."""

    check: Check | None  # all the condition's filters (`all_of`); None: no filter
    threshold: float | None  # as `Condition.threshold`
    group: str | None  # mixed targeting: the condition's own group type; None: the flag's bucket
    unsupported: Unknown | None
    match: Decided | None  # the outcome of a match when no variant hash is needed
    variants: tuple[tuple[float, float, Decided], ...]  # [lower, upper) of the variant hash
    fallback: Decided  # a multivariate match whose hash no variant holds: True
    out_of_rollout: Decided  # what `early_exit` returns when this condition is out of rollout


class FlagPlan(NamedTuple):
    """One flag, compiled; `flag` keeps what only the rare paths read (enrollment, holdout)."""

    flag: FlagDefinition
    fixed: FlagOutcome | None  # the outcome whatever the inputs, if any
    group: str | None  # the aggregation's group type (group flags), else None
    no_group: Decided  # a group flag whose group was not passed
    by_device: bool  # buckets by device_id
    special: bool  # has an enrollment, super condition or holdout to check first
    super_check: Check | None  # the super condition's filters (person-level), as `all_of`
    conditions: tuple[ConditionPlan, ...]
    plain: bool  # every condition is supported and buckets like the flag (no mixed targeting)
    no_match: Decided
    out_of_rollout: Decided


def _condition(
    flag: FlagDefinition, cond: Condition, groups: Mapping[int, str]
) -> ConditionPlan | None:
    """None for a condition evaluation always skips (its own group type is unknown)."""
    aggregation = flag.aggregation_group_type_index
    c_agg = cond.aggregation_group_type_index
    own_group: str | None = None
    if c_agg is None or c_agg == aggregation:
        c_agg = aggregation
    else:  # mixed targeting: the condition buckets by its own group
        own_group = groups.get(c_agg)
        if own_group is None:
            return None
    reason = cond.match_reason
    fallback = decided(flag, True, None, reason, cond.index)
    match: Decided | None = fallback
    override = cond.variant_override
    if override is not None:
        match = decided(flag, override, override, reason, cond.index)
    elif flag.variants:
        match = None
    variants = tuple(
        (v.lower, v.upper, decided(flag, v.key, v.key, reason, cond.index)) for v in flag.variants
    )
    return ConditionPlan(
        check=all_of(tuple(filter_check(f, c_agg, groups) for f in cond.properties)),
        threshold=cond.threshold,
        group=own_group,
        unsupported=cond.unsupported,
        match=match,
        variants=variants,
        fallback=fallback,
        out_of_rollout=decided(flag, False, None, "out of rollout", cond.index),
    )


def _fixed(flag: FlagDefinition, groups: Mapping[int, str]) -> FlagOutcome | None:
    """What evaluation returns before reading any input, in its order of checks."""
    # The service skips inactive flags before anything else, experience continuity
    # included, and counts them as false for dependencies (flags/flag_matching.rs
    # @00c5d0b71e7a43e5e9cf700b21a38882212aa22a).
    if not flag.active and flag.unsupported is None:
        return decided(flag, False, None, "flag inactive", None)
    if flag.newer_format is not None:
        return undecided(flag, flag.newer_format)
    if flag.unsupported is not None:
        return undecided(flag, flag.unsupported)
    if flag.ensure_experience_continuity:
        why = "the flag persists variants per person (experience continuity): server only"
        return Undecided(flag.key, _R.EXPERIENCE_CONTINUITY, why)
    aggregation = flag.aggregation_group_type_index
    if aggregation is not None and groups.get(aggregation) is None:
        why = f"group type index {aggregation} is not in group_type_mapping"
        return Undecided(flag.key, _R.UNKNOWN_GROUP_TYPE, why)
    return None


def compile_flag(flag: FlagDefinition, groups: Mapping[int, str]) -> FlagPlan:
    aggregation = flag.aggregation_group_type_index
    compiled = (_condition(flag, cond, groups) for cond in flag.conditions)
    conditions = tuple(c for c in compiled if c is not None)
    superc = flag.super_condition
    supers = () if superc is None else superc.properties
    return FlagPlan(
        flag=flag,
        fixed=_fixed(flag, groups),
        group=groups.get(aggregation) if aggregation is not None else None,
        no_group=decided(flag, False, None, "group not passed", None),
        by_device=flag.bucketing_identifier == "device_id",
        special=flag.feature_enrollment or superc is not None or flag.holdout is not None,
        super_check=all_of(tuple(filter_check(f, None, groups) for f in supers)),
        conditions=conditions,
        plain=all(c.group is None and c.unsupported is None for c in conditions),
        no_match=decided(flag, False, None, "no condition matched", None),
        out_of_rollout=decided(flag, False, None, "out of rollout", None),
    )
