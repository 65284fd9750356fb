"""Pure local evaluation of feature flags: `Definitions` + context + `now` -> outcome.

No I/O, no clock, no threads: time is passed in (or a clock, read only if a date filter needs
it), and "cannot decide locally" is a value (`Undecided`, with a reason and a detail a user can
act on), never an exception. It runs the plans that `plan` compiled from the definitions at
parse time (filters as closures, every possible `Decided` built once), so a flag check walks
no dictionaries of the definitions.

Conditions use three-valued logic, as PostHog's flag service does: a definitely-false property
makes a condition false even when another is missing, an undecided condition that could not
change the answer does not stop a later match, and every `Decided` is what the service would
answer for the same inputs. The README's flags section lists where this follows the service
rather than the official SDK, with the service file that backs each choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeAlias

from .hashing import bucket_hash, holdout_hash
from .model import (
    MAX_DEPTH,
    Decided,
    Definitions,
    EvalContext,
    FlagDependency,
    FlagOutcome,
    PropertyFilter,
    Undecided,
)
from .plan import ConditionPlan, FlagPlan, decided, undecided
from .unresolved import Outcome, Unknown, UnresolvedReason, worse

_R = UnresolvedReason
_MISSING = object()
_MAX_DEPENDENCY_DEPTH = 32

# The time of an evaluation: a datetime, or a clock to read (once) only if a date filter needs
# it, so that a flag check without one reads no clock. benchmarks: get_feature_flag evals/s
Now: TypeAlias = datetime | Callable[[], datetime]


def evaluate_flag(defs: Definitions, key: str, ctx: EvalContext, now: Now) -> FlagOutcome:
    """Evaluate one flag. Never raises for any `Definitions` that `parse_definitions` produced."""
    if not defs.loaded:
        return Undecided(key, _R.NO_DEFINITIONS, "flag definitions have not been loaded")
    plan = defs.plans.get(key)
    if plan is None:
        return _not_found(key)
    fixed = plan.fixed
    if fixed is not None:  # benchmarks: get_feature_flag evals/s (no run for a fixed outcome)
        return fixed
    run = _Run(defs, ctx, now)
    return run.flag(plan) if run.cache is not None else run.evaluate(plan)


def evaluate_flags(
    defs: Definitions, ctx: EvalContext, now: Now, keys: Iterable[str] | None = None
) -> dict[str, FlagOutcome]:
    """Evaluate `keys` (default: every flag, in definition order) with one shared dependency
    cache, so a flag that others depend on is evaluated once."""
    if not defs.loaded:
        wanted = defs.flags.keys() if keys is None else keys
        return {k: evaluate_flag(defs, k, ctx, now) for k in wanted}
    run = _Run(defs, ctx, now)
    plans = defs.plans
    if keys is None and run.cache is None:  # benchmarks: get_all_flags calls/s
        return {
            key: fixed if (fixed := plan.fixed) is not None else run.evaluate(plan)
            for key, plan in plans.items()
        }
    if keys is None:
        return {key: run.flag(plan) for key, plan in plans.items()}
    return {
        key: _not_found(key) if (plan := plans.get(key)) is None else run.flag(plan) for key in keys
    }


def _not_found(key: str) -> Undecided:
    return Undecided(key, _R.FLAG_NOT_FOUND, f"no flag {key!r} in the local definitions")


class _Run:
    """One evaluation request: the inputs plus a per-request cache of dependency results."""

    __slots__ = ("defs", "ctx", "_now", "_clock", "cache", "stack", "cohorts")
    stack: list[str]

    def __init__(self, defs: Definitions, ctx: EvalContext, now: Now) -> None:
        self.defs = defs
        self.ctx = ctx
        if isinstance(now, datetime):
            self._now: datetime | None = now
        else:
            self._now, self._clock = None, now
        # Dependency results, and the flags being evaluated (to detect cycles): only when a
        # flag of the definitions depends on another.
        self.cache: dict[str, FlagOutcome] | None = None
        if defs.has_dependencies:
            self.cache, self.stack = {}, []
        self.cohorts: dict[str, Outcome] | None = None  # cohorts the request's flags share

    @property
    def now(self) -> datetime:
        """The request's time: the clock is read once, when a date filter first needs it."""
        now = self._now
        if now is None:
            now = self._now = self._clock()
        return now

    # flags -------------------------------------------------------------------------------

    def flag(self, plan: FlagPlan) -> FlagOutcome:
        fixed = plan.fixed
        if fixed is not None:
            return fixed
        cache = self.cache
        if cache is None:  # no flag depends on another: nothing to reuse, no cycle to catch
            return self.evaluate(plan)  # benchmarks: get_all_flags calls/s
        key = plan.flag.key
        cached = cache.get(key)
        if cached is not None:
            return cached
        self.stack.append(key)
        result = self.evaluate(plan)
        self.stack.pop()
        cache[key] = result
        return result

    def evaluate(self, plan: FlagPlan) -> FlagOutcome:
        """`plan`'s outcome, not cached (`flag` caches it when flags depend on others)."""
        # What the definitions alone decide (inactive, experience continuity, an unknown group
        # type, ...) is `plan.fixed`, returned before this is called.
        bucket: str | Unknown
        group = plan.group
        if group is not None:
            group_key = self.ctx.groups.get(group)
            if not group_key:  # posthog-python: False, no server call
                return plan.no_group
            bucket = group_key
        elif plan.by_device:
            bucket = self.device_bucket(plan)
        else:
            bucket = self.ctx.distinct_id
        if plan.special:
            flag = plan.flag
            enrollment = self.enrollment(plan)
            if enrollment is not None:
                return enrollment
            holdout = flag.holdout
            if holdout is not None:
                if isinstance(bucket, Unknown):
                    return undecided(flag, bucket)
                pct = holdout.exclusion_percentage
                if pct >= 100 or holdout_hash(bucket) <= pct / 100:
                    return decided(flag, holdout.variant, holdout.variant, "holdout", None)
        if plan.plain and not isinstance(bucket, Unknown):
            # A plain flag (every condition supported and bucketed like the flag) walks its
            # conditions without the bookkeeping of `conditions` while each one is decided; at
            # the first undecided one, `conditions` walks them all again. Until then nothing is
            # pending, so the outcome is the one `conditions` would return.
            # benchmarks: get_all_flags calls/s, get_feature_flag evals/s
            key = plan.flag.key
            hashed = -1.0  # the rollout hash, once needed (it lies in [0, 1])
            out_of_rollout = False
            for cond in plan.conditions:
                check = cond.check
                props = True if check is None else check(self)
                if props is False:
                    continue
                if props is not True:
                    break  # undecided
                threshold = cond.threshold
                if threshold is not None:
                    if hashed < 0:
                        hashed = bucket_hash(key, bucket)
                    if hashed > threshold:
                        if plan.flag.early_exit:
                            return cond.out_of_rollout
                        out_of_rollout = True
                        continue
                return cond.match or self.variant(cond, key, bucket)
            else:
                return plan.out_of_rollout if out_of_rollout else plan.no_match
        return self.conditions(plan, bucket)

    def device_bucket(self, plan: FlagPlan) -> str | Unknown:
        device_id = self.ctx.device_id
        if device_id:
            return device_id
        why = f"flag {plan.flag.key!r} buckets by device_id but no device_id was passed"
        return Unknown(_R.MISSING_DEVICE_ID, why)

    def enrollment(self, plan: FlagPlan) -> FlagOutcome | None:
        """Early-access enrollment, checked before holdouts and conditions as the server does.
        The enrollment lives in a person property; when it is not passed the stored one may
        decide, so the flag is undecided rather than guessed."""
        flag = plan.flag
        if flag.feature_enrollment:
            key = f"$feature_enrollment/{flag.key}"
            enrolled = self.ctx.person_properties.get(key, _MISSING)
            if enrolled is _MISSING:
                return Undecided(flag.key, _R.MISSING_PROPERTY, f"property {key!r} not passed")
            value = enrolled is True or enrolled == "true"
            return decided(flag, value, None, "feature enrollment", 0)
        condition = flag.super_condition
        if condition is None or not condition.properties:
            return None
        people = self.ctx.person_properties
        keys = [f.key for f in condition.properties if isinstance(f, PropertyFilter)]
        if not any(k in people for k in keys):
            why = f"early-access properties {keys!r} not passed"
            return Undecided(flag.key, _R.MISSING_PROPERTY, why)
        if condition.unsupported is not None:
            return undecided(flag, condition.unsupported)
        check = plan.super_check
        matched = True if check is None else check(self)
        if isinstance(matched, Unknown):
            return undecided(flag, matched)
        if matched:
            bucket = self.device_bucket(plan) if plan.by_device else self.ctx.distinct_id
            if isinstance(bucket, Unknown):
                return undecided(flag, bucket)
            threshold = condition.threshold
            matched = threshold is None or bucket_hash(flag.key, bucket) <= threshold
        return decided(flag, matched, None, "feature enrollment", 0)

    def conditions(self, plan: FlagPlan, flag_bucket: str | Unknown) -> FlagOutcome:
        pending: list[bool | str | None] = []  # what each undecided condition could yield
        why: Unknown | None = None
        out_of_rollout = False
        early_exit = plan.flag.early_exit
        key = plan.flag.key
        # The rollout hash of the last bucket hashed: conditions of one flag mostly share it.
        # benchmarks: get_all_flags calls/s (one sha1 per flag and bucket)
        hashed_bucket: str | None = None
        hashed = 0.0
        for cond in plan.conditions:
            bucket: str | Unknown
            group = cond.group
            if group is None:
                bucket = flag_bucket
            else:  # mixed targeting: skip a condition whose group is not passed
                group_key = self.ctx.groups.get(group)
                if not group_key:
                    continue
                bucket = group_key
            if cond.unsupported is not None:
                why = worse(why, cond.unsupported)
                pending.append(None)
                continue
            check = cond.check
            props = True if check is None else check(self)
            if props is False:
                continue
            if isinstance(bucket, Unknown):
                why = worse(why, bucket if props is True else worse(bucket, props))
                pending.append(None)  # no bucketing value: any outcome is possible
                continue
            threshold = cond.threshold
            if threshold is None:
                in_rollout = True
            else:
                if bucket != hashed_bucket:
                    hashed, hashed_bucket = bucket_hash(key, bucket), bucket
                in_rollout = hashed <= threshold
            if props is True:
                if in_rollout:
                    match = cond.match or self.variant(cond, key, bucket)
                    value = match.value
                    if not pending or all(p == value for p in pending):
                        return match
                    return undecided(plan.flag, why)
                out_of_rollout = True
                if early_exit:
                    if not pending or all(p is False for p in pending):
                        return cond.out_of_rollout
                    return undecided(plan.flag, why)
                continue
            why = worse(why, props)
            if in_rollout:
                pending.append((cond.match or self.variant(cond, key, bucket)).value)
            elif early_exit:
                pending.append(False)  # would stop the evaluation with False if it matched
        if not pending or all(p is False for p in pending):
            return plan.out_of_rollout if out_of_rollout else plan.no_match
        return undecided(plan.flag, why)

    @staticmethod
    def variant(cond: ConditionPlan, key: str, bucket: str) -> Decided:
        """A multivariate match: the variant the "variant" hash falls in, else True (a
        condition's `match` is set when no hash is needed: an override, or no variants)."""
        h = bucket_hash(key, bucket, "variant")
        for lower, upper, outcome in cond.variants:
            if lower <= h < upper:
                return outcome
        return cond.fallback

    # properties --------------------------------------------------------------------------

    def cohort(self, cohort_id: str, depth: int) -> Outcome:
        if depth or self.cache is not None:
            return self._cohort(cohort_id, depth)
        # Flags share cohorts: a condition's cohort is evaluated once per request. Without flag
        # dependencies (whose cycle checks depend on the flag being evaluated) its outcome
        # depends on the request's inputs alone. benchmarks: get_all_flags calls/s
        memo = self.cohorts
        if memo is None:
            memo = self.cohorts = {}
        found = memo.get(cohort_id)
        if found is None:
            found = memo[cohort_id] = self._cohort(cohort_id, 0)
        return found

    def _cohort(self, cohort_id: str, depth: int) -> Outcome:
        if depth > MAX_DEPTH:
            return Unknown(_R.UNSUPPORTED_DEFINITION, "cohorts nested too deeply (or circular)")
        node = self.defs.cohort_checks.get(cohort_id)
        if node is None:
            why = f"cohort {cohort_id} is not in the definitions (a static cohort)"
            return Unknown(_R.STATIC_COHORT, why)
        return node(self, depth)

    def dependency(self, f: FlagDependency) -> Outcome:
        key = f.flag_key
        if key in self.stack:
            return Unknown(_R.UNRESOLVED_DEPENDENCY, f"circular dependency on flag {key!r}")
        parent = self.defs.plans.get(key)
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
