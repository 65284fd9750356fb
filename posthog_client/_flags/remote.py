"""Pure: the remote ``/flags`` endpoint's request body and its response shapes.

Responses are read as a tolerant reader: unknown members anywhere are ignored; a known member
with the wrong JSON type makes only its own record unreadable (it reads as disabled, like a flag
that is off), never its siblings or the whole answer. Three record shapes are read: typed
records (``value``, what ``?v=4`` answers), older records (``enabled``/``variant``), and the
oldest ``featureFlags``/``featureFlagPayloads`` maps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._types import FlagValue

# The /flags version asked for: typed records carrying the rule attribution (config version 2).
FLAGS_REQUEST_PATH = "/flags/?v=4"


@dataclass(frozen=True)
class RemoteFlag:
    value: FlagValue
    payload: str | None = None  # raw JSON text, as the server sends it
    reason: str | None = None
    flag_id: int | None = None
    version: int | None = None
    has_experiment: bool | None = None  # None: the answer did not say
    failed: bool = False  # the server could not evaluate the flag: there is no value
    malformed: str | None = None  # the member that made the record unreadable (reads disabled)
    config_version: int | None = None  # 1 for records without a typed value
    reason_code: str | None = None
    rule_id: str | None = None
    rule_type: str | None = None
    variant_key: str | None = None


@dataclass(frozen=True)
class RemoteFlags:
    flags: Mapping[str, RemoteFlag] = field(default_factory=dict)
    request_id: str | None = None
    errors_while_computing: bool = False
    quota_limited: bool = False
    minimal_flag_called_events: bool = False  # the server's gate for minimal exposure events
    evaluated_at: int | None = None  # the server's evaluation time (epoch milliseconds)


def request_body(
    api_key: str,
    distinct_id: str,
    *,
    groups: Mapping[str, str],
    person_properties: Mapping[str, Any],
    group_properties: Mapping[str, Mapping[str, Any]],
    geoip_disable: bool,
    flag_keys: list[str] | None,
    device_id: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "api_key": api_key,
        "distinct_id": distinct_id,
        "groups": dict(groups),
        "person_properties": dict(person_properties),
        "group_properties": {k: dict(v) for k, v in group_properties.items()},
        "geoip_disable": geoip_disable,
    }
    if flag_keys:
        body["flag_keys_to_evaluate"] = flag_keys
    if device_id is not None:
        body["device_id"] = device_id
    return body


class _Unreadable(Exception):
    """A known member of a record has the wrong JSON type (the message names it)."""


def _int(value: object, name: str) -> int | None:
    """An integer member: JSON has one number type, so ``2.0`` is the integer 2."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise _Unreadable(name)


def _of(value: object, kind: type, name: str) -> Any:
    if value is None or isinstance(value, kind):
        return value
    raise _Unreadable(name)


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _legacy_reason(value: object) -> str | None:
    if isinstance(value, Mapping):
        text = value.get("description") or value.get("code")
        return text if isinstance(text, str) else None
    return value if isinstance(value, str) else None


def _typed_value(value: object) -> tuple[FlagValue, str | None]:
    """A typed ``value`` as the getters render it, and the payload it implies: a number or an
    object is an enabled flag whose payload is that value (as older servers sent it)."""
    if value is None or isinstance(value, bool):
        return bool(value), None
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict) or (
        isinstance(value, (int, float)) and math.isfinite(value)  # bool was handled above
    ):
        return True, json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    raise _Unreadable("value")


