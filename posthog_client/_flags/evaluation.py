"""Pure local evaluation of feature flags: `Definitions` + context + `now` -> outcome.

No I/O, no clock, no threads: time is passed in, and "cannot decide locally" is a value
(`Undecided`, with a reason and a detail a user can act on), never an exception.

Conditions use three-valued logic, as PostHog's flag service does: a definitely-false property
makes a condition false even when another is missing, an undecided condition that could not
change the answer does not stop a later match, and every `Decided` is what the service would
answer for the same inputs. The README's flags section lists where this follows the service
rather than the official SDK, with the service file that backs each choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .hashing import bucket_hash, holdout_hash
from .model import (
    MAX_DEPTH,
    CohortFilter,
    Condition,
    Decided,
    Definitions,
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
_MAX_DEPENDENCY_DEPTH = 32


def evaluate_flag(defs: Definitions, key: str, ctx: EvalContext, now: datetime) -> FlagOutcome:
    """Evaluate one flag. Never raises for any `Definitions` that `parse_definitions` produced."""
    if not defs.loaded:
        return Undecided(key, _R.NO_DEFINITIONS, "flag definitions have not been loaded")
    flag = defs.flags.get(key)
    if flag is None:
        return Undecided(key, _R.FLAG_NOT_FOUND, f"no flag {key!r} in the local definitions")
    return _Run(defs, ctx, now).flag(flag)


def evaluate_flags(
    defs: Definitions, ctx: EvalContext, now: datetime, keys: Iterable[str] | None = None
) -> dict[str, FlagOutcome]:
    """Evaluate `keys` (default: every flag, in definition order) with one shared dependency
    cache, so a flag that others depend on is evaluated once."""
    wanted = defs.flags.keys() if keys is None else keys
    if not defs.loaded:
        return {k: evaluate_flag(defs, k, ctx, now) for k in wanted}
    run = _Run(defs, ctx, now)
    results: dict[str, FlagOutcome] = {}
    for key in wanted:
        flag = defs.flags.get(key)
        results[key] = (
            run.flag(flag)
            if flag is not None
            else Undecided(key, _R.FLAG_NOT_FOUND, f"no flag {key!r} in the local definitions")
        )
    return results


def _decided(
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


def _undecided(flag: FlagDefinition, why: Unknown | None) -> Undecided:
    if why is None:  # defensive: every pending condition records a reason
        why = Unknown(_R.UNSUPPORTED_DEFINITION, "undecided")
    return Undecided(flag.key, why.reason, why.detail)


class _Run:
    """One evaluation request: the inputs plus a per-request cache of dependency results."""

    __slots__ = ("defs", "ctx", "now", "cache", "stack")

    def __init__(self, defs: Definitions, ctx: EvalContext, now: datetime) -> None:
        self.defs = defs
        self.ctx = ctx
        self.now = now
        self.cache: dict[str, FlagOutcome] = {}
        self.stack: list[str] = []  # flags being evaluated, to detect dependency cycles

    # flags -------------------------------------------------------------------------------

    def flag(self, flag: FlagDefinition) -> FlagOutcome:
        cached = self.cache.get(flag.key)
        if cached is not None:
            return cached
        self.stack.append(flag.key)
        result = self._flag(flag)
        self.stack.pop()
        self.cache[flag.key] = result
        return result

    def _flag(self, flag: FlagDefinition) -> FlagOutcome:
        # The service skips inactive flags before anything else, experience continuity
        # included, and counts them as false for dependencies (flags/flag_matching.rs
        # @00c5d0b71e7a43e5e9cf700b21a38882212aa22a).
        if not flag.active and flag.unsupported is None:
            return _decided(flag, False, None, "flag inactive", None)
        if flag.newer_format is not None:
            return _undecided(flag, flag.newer_format)
        if flag.unsupported is not None:
            return _undecided(flag, flag.unsupported)
        if flag.ensure_experience_continuity:
            why = "the flag persists variants per person (experience continuity): server only"
            return Undecided(flag.key, _R.EXPERIENCE_CONTINUITY, why)
        aggregation = flag.aggregation_group_type_index
        bucket: str | Unknown
        if aggregation is not None:
            group = self.defs.group_type_mapping.get(aggregation)
            if group is None:
                why = f"group type index {aggregation} is not in group_type_mapping"
                return Undecided(flag.key, _R.UNKNOWN_GROUP_TYPE, why)
            group_key = self.ctx.groups.get(group)
            if not group_key:  # posthog-python: False, no server call
                return _decided(flag, False, None, "group not passed", None)
            bucket = group_key
        else:
            bucket = self.person_bucket(flag)
        enrollment = self.enrollment(flag)
        if enrollment is not None:
            return enrollment
        holdout = flag.holdout
        if holdout is not None:
            if isinstance(bucket, Unknown):
                return _undecided(flag, bucket)
            pct = holdout.exclusion_percentage
            if pct >= 100 or holdout_hash(bucket) <= pct / 100:
                return _decided(flag, holdout.variant, holdout.variant, "holdout", None)
        return self.conditions(flag, bucket)

    def person_bucket(self, flag: FlagDefinition) -> str | Unknown:
        if flag.bucketing_identifier != "device_id":
            return self.ctx.distinct_id
        device_id = self.ctx.device_id
        if device_id:
            return device_id
        why = f"flag {flag.key!r} buckets by device_id but no device_id was passed"
        return Unknown(_R.MISSING_DEVICE_ID, why)

    def enrollment(self, flag: FlagDefinition) -> FlagOutcome | None:
        """Early-access enrollment, checked before holdouts and conditions as the server does.
        The enrollment lives in a person property; when it is not passed the stored one may
        decide, so the flag is undecided rather than guessed."""
        if flag.feature_enrollment:
            key = f"$feature_enrollment/{flag.key}"
            enrolled = self.ctx.person_properties.get(key, _MISSING)
            if enrolled is _MISSING:
                return Undecided(flag.key, _R.MISSING_PROPERTY, f"property {key!r} not passed")
            value = enrolled is True or enrolled == "true"
            return _decided(flag, value, None, "feature enrollment", 0)
        condition = flag.super_condition
        if condition is None or not condition.properties:
            return None
        people = self.ctx.person_properties
        keys = [f.key for f in condition.properties if isinstance(f, PropertyFilter)]
        if not any(k in people for k in keys):
            why = f"early-access properties {keys!r} not passed"
            return Undecided(flag.key, _R.MISSING_PROPERTY, why)
        if condition.unsupported is not None:
            return _undecided(flag, condition.unsupported)
        matched = self.properties(condition.properties, None)
        if isinstance(matched, Unknown):
            return _undecided(flag, matched)
        if matched:
            bucket = self.person_bucket(flag)
            if isinstance(bucket, Unknown):
                return _undecided(flag, bucket)
            threshold = condition.threshold
            matched = threshold is None or bucket_hash(flag.key, bucket) <= threshold
        return _decided(flag, matched, None, "feature enrollment", 0)

    def conditions(self, flag: FlagDefinition, flag_bucket: str | Unknown) -> FlagOutcome:
        pending: list[bool | str | None] = []  # what each undecided condition could yield
        why: Unknown | None = None
        out_of_rollout = False
        aggregation = flag.aggregation_group_type_index
        for cond in flag.conditions:
            c_agg = cond.aggregation_group_type_index
            bucket: str | Unknown
            if c_agg is None or c_agg == aggregation:
                c_agg = aggregation
                bucket = flag_bucket
            else:  # mixed targeting: skip a condition whose group is unknown or not passed
                group = self.defs.group_type_mapping.get(c_agg)
                group_key = self.ctx.groups.get(group) if group is not None else None
                if not group_key:
                    continue
                bucket = group_key
            if cond.unsupported is not None:
                why = worse(why, cond.unsupported)
                pending.append(None)
                continue
            props = self.properties(cond.properties, c_agg)
            if props is False:
                continue
            if isinstance(bucket, Unknown):
                why = worse(why, bucket if props is True else worse(bucket, props))
                pending.append(None)  # no bucketing value: any outcome is possible
                continue
            threshold = cond.threshold
            in_rollout = threshold is None or bucket_hash(flag.key, bucket) <= threshold
            if props is True:
                if in_rollout:
                    value, variant = self.match_value(flag, cond, bucket)
                    if not pending or all(p == value for p in pending):
                        return _decided(flag, value, variant, cond.match_reason, cond.index)
                    return _undecided(flag, why)
                out_of_rollout = True
                if flag.early_exit:
                    if not pending or all(p is False for p in pending):
                        return _decided(flag, False, None, "out of rollout", cond.index)
                    return _undecided(flag, why)
                continue
            why = worse(why, props)
            if in_rollout:
                pending.append(self.match_value(flag, cond, bucket)[0])
            elif flag.early_exit:
                pending.append(False)  # would stop the evaluation with False if it matched
        if not pending or all(p is False for p in pending):
            reason = "out of rollout" if out_of_rollout else "no condition matched"
            return _decided(flag, False, None, reason, None)
        return _undecided(flag, why)

    def match_value(
        self, flag: FlagDefinition, cond: Condition, bucket: str
    ) -> tuple[bool | str, str | None]:
        if cond.variant_override is not None:
            return cond.variant_override, cond.variant_override
        if flag.variants:
            h = bucket_hash(flag.key, bucket, "variant")
            for variant in flag.variants:
                if variant.lower <= h < variant.upper:
                    return variant.key, variant.key
        return True, None

    # properties --------------------------------------------------------------------------

    def properties(self, filters: tuple[Filter, ...], aggregation: int | None) -> Outcome:
        """AND of a condition's filters: any False wins, then the most telling unknown."""
        why: Unknown | None = None
        for f in filters:
            if isinstance(f, PropertyFilter):
                result = self.property(f, aggregation)
            elif isinstance(f, CohortFilter):
                result = self.cohort(f, 0)
                if isinstance(result, bool) and f.not_in:
                    result = not result
            elif isinstance(f, FlagDependency):
                result = self.dependency(f)
            else:
                result = f.outcome
            if result is False:
                return False
            if isinstance(result, Unknown):
                why = worse(why, result)
        return True if why is None else why

    def property(self, f: PropertyFilter, aggregation: int | None) -> Outcome:
        ctx = self.ctx
        if f.type == "person" or (not f.type and aggregation is None):
            value = ctx.person_properties.get(f.key, _MISSING)
            if value is _MISSING and f.key == "distinct_id":
                value = ctx.distinct_id
        else:
            index = f.group_type_index if f.group_type_index is not None else aggregation
            group = self.defs.group_type_mapping.get(index) if index is not None else None
            if group is None:
                why = f"group property {f.key!r}: group type index {index} is unknown"
                return Unknown(_R.UNKNOWN_GROUP_TYPE, why)
            group_key = ctx.groups.get(group)
            if not group_key:
                why = f"group property {f.key!r} needs group {group!r}, which was not passed"
                return Unknown(_R.MISSING_PROPERTY, why)
            props = ctx.group_properties.get(group)
            value = _MISSING if props is None else props.get(f.key, _MISSING)
            if value is _MISSING and f.key == "$group_key":
                value = group_key
        if value is _MISSING:
            return f.on_missing
        return f.matcher(value, self.now)

    def group(self, entry: GroupEntry, depth: int) -> Outcome:
        """A cohort's property tree, in three-valued logic; `negation` inverts a leaf."""
        if isinstance(entry, PropertyGroup):
            if not entry.values:
                return True  # an empty group matches, whether AND or OR
            is_and = entry.type == "AND"
            why: Unknown | None = None
            for child in entry.values:
                result = self.group(child, depth + 1)
                if result is (not is_and):  # False decides an AND, True decides an OR
                    return result
                if isinstance(result, Unknown):
                    why = worse(why, result)
            return is_and if why is None else why
        if isinstance(entry, PropertyFilter):
            result = self.property(entry, None)  # cohorts are person-level
        elif isinstance(entry, CohortFilter):
            result = self.cohort(entry, depth + 1)
            if isinstance(result, bool) and entry.not_in:
                result = not result
        elif isinstance(entry, FlagDependency):
            result = self.dependency(entry)
        else:
            return entry.outcome
        if isinstance(result, bool) and entry.negation:
            return not result
        return result

    def cohort(self, f: CohortFilter, depth: int) -> Outcome:
        if depth > MAX_DEPTH:
            return Unknown(_R.UNSUPPORTED_DEFINITION, "cohorts nested too deeply (or circular)")
        node = self.defs.cohorts.get(f.cohort_id)
        if node is None:
            why = f"cohort {f.cohort_id} is not in the definitions (a static cohort)"
            return Unknown(_R.STATIC_COHORT, why)
        return self.group(node, depth)

    def dependency(self, f: FlagDependency) -> Outcome:
        key = f.flag_key
        if key in self.stack:
            return Unknown(_R.UNRESOLVED_DEPENDENCY, f"circular dependency on flag {key!r}")
        parent = self.defs.flags.get(key)
        if parent is None:
            why = f"depends on flag {key!r}, which is not in the local definitions"
            return Unknown(_R.UNRESOLVED_DEPENDENCY, why)
        if len(self.stack) >= _MAX_DEPENDENCY_DEPTH:
            return Unknown(_R.UNRESOLVED_DEPENDENCY, f"dependency chain too deep at {key!r}")
        # The parent is evaluated in its own right (its own aggregation and bucketing), as the
        # server evaluates every flag of a request before comparing dependency values.
        result = self.flag(parent)
        if isinstance(result, Undecided):
            why = f"depends on flag {key!r}: {result.reason.value}: {result.detail}"
            return Unknown(_R.UNRESOLVED_DEPENDENCY, why)
        actual, expected = result.value, f.expected
        if isinstance(actual, str):  # a variant: `true` means "any variant"
            return expected if isinstance(expected, bool) else actual == expected
        return isinstance(expected, bool) and actual == expected
