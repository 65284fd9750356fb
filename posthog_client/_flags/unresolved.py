"""Why a flag cannot be decided locally, as plain values (never exceptions).

Shared by the pure modules `_operators`, `_definitions` and `_evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias


class UnresolvedReason(str, Enum):
    """Why local evaluation gave no answer. The caller may then ask the server.

    Members are listed in reporting precedence: when several conditions of one flag are undecided
    for different reasons, the earliest member below is reported, so that a reason the caller
    cannot fix (the definition) wins over one they can (a missing property).
    """

    NO_DEFINITIONS = "no_definitions"  # definitions never loaded (or cleared after a 401/402)
    FLAG_NOT_FOUND = "flag_not_found"  # no flag with that key in the loaded definitions
    EXPERIENCE_CONTINUITY = "experience_continuity"  # needs the server's stored hash-key overrides
    STATIC_COHORT = "static_cohort"  # a cohort the server does not ship (static membership)
    UNSUPPORTED_DEFINITION = "unsupported_definition"  # unknown operator, RE2-incompatible regex, …
    UNRESOLVED_DEPENDENCY = "unresolved_dependency"  # a flag dependency undecided, missing, cyclic
    UNKNOWN_GROUP_TYPE = "unknown_group_type"  # aggregation index absent from group_type_mapping
    MISSING_DEVICE_ID = "missing_device_id"  # flag buckets by device_id and none was passed
    MISSING_PROPERTY = "missing_property"  # a property or group the condition needs is absent
    INVALID_PROPERTY_VALUE = "invalid_property_value"  # a passed value cannot be read (bad date, …)


_RANK = {reason: rank for rank, reason in enumerate(UnresolvedReason)}


@dataclass(frozen=True, slots=True)
class Unknown:
    """Internal three-valued-logic "unknown": the reason plus a detail a user can act on.

    Instances are mostly built once at parse time (one per filter) so the hot path allocates none.
    """

    reason: UnresolvedReason
    detail: str


def brief(value: object, limit: int = 60) -> str:
    """A short, never-raising description of an untrusted value, for `Unknown.detail` and logs."""
    if isinstance(value, str):
        text = repr(value[:limit])
        return text if len(value) <= limit else text + "…"
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if -(10**18) < value < 10**18 else "<large int>"
    if isinstance(value, (list, tuple, dict)):
        return f"<{type(value).__name__} of {len(value)}>"
    return f"<{type(value).__name__}>"


def unsupported(detail: str) -> Unknown:
    """A definition (or part of one) that is evaluated by the server only."""
    return Unknown(UnresolvedReason.UNSUPPORTED_DEFINITION, detail)


def worse(current: Unknown | None, new: Unknown) -> Unknown:
    """Keep whichever unknown has the higher reporting precedence (the first one on ties)."""
    if current is None or _RANK[new.reason] < _RANK[current.reason]:
        return new
    return current


# What a matcher returns: True, False, or why it cannot tell.
Outcome: TypeAlias = bool | Unknown
