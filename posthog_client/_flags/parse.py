"""Parse the local-evaluation definitions (`GET /flags/definitions`) once into frozen data.

Pure: no I/O, no clock, no threads. `parse_definitions` decodes at the boundary so the evaluator
never has to guess about types: every part it cannot use becomes an explicit "unsupported"
value on that flag, condition or filter (evaluated as "cannot decide locally"), and the rest of
the payload is kept. Operands are compiled here (see `operators`), not per evaluation; the
frozen result is in `model`, property filters are parsed by `parse_filters`.

The one exception raised is `DefinitionsError`, when the top level is unusable (not an object,
or no `flags` list); the poller catches it and keeps its previous snapshot.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import MappingProxyType

from .model import (
    Condition,
    Definitions,
    FlagDefinition,
    GroupEntry,
    Holdout,
    Variant,
)
from .parse_filters import FilterParser, as_id, as_int
from .plan import compile_flag, group_check
from .unresolved import Unknown, brief, unsupported

_MAX_PROBLEMS = 100


class DefinitionsError(ValueError):
    """The definitions payload is unusable as a whole (keep the previous snapshot)."""


# --- parsing ---------------------------------------------------------------------------------


def _percentage(value: object) -> float | None:
    """A finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _is_v1(version: object) -> bool:
    return isinstance(version, (int, float)) and not isinstance(version, bool) and version == 1


class _Parser(FilterParser):
    def __init__(self, matching_version: int) -> None:
        self.problems: list[str] = []
        super().__init__(matching_version, self.note)

    def note(self, text: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)

    # conditions and flags (filters are parsed by FilterParser) ---------------------------

    def condition(self, raw: object, index: int, variant_keys: frozenset[str]) -> Condition:
        reason = f"condition {index + 1} matched"
        if not isinstance(raw, dict):
            bad = unsupported(f"condition {index + 1} is not an object")
            return Condition(index, (), None, None, bad, reason)
        problem: Unknown | None = None
        props = raw.get("properties")
        if props is not None and not isinstance(props, list):
            problem, props = unsupported(f"condition {index + 1}: properties not a list"), []
        rollout_raw = raw.get("rollout_percentage")
        rollout = _percentage(rollout_raw)
        if rollout_raw is not None and rollout is None:
            problem = unsupported(f"condition {index + 1}: rollout {brief(rollout_raw)}")
        variant = raw.get("variant")
        if variant is not None and not isinstance(variant, str):
            problem, variant = unsupported(f"condition {index + 1}: variant {brief(variant)}"), None
        aggregation = raw.get("aggregation_group_type_index")
        if aggregation is not None and as_int(aggregation) is None:
            problem = unsupported(f"condition {index + 1}: group type {brief(aggregation)}")
        return Condition(
            index=index,
            properties=tuple(self.filter(p) for p in props or ()),
            variant_override=variant if variant in variant_keys else None,
            aggregation_group_type_index=as_int(aggregation),
            unsupported=problem,
            match_reason=reason,
            threshold=None if rollout is None or rollout >= 100 else rollout / 100,
        )

    def flag(self, raw: dict[str, object], key: str) -> FlagDefinition:
        problems: list[str] = []
        filters = raw.get("filters")
        if filters is not None and not isinstance(filters, dict):
            problems.append("filters is not an object")
        filters = filters if isinstance(filters, dict) else {}
        variants = self.variants(filters.get("multivariate"), problems)
        variant_keys = frozenset(v.key for v in variants)
        groups = filters.get("groups")
        if groups is not None and not isinstance(groups, list):
            problems.append("filters.groups is not a list")
        groups = groups if isinstance(groups, list) else []
        aggregation = filters.get("aggregation_group_type_index")
        if aggregation is not None and as_int(aggregation) is None:
            problems.append(f"aggregation_group_type_index {brief(aggregation)}")
        bucketing = raw.get("bucketing_identifier") or filters.get("bucketing_identifier")
        if bucketing not in (None, "distinct_id", "device_id"):
            problems.append(f"bucketing_identifier {brief(bucketing)}")
        active = raw.get("active")
        if active is not None and not isinstance(active, bool):
            problems.append(f"active {brief(active)}")
        super_condition = None
        super_groups = filters.get("super_groups")
        if isinstance(super_groups, list) and super_groups:
            super_condition = self.condition(super_groups[0], 0, variant_keys)
        elif super_groups not in (None, []):
            problems.append("super_groups is not a list")
        holdout = self.holdout(filters.get("holdout"), problems)
        flag_id, version = raw.get("id"), raw.get("version")
        broken = unsupported(f"flag {key!r}: {'; '.join(problems)}") if problems else None
        if active is False or active is None:
            broken = None  # an inactive flag is false whatever else it holds
        if broken is not None:
            self.note(broken.detail)
        newer = None
        if "version" in filters and not _is_v1(filters["version"]):
            # PostHog/posthog rust/feature-flags/src/flags/config_format.rs
            # @16b7a9040c406e44e25810900ef84404ea9099c1 `is_v1_version`: absent or 1 only.
            newer = unsupported(
                f"flag {key!r}: filters.version {brief(filters['version'])} "
                "(Feature Flag Rules v2 or later) is evaluated by the server only"
            )
        return FlagDefinition(
            key=key,
            id=as_int(flag_id),
            version=as_int(version),
            active=active is True,
            ensure_experience_continuity=raw.get("ensure_experience_continuity") is True,
            has_experiment=raw.get("has_experiment") is True,
            aggregation_group_type_index=as_int(aggregation),
            bucketing_identifier="device_id" if bucketing == "device_id" else "distinct_id",
            early_exit=filters.get("early_exit") is True,
            conditions=tuple(self.condition(g, i, variant_keys) for i, g in enumerate(groups)),
            variants=variants,
            payloads=self.payloads(filters.get("payloads")),
            holdout=holdout,
            feature_enrollment=filters.get("feature_enrollment") is True,
            super_condition=super_condition,
            unsupported=broken,
            newer_format=newer,
        )

    def variants(self, raw: object, problems: list[str]) -> tuple[Variant, ...]:
        if raw is None:
            return ()
        listed = raw.get("variants") if isinstance(raw, dict) else None
        if listed is None and isinstance(raw, dict):
            return ()
        if not isinstance(listed, list):
            problems.append("multivariate.variants is not a list")
            return ()
        variants: list[Variant] = []
        lower = 0.0
        for item in listed:
            vkey = item.get("key") if isinstance(item, dict) else None
            pct = _percentage(item.get("rollout_percentage")) if isinstance(item, dict) else None
            if not isinstance(vkey, str) or pct is None:
                problems.append(f"malformed variant {brief(item)}")
                return ()
            upper = lower + pct / 100  # same accumulation order as PostHog: same float bounds
            variants.append(Variant(vkey, lower, upper))
            lower = upper
        return tuple(variants)

    def holdout(self, raw: object, problems: list[str]) -> Holdout | None:
        if raw is None:
            return None
        hid = as_id(raw.get("id")) if isinstance(raw, dict) else None
        pct = _percentage(raw.get("exclusion_percentage")) if isinstance(raw, dict) else None
        if hid is None or pct is None:
            problems.append(f"malformed holdout {brief(raw)}")
            return None
        return Holdout(pct, f"holdout-{hid}")

    def payloads(self, raw: object) -> Mapping[str, str]:
        if not isinstance(raw, dict):
            return MappingProxyType({})
        kept: dict[str, str] = {}
        for name, payload in raw.items():
            if not isinstance(name, str) or payload is None:
                continue
            if isinstance(payload, str):
                kept[name] = payload  # already a JSON document as text: kept raw
                continue
            try:  # a server that sent decoded JSON: re-encode so payloads are always text
                kept[name] = json.dumps(payload)
            except (TypeError, ValueError, RecursionError):
                continue
        return MappingProxyType(kept)