def _typed_record(record: Mapping[str, Any]) -> RemoteFlag:
    value, implied_payload = _typed_value(record.get("value"))
    failed = _of(record.get("failed"), bool, "failed") is True
    reason = _of(record.get("reason"), dict, "reason") or {}
    code = _of(reason.get("code"), str, "reason.code")
    _int(reason.get("condition_index"), "reason.condition_index")
    description = _of(reason.get("description"), str, "reason.description")
    meta = _of(record.get("metadata"), dict, "metadata") or {}
    flag_id = _int(meta.get("id"), "metadata.id")
    version = _int(meta.get("version"), "metadata.version")
    _of(meta.get("description"), str, "metadata.description")
    experiment = _of(meta.get("has_experiment"), bool, "metadata.has_experiment")
    config_version = _int(meta.get("config_version"), "metadata.config_version")
    rule_type = _of(meta.get("rule_type"), str, "metadata.rule_type")
    rule_id = _of(meta.get("rule_id"), str, "metadata.rule_id")
    variant_key = _of(meta.get("variant_key"), str, "metadata.variant_key")
    _of(meta.get("forced_variant"), bool, "metadata.forced_variant")
    _int(meta.get("experiment_id"), "metadata.experiment_id")  # checked, not reported
    if failed:
        value, implied_payload = False, None
    payload = implied_payload
    if payload is None and value is not False:
        payload = _text(meta.get("payload"))
    return RemoteFlag(
        value,
        payload,
        description or code,
        flag_id,
        version,
        experiment,
        failed,
        None,
        config_version,
        code,
        rule_id,
        rule_type,
        variant_key,
    )


def _older_record(record: Mapping[str, Any]) -> RemoteFlag:
    enabled = _of(record.get("enabled"), bool, "enabled") is True
    variant = _of(record.get("variant"), str, "variant")
    failed = _of(record.get("failed"), bool, "failed") is True
    reason = _of(record.get("reason"), dict, "reason")
    if reason:
        _of(reason.get("code"), str, "reason.code")
        _of(reason.get("description"), str, "reason.description")
    meta = _of(record.get("metadata"), dict, "metadata") or {}
    flag_id = _int(meta.get("id"), "metadata.id")
    version = _int(meta.get("version"), "metadata.version")
    experiment = _of(meta.get("has_experiment"), bool, "metadata.has_experiment")
    value: FlagValue = variant if variant is not None and enabled else enabled
    if failed:
        value = False
    payload = _text(meta.get("payload")) if value is not False else None
    return RemoteFlag(
        value, payload, _legacy_reason(reason), flag_id, version, experiment, failed, None, 1
    )


def parse_record(record: object) -> RemoteFlag:
    """One record of a ``flags`` answer; an unreadable one reads as disabled, with
    ``malformed`` naming the member at fault."""
    try:
        if not isinstance(record, Mapping):
            raise _Unreadable("record")
        _of(record.get("key"), str, "key")
        return _typed_record(record) if "value" in record else _older_record(record)
    except _Unreadable as exc:
        return RemoteFlag(False, reason=f"unreadable record ({exc.args[0]})", malformed=exc.args[0])
    except RecursionError:  # a value nested too deeply to encode as a payload
        return RemoteFlag(False, reason="unreadable record (value)", malformed="value")


def parse_response(data: object) -> RemoteFlags | None:
    """Every shape: ``flags`` records (typed or older) and the older
    ``featureFlags``/``featureFlagPayloads`` maps.

    Returns None for a body that is none of them (the caller treats it as an error).
    """
    if not isinstance(data, Mapping):
        return None
    flags: dict[str, RemoteFlag] = {}
    records = data.get("flags")
    if isinstance(records, Mapping):
        flags = {str(key): parse_record(record) for key, record in records.items()}
    elif isinstance(data.get("featureFlags"), Mapping):
        payloads = data.get("featureFlagPayloads")
        payloads = payloads if isinstance(payloads, Mapping) else {}
        for key, raw in data["featureFlags"].items():
            if isinstance(raw, (bool, str)):
                flags[str(key)] = RemoteFlag(raw, _text(payloads.get(key)) if raw else None)
    else:
        return None
    quota = data.get("quotaLimited")
    evaluated_at = data.get("evaluatedAt")
    return RemoteFlags(
        flags,
        request_id=data.get("requestId") if isinstance(data.get("requestId"), str) else None,
        errors_while_computing=data.get("errorsWhileComputingFlags") is True,
        quota_limited=isinstance(quota, list) and "feature_flags" in quota,
        minimal_flag_called_events=data.get("minimalFlagCalledEvents") is True,
        evaluated_at=evaluated_at
        if isinstance(evaluated_at, int) and not isinstance(evaluated_at, bool)
        else None,
    )


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def decode_payload(raw: str | None) -> Any:
    """A payload's JSON text decoded; None when it is not JSON (`NaN` and `Infinity`
    included), as PostHog's sdk-specs require: never the raw text."""
    if raw is None:
        return None
    try:
        return json.loads(raw, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return None
