"""The frozen data of local flag evaluation (pure): parsed definitions and filters, the context a
flag is evaluated for, and the two outcomes (decided, or undecided with a reason).

`parse` builds the definitions once per download, with the plans `plan` compiles from them;
`evaluation` runs those plans per flag check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from .operators import Matcher
from .unresolved import Outcome, Unknown, UnresolvedReason

if TYPE_CHECKING:
    from .plan import FlagPlan, GroupCheck

MAX_DEPTH = 16  # nesting of property groups; deeper is unsupported (and bounds evaluation)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


# --- filters --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PropertyFilter:
    """A person or group property test, with its operator compiled into `matcher`."""

    key: str
    type: str  # "person", "group", or "" (untyped: follows the condition's aggregation)
    group_type_index: int | None
    negation: bool  # only honoured inside cohort property groups, as in PostHog
    matcher: Matcher  # also given None: a property passed as None is the JSON null
    on_missing: Unknown  # result when the property was not passed
    reads_clock: bool = False  # a date operator: the matcher reads `now` (no other one does)


@dataclass(frozen=True, slots=True)
class CohortFilter:
    """Membership of a cohort shipped in `Definitions.cohorts` (looked up when evaluated)."""

    cohort_id: str
    not_in: bool
    negation: bool


@dataclass(frozen=True, slots=True)
class FlagDependency:
    """`{"type": "flag", "operator": "flag_evaluates_to"}`: another flag's value."""

    flag_key: str
    expected: bool | str
    negation: bool


@dataclass(frozen=True, slots=True)
class FixedFilter:
    """A filter whose outcome is known at parse time: unsupported (an `Unknown`), or a malformed
    flag dependency, which is a definite False (never a remote call on every evaluation)."""

    outcome: Outcome


Filter: TypeAlias = PropertyFilter | CohortFilter | FlagDependency | FixedFilter


@dataclass(frozen=True, slots=True)
class PropertyGroup:
    """A cohort's AND/OR tree; an empty group matches."""

    type: str  # "AND" or "OR"
    values: tuple[GroupEntry, ...]


GroupEntry: TypeAlias = PropertyGroup | Filter


# --- flags and definitions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """One release condition (`filters.groups[i]`): all properties AND rollout."""

    index: int
    properties: tuple[Filter, ...]
    variant_override: str | None  # the condition's `variant`, when it names an existing variant
    aggregation_group_type_index: int | None
    unsupported: Unknown | None = None
    match_reason: str = ""
    # Hash bound, precomputed: None when everyone is in (no rollout, or 100% and more, since the
    # hash never exceeds 1.0), else rollout/100. In rollout when hash <= threshold (PostHog's `>`
    # test for "out" is strict).
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    key: str
    lower: float  # cumulative bucket [lower, upper) of the "variant" hash
    upper: float


@dataclass(frozen=True, slots=True)
class Holdout:
    exclusion_percentage: float
    variant: str  # "holdout-<id>"


@dataclass(frozen=True, slots=True)
class FlagDefinition:
    key: str
    id: int | None = None
    version: int | None = None
    active: bool = False
    ensure_experience_continuity: bool = False
    has_experiment: bool = False
    aggregation_group_type_index: int | None = None
    bucketing_identifier: str = "distinct_id"  # or "device_id"
    early_exit: bool = False
    conditions: tuple[Condition, ...] = ()
    variants: tuple[Variant, ...] = ()
    payloads: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    holdout: Holdout | None = None
    feature_enrollment: bool = False
    super_condition: Condition | None = None
    unsupported: Unknown | None = None  # set when the flag as a whole cannot be used
    # Set when `filters.version` is neither absent nor 1 (Feature Flag Rules v2 and later):
    # the flag is left to the server (flags/config_format.rs `is_v1_version`).
    newer_format: Unknown | None = None

    def payload_for(self, value: bool | str) -> str | None:
        """The raw JSON payload for a value: "true" for True, else the variant (case-sensitive
        lookup). A disabled flag has none: the service looks payloads up only for a match
        (`get_payload(match_val)`, flags/flag_operations.rs)."""
        if value is False:
            return None
        return self.payloads.get("true" if value is True else value)


@dataclass(frozen=True, slots=True)
class Definitions:
    """An immutable snapshot; the poller swaps whole snapshots, never mutates one."""

    flags: Mapping[str, FlagDefinition]
    group_type_mapping: Mapping[int, str]
    cohorts: Mapping[str, GroupEntry]
    etag: str | None = None
    minimal_flag_called_events: bool = False
    loaded: bool = True  # False only for EMPTY_DEFINITIONS: nothing was ever loaded
    problems: tuple[str, ...] = ()  # what was dropped or marked unsupported, for logging
    # What evaluation runs (`plan`), compiled from `flags`, `cohorts` and `group_type_mapping`.
    plans: Mapping[str, FlagPlan] = field(default_factory=lambda: MappingProxyType({}))
    cohort_checks: Mapping[str, GroupCheck] = field(default_factory=lambda: MappingProxyType({}))
    has_dependencies: bool = True  # False: no flag depends on another (nothing to cache)


EMPTY_DEFINITIONS = Definitions(
    flags=MappingProxyType({}),
    group_type_mapping=MappingProxyType({}),
    cohorts=MappingProxyType({}),
    loaded=False,
)


# --- evaluation inputs and outcomes ---------------------------------------------------------


class EvalContext(NamedTuple):
    """Who a flag is evaluated for. Properties are the caller's own (never copied or mutated).

    `distinct_id` is matched as the person property "distinct_id" unless one is passed, and each
    group's key as its "$group_key" property, as posthog-python injects them. A NamedTuple, not
    a frozen dataclass: one is built per flag check, and it is three times cheaper to create.
    """

    distinct_id: str
    person_properties: Mapping[str, object] = _EMPTY
    groups: Mapping[str, str] = _EMPTY
    group_properties: Mapping[str, Mapping[str, object]] = _EMPTY
    device_id: str | None = None


class Decided(NamedTuple):
    """A flag value decided locally, exactly as the server would decide it.

    An immutable NamedTuple rather than a frozen dataclass: it is built on every evaluation, and
    a NamedTuple is about four times cheaper to create (0.4 µs against 1.6 µs for 8 fields).
    """

    key: str
    value: bool | str  # the variant for multivariate flags, else a bool
    variant: str | None
    payload: str | None  # raw JSON text from the definitions, or None
    reason: str  # e.g. "condition 1 matched", "out of rollout", "flag inactive"
    condition_index: int | None  # 0-based index of the deciding condition, if any
    flag_id: int | None
    flag_version: int | None


class Undecided(NamedTuple):
    """Local evaluation cannot give the server's answer; `detail` says what to pass or fix."""

    key: str
    reason: UnresolvedReason
    detail: str


FlagOutcome: TypeAlias = Decided | Undecided
