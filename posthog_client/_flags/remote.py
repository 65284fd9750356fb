"""Pure: the remote ``/flags`` endpoint's request body and its two response shapes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._types import FlagValue


@dataclass(frozen=True)
class RemoteFlag:
    value: FlagValue
    payload: str | None = None  # raw JSON text, as the server sends it
    reason: str | None = None
    flag_id: int | None = None
    version: int | None = None
    has_experiment: bool | None = None  # None: the answer did not say


@dataclass(frozen=True)
class RemoteFlags:
    flags: Mapping[str, RemoteFlag] = field(default_factory=dict)
    request_id: str | None = None
    errors_while_computing: bool = False
    quota_limited: bool = False
    minimal_flag_called_events: bool = False  # the server's gate for minimal exposure events


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


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _reason(value: object) -> str | None:
    if isinstance(value, Mapping):
        text = value.get("description") or value.get("code")
        return text if isinstance(text, str) else None
    return value if isinstance(value, str) else None


def parse_response(data: object) -> RemoteFlags | None:
    """Both shapes: v2 ``flags`` records and the older ``featureFlags``/``featureFlagPayloads``.

    Returns None for a body that is neither (the caller treats it as an error).
    """
    if not isinstance(data, Mapping):
        return None
    flags: dict[str, RemoteFlag] = {}
    records = data.get("flags")
    if isinstance(records, Mapping):
        for key, record in records.items():
            if not isinstance(record, Mapping):
                continue
            variant = record.get("variant")
            enabled = record.get("enabled") is True
            value: FlagValue = variant if isinstance(variant, str) and enabled else enabled
            meta = record.get("metadata")
            meta = meta if isinstance(meta, Mapping) else {}
            experiment = meta.get("has_experiment")
            flags[str(key)] = RemoteFlag(
                value,
                _text(meta.get("payload")) if enabled else None,
                _reason(record.get("reason")),
                _int(meta.get("id")),
                _int(meta.get("version")),
                experiment if isinstance(experiment, bool) else None,
            )
    elif isinstance(data.get("featureFlags"), Mapping):
        payloads = data.get("featureFlagPayloads")
        payloads = payloads if isinstance(payloads, Mapping) else {}
        for key, raw in data["featureFlags"].items():
            if isinstance(raw, (bool, str)):
                flags[str(key)] = RemoteFlag(raw, _text(payloads.get(key)) if raw else None)
    else:
        return None
    quota = data.get("quotaLimited")
    return RemoteFlags(
        flags,
        request_id=data.get("requestId") if isinstance(data.get("requestId"), str) else None,
        errors_while_computing=data.get("errorsWhileComputingFlags") is True,
        quota_limited=isinstance(quota, list) and "feature_flags" in quota,
        minimal_flag_called_events=data.get("minimalFlagCalledEvents") is True,
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