def parse_definitions(raw: object, etag: str | None = None, consume: bool = False) -> Definitions:
    """Turn the decoded JSON of `GET /flags/definitions` into a `Definitions` snapshot.

    Never raises for malformed parts: they become unsupported (undecided) flags, conditions or
    filters, listed in `Definitions.problems`. Raises `DefinitionsError` (a ValueError) only when
    `raw` is not an object or has no `flags` list, i.e. when nothing at all is usable.
    With `consume`, each raw flag is released once parsed (`raw` is left unusable), so a large
    download does not hold its decoded JSON and its snapshot in full at the same time.
    """
    if not isinstance(raw, dict):
        raise DefinitionsError(f"definitions must be a JSON object, not {type(raw).__name__}")
    flags_raw = raw.get("flags")
    if not isinstance(flags_raw, list):
        raise DefinitionsError("definitions have no 'flags' list")
    version = raw.get("property_matching_version")
    parser = _Parser(2 if version == 2 and not isinstance(version, bool) else 1)

    group_types: dict[int, str] = {}
    mapping = raw.get("group_type_mapping")
    if isinstance(mapping, dict):
        for index, name in mapping.items():
            decimal = isinstance(index, str) and index.isdecimal() and len(index) < 10
            if decimal and isinstance(name, str):
                group_types[int(index)] = name
            else:
                parser.note(f"group_type_mapping entry {brief(index)}: {brief(name)} ignored")
    elif mapping is not None:
        parser.note("group_type_mapping is not an object")

    cohorts: dict[str, GroupEntry] = {}
    cohorts_raw = raw.get("cohorts")
    if isinstance(cohorts_raw, dict):
        for cohort_id, group in cohorts_raw.items():
            cohorts[str(cohort_id)] = parser.group(group)
    elif cohorts_raw is not None:
        parser.note("cohorts is not an object (every cohort is left to the server)")

    flags: dict[str, FlagDefinition] = {}
    for position, item in enumerate(flags_raw):
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key or not isinstance(item, dict):
            parser.note(f"flags[{position}] has no string key (dropped)")
            continue
        if key in flags:
            parser.note(f"flags[{position}]: duplicate key {key!r} (first one kept)")
            continue
        flags[key] = parser.flag(item, key)
        if consume:
            flags_raw[position] = None  # the raw flag is not needed again: memory goes back now

    return Definitions(
        flags=MappingProxyType(flags),
        group_type_mapping=MappingProxyType(group_types),
        cohorts=MappingProxyType(cohorts),
        etag=etag,
        minimal_flag_called_events=raw.get("minimal_flag_called_events") is True,
        problems=tuple(parser.problems),
        plans=MappingProxyType({k: compile_flag(f, group_types) for k, f in flags.items()}),
        cohort_checks=MappingProxyType(
            {k: group_check(node, group_types) for k, node in cohorts.items()}
        ),
        has_dependencies=parser.has_dependencies,
    )
