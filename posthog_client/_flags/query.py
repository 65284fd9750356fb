"""One flag call's inputs, validated once into a ``Query`` (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, TypedDict

from .._errors import InvalidCall
from .._events.calls import unknown_keyword
from .._events.messages import check_distinct_id
from .model import EvalContext


class FlagOptions(TypedDict, total=False):
    """Keyword options every flag method takes."""

    groups: Mapping[str, str | int] | None
    person_properties: Mapping[str, Any] | None
    group_properties: Mapping[str, Mapping[str, Any]] | None
    only_evaluate_locally: bool
    send_feature_flag_events: bool
    device_id: str | None
    disable_geoip: bool | None


_OPTION_NAMES = frozenset(FlagOptions.__annotations__)


class Query(NamedTuple):
    """One flag call's inputs, validated once; ``ctx`` is what the evaluator reads. A
    NamedTuple, as ``EvalContext``: one is built per flag check."""

    ctx: EvalContext
    only_evaluate_locally: bool
    disable_geoip: bool | None

    @property
    def distinct_id(self) -> str:
        return self.ctx.distinct_id

    @property
    def groups(self) -> Mapping[str, str]:
        return self.ctx.groups


_EMPTY: Mapping[str, Any] = MappingProxyType({})
# Builds an EvalContext or a Query from all its fields without the NamedTuple's Python-level
# __new__, a third of the cost. benchmarks: get_feature_flag evals/s
_new_tuple = tuple.__new__


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if value is None:
        return _EMPTY
    if type(value) is dict or isinstance(value, Mapping):
        return value
    raise InvalidCall(f"{what} must be a dict")


def make_query(distinct_id: object, options: Mapping[str, Any]) -> Query:
    """Validate a flag call's arguments; raises ``InvalidCall`` naming the bad one.

    Runs on every flag check, so the common case (plain dicts of strings) copies nothing, and
    a plain dict skips the general checks. benchmarks: get_feature_flag evals/s
    """
    did = (
        distinct_id  # the common case, checked here as check_distinct_id checks it
        if type(distinct_id) is str and distinct_id and not distinct_id.isspace()
        else check_distinct_id(distinct_id)
    )
    if not options:
        return Query(EvalContext(did), False, None)
    if not _OPTION_NAMES.issuperset(options):
        unknown = sorted(set(options) - _OPTION_NAMES)
        raise InvalidCall(unknown_keyword(unknown[0], _OPTION_NAMES))
    get = options.get
    groups = get("groups")
    if type(groups) is not dict:
        groups = _mapping(groups, "groups (group type to group key)")
    # Plain loops: on the dicts of one to three entries of a flag call they are twice as fast as
    # set operations over map(type, ...). benchmarks: get_feature_flag evals/s
    for group_type, group_key in groups.items():
        if type(group_type) is not str or type(group_key) is not str:
            groups = {str(k): str(v) for k, v in groups.items()}
            break
    person = get("person_properties")
    if type(person) is not dict:
        person = _mapping(person, "person_properties")
    group_props = get("group_properties")
    if type(group_props) is not dict:
        group_props = _mapping(group_props, "group_properties")
    for values in group_props.values():
        if type(values) is not dict:
            if not all(isinstance(v, Mapping) for v in group_props.values()):
                raise InvalidCall("group_properties must be a dict of group type to a dict")
            break
    device_id = get("device_id")
    if device_id is not None and not isinstance(device_id, str):
        raise InvalidCall("device_id must be a string")
    geoip = get("disable_geoip")
    if geoip is not None and not isinstance(geoip, bool):
        raise InvalidCall("disable_geoip must be True, False or None")
    ctx: EvalContext = _new_tuple(EvalContext, (did, person, groups, group_props, device_id))
    query: Query = _new_tuple(Query, (ctx, bool(get("only_evaluate_locally", False)), geoip))
    return query
