"""Pure: what a config version 2 flag record (Feature Flag Rules v2, experiments) adds to the
flag events of a read: the rule attribution on ``$feature_flag_called``, and the separate
``$experiment_exposure`` event of an experiment split.

Only a record the server sent for the value that was read counts: a locally evaluated value, a
config version 1 record or an unreadable one has no attribution. Property names and presence
follow the official ``posthog`` package (7.91.x, which vendors the harness contract 10.0.0); the
README's flags section lists where that differs from the older harness fixtures.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from .remote import RemoteFlag

EXPERIMENT_SPLIT = "experiment_split"

# The reason codes that name the rule behind a result, and the rule types each allows. Any
# other reason code (no_rule_match, missing_group_key, errors, codes not known yet) names none.
_RULE_TYPES = {
    "targeting_match": frozenset({"targeted_release", "percentage_rollout"}),
    EXPERIMENT_SPLIT: frozenset({"experiment"}),
    "rollout_miss": frozenset({"percentage_rollout", "experiment"}),
    "experiment_paused": frozenset({"experiment"}),
    "holdout": frozenset({"experiment"}),
}
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# What $experiment_exposure copies from the $feature_flag_called of the same read.
_COPIED = (
    "$feature_flag_id",
    "$feature_flag_version",
    "$feature_flag_request_id",
    "$feature_flag_evaluated_at",
)


class Attribution(NamedTuple):
    """The attribution of one config version 2 record. ``rule_id`` and ``rule_type`` are both
    set or both None; ``variant_key`` is set only for a complete experiment split."""

    reason_code: str | None
    rule_id: str | None
    rule_type: str | None
    variant_key: str | None

    def called_properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {"$feature_flag_config_version": 2}
        if self.reason_code is not None:
            props["$feature_flag_reason_code"] = self.reason_code
        if self.rule_id is not None:
            props["$feature_flag_rule_id"] = self.rule_id
            props["$feature_flag_rule_type"] = self.rule_type
        if self.variant_key is not None:
            props["$feature_flag_variant_key"] = self.variant_key
        return props


def attribution(record: RemoteFlag | None) -> Attribution | None:
    """The record's attribution; None unless it is a readable config version 2 record.

    The rule is reported only for a reason code that names one, with a rule type that code
    allows and a rule id that is a UUID, and never for a failed record; a split reports its
    variant key only with all of them. An incomplete split keeps its reason code and reports no
    rule (and sends no exposure): the rule is never guessed from the value or the key.
    """
    if record is None or record.malformed is not None or record.config_version != 2:
        return None
    code = record.reason_code or None
    allowed = _RULE_TYPES.get(code or "")
    rule_id = record.rule_id
    if (
        record.failed
        or allowed is None
        or record.rule_type not in allowed
        or rule_id is None
        or _UUID.fullmatch(rule_id) is None
        or (code == EXPERIMENT_SPLIT and record.variant_key is None)
    ):
        return Attribution(code, None, None, None)
    variant_key = record.variant_key if code == EXPERIMENT_SPLIT else None
    return Attribution(code, rule_id, record.rule_type, variant_key)


def exposure_properties(called: dict[str, Any], attr: Attribution) -> dict[str, Any]:
    """The properties of the ``$experiment_exposure`` that goes with a ``$feature_flag_called``
    carrying ``called``: the flag, the response, where it was evaluated, the rule and the
    variant key, plus the flag's id, version and the request that answered it. Never the
    config version, reason code or rule type (those stay on ``$feature_flag_called``)."""
    props = {name: called[name] for name in _COPIED if name in called}
    props["$feature_flag"] = called["$feature_flag"]
    props["$feature_flag_response"] = called["$feature_flag_response"]
    props["locally_evaluated"] = called.get("locally_evaluated") is True
    props["$feature_flag_variant_key"] = attr.variant_key
    props["$feature_flag_rule_id"] = attr.rule_id
    return props
