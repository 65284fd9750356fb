"""Pure: PostHog's two capture protocols, and what an answer means for each event of a batch.

- **v1** (the default): ``POST /i/v1/analytics/events`` with the project key as a Bearer token and
  per-request headers; the body is ``{created_at, batch}`` (``historical_migration`` only when
  true), each event in v1 shape; the answer carries a verdict per uuid.
- **v0**: ``POST /batch/`` with the key in the body; the answer is all or nothing.

Sources: PostHog's sdk-specs ``openspec/specs/capture-v1/spec.md`` (statuses, envelope, option
lifting) and the official SDK's v1 transport (``posthog/capture_v1.py``), which differ on 429:
the spec's terminal 429 is followed here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._events.messages import format_epoch
from .transport import BATCH_PATH, CAPTURE_V1_PATH

V0, V1 = "v0", "v1"
PATHS = {V0: BATCH_PATH, V1: CAPTURE_V1_PATH}
# Retried: no answer, and these. v0 also retries 429 and every 5xx (the /batch/ contract).
_V1_RETRYABLE = frozenset({408, 500, 502, 503, 504})

# Event properties v1 carries elsewhere: as `options` (strictly typed), or at the event's root.
_BOOL_OPTIONS = {
    "$cookieless_mode": "cookieless_mode",
    "$ignore_sent_at": "disable_skew_correction",
    "$process_person_profile": "process_person_profile",
}
_STRING_OPTIONS = {"$product_tour_id": "product_tour_id"}
_ROOT_STRINGS = {"$session_id": "session_id", "$window_id": "window_id"}
_SERVER_DERIVED = ("$lib", "$lib_version")  # from the PostHog-Sdk-Info header
# Every property v1_event takes out of the properties.
V1_LIFTED = frozenset({*_BOOL_OPTIONS, *_STRING_OPTIONS, *_ROOT_STRINGS})


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "1": True, "false": False, "0": False}.get(value.strip().lower())
    if isinstance(value, (int, float)):
        return value != 0
    return None


def v1_event(message: Mapping[str, Any]) -> dict[str, Any]:
    """A finished event in v1 shape: options and session ids lifted out of the properties
    (always removed; kept only when they have the right type), top-level ``$set``/``$set_once``
    moved into the properties (values already there win), ``$lib``/``$lib_version`` removed."""
    properties = dict(message.get("properties") or {})
    for key in ("$set", "$set_once"):
        top = message.get(key)
        if top is not None:
            inside = properties.get(key)
            properties[key] = {**top, **inside} if isinstance(inside, dict) else top
    for key in _SERVER_DERIVED:
        properties.pop(key, None)
    options: dict[str, Any] = {}
    for key, name in _BOOL_OPTIONS.items():
        if key in properties:
            flag = _as_bool(properties.pop(key))
            if flag is not None:
                options[name] = flag
    for key, name in _STRING_OPTIONS.items():
        if key in properties:
            text = properties.pop(key)
            if isinstance(text, str):
                options[name] = text
    event: dict[str, Any] = {
        "event": message["event"],
        "uuid": message["uuid"],
        "distinct_id": message["distinct_id"],
        "timestamp": message["timestamp"],
        "options": options,
    }
    for key, name in _ROOT_STRINGS.items():
        if key in properties:
            value = properties.pop(key)
            if isinstance(value, str):
                event[name] = value
    event["properties"] = properties
    return event


def v0_body(api_key: str, events: Sequence[bytes], sent_at: float, historical: bool) -> bytes:
    """The JSON body of one ``/batch/`` request, reusing each event's encoded bytes."""
    head = {
        "api_key": api_key,
        "historical_migration": historical,
        "sent_at": format_epoch(sent_at),
    }
    prefix = json.dumps(head, separators=(",", ":"))[:-1].encode("utf-8")
    return prefix + b',"batch":[' + b",".join(events) + b"]}"


def v1_body(events: Sequence[bytes], created_at: str, historical: bool) -> bytes:
    head: dict[str, Any] = {"created_at": created_at}
    if historical:
        head["historical_migration"] = True
    prefix = json.dumps(head, separators=(",", ":"))[:-1].encode("utf-8")
    return prefix + b',"batch":[' + b",".join(events) + b"]}"


def v1_headers(
    api_key: str, sdk_info: str, attempt: int, request_id: str, now: float
) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "PostHog-Sdk-Info": sdk_info,
        "PostHog-Attempt": str(attempt),
        "PostHog-Request-Id": request_id,
        "PostHog-Request-Timestamp": format_epoch(now),
    }


def new_request_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Judgement:
    """What one answer means, per event of the batch (indexes into it)."""

    sent: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    drop: list[tuple[int, str, str]] = field(default_factory=list)  # (index, reason, detail)
    unknown: list[int] = field(default_factory=list)
    split: bool = False  # 413 for several events: resend them in halves
    detail: str = ""


def judge(
    protocol: str,
    status: int | None,
    body: bytes,
    describe: str,
    uuids: Sequence[str],
) -> Judgement:
    """Sort a batch's events by what the answer says happened to each."""
    everyone = list(range(len(uuids)))
    if status is not None and 200 <= status < 300:
        if protocol == V0:
            return Judgement(sent=everyone)
        return _verdicts(body, uuids)
    if status == 413:
        if len(uuids) > 1:
            return Judgement(split=True, detail=describe)
        return Judgement(drop=[(0, "oversize", describe)], detail=describe)
    if status is None or (
        status in _V1_RETRYABLE if protocol == V1 else status in (408, 429) or 500 <= status <= 599
    ):
        return Judgement(retry=everyone, detail=describe)
    return Judgement(drop=[(i, "rejected_4xx", describe) for i in everyone], detail=describe)


def _verdicts(body: bytes, uuids: Sequence[str]) -> Judgement:
    """A v1 2xx answer: ``{"results": {uuid: {"result": ok|warning|drop|limited|retry}}}``.
    A uuid it does not mention was accepted; an answer that cannot be read, or a verdict this
    SDK does not know, leaves the outcome unknown (PostHog may have stored those events)."""
    try:
        results = json.loads(body).get("results") if body.strip() else {}
    except (ValueError, AttributeError, RecursionError):
        results = None
    judgement = Judgement()
    if not isinstance(results, dict):
        judgement.unknown = list(range(len(uuids)))
        judgement.detail = "a 2xx answer without readable per-event results"
        return judgement
    for index, uid in enumerate(uuids):
        entry = results.get(uid)
        details = ""
        if isinstance(entry, dict):
            details = str(entry.get("details") or "")[:200]
            entry = entry.get("result")
        if entry is None or entry in ("ok", "warning"):
            judgement.sent.append(index)
        elif entry == "retry":
            judgement.retry.append(index)
        elif entry in ("drop", "limited"):
            detail = f"{entry}: {details}" if details else str(entry)
            judgement.drop.append((index, "dropped_by_server", detail))
        else:
            judgement.unknown.append(index)
    judgement.detail = "per-event verdicts"
    return judgement
