"""The fake's feature-flag side: definitions served with ETags, and ``/flags`` answered by our
own evaluator over the same definitions, so local and remote evaluation agree by construction."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from .._delivery.transport import DEFINITIONS_PATH, FLAGS_PATH
from .._flags.evaluation import evaluate_flags
from .._flags.model import EMPTY_DEFINITIONS, Decided, Definitions, EvalContext
from .._flags.parse import parse_definitions
from ._records import FakeResponse, RecordedRequest

# The SDK's paths, and the older ones official SDKs used (the fake answers both).
DEFINITION_PATHS = (DEFINITIONS_PATH, "/api/feature_flag/local_evaluation")
REMOTE_FLAG_PATHS = (FLAGS_PATH.partition("?")[0].rstrip("/"), "/decide")


class FlagRoutes:
    """Mixed into ``FakePostHog``; its state lives behind the fake's lock."""

    api_key: str
    personal_api_key: str
    _lock: threading.Condition

    def _init_flags(self) -> dict[tuple[str, str], Any]:
        """Set up the flag state; returns the flag routes."""
        self._remote_overrides: dict[str, dict[str, Any]] = {}
        self._flag_records: dict[str | None, dict[str, Any]] = {}
        self._quota_limited = False
        self._set_raw({"flags": [], "group_type_mapping": {}, "cohorts": {}})
        routes = {("GET", path): self._definitions_route for path in DEFINITION_PATHS}
        return routes | {("POST", path): self._flags_route for path in REMOTE_FLAG_PATHS}

    # -- state helpers ---------------------------------------------------------------------------

    def set_definitions(self, raw: Mapping[str, Any]) -> None:
        """Serve exactly these definitions (the JSON of ``GET /flags/definitions``)."""
        self._set_raw(copy.deepcopy(dict(raw)))

    def set_flag(
        self,
        key: str,
        *,
        rollout: float = 100,
        variants: Mapping[str, float] | None = None,
        payload: Any = None,
        filters: Mapping[str, Any] | None = None,
        active: bool = True,
        group_type: str | None = None,
        ensure_experience_continuity: bool = False,
    ) -> None:
        """Add or replace one flag, for the common cases.

        ``variants`` maps variant keys to percentages; ``payload`` is the payload of ``True``, or a
        dict of variant key to payload for multivariate flags; ``group_type`` makes it a group
        flag; ``filters`` are merged over the generated ones for anything else.
        """
        with self._lock:
            raw = copy.deepcopy(self._raw_definitions)
        flags = [f for f in raw.get("flags", []) if f.get("key") != key]
        mapping = raw.setdefault("group_type_mapping", {})
        built: dict[str, Any] = {
            "groups": [{"properties": [], "rollout_percentage": rollout}],
            "payloads": {},
        }
        if variants:
            built["multivariate"] = {
                "variants": [{"key": k, "rollout_percentage": p} for k, p in variants.items()]
            }
            if isinstance(payload, Mapping):
                built["payloads"] = {k: json.dumps(v) for k, v in payload.items()}
        elif payload is not None:
            built["payloads"] = {"true": json.dumps(payload)}
        if group_type is not None:
            index = next((i for i, name in mapping.items() if name == group_type), None)
            if index is None:
                index = str(len(mapping))
                mapping[index] = group_type
            built["aggregation_group_type_index"] = int(index)
        built.update(filters or {})
        flag_id = 1 + max((f.get("id", 0) for f in flags if isinstance(f, dict)), default=0)
        flags.append(
            {
                "id": flag_id,
                "key": key,
                "active": active,
                "filters": built,
                "ensure_experience_continuity": ensure_experience_continuity,
            }
        )
        raw["flags"] = flags
        self._set_raw(raw)

    def set_remote_flags(self, distinct_id: str, flags: Mapping[str, Any]) -> None:
        """What the server knows and the definitions cannot tell (static cohorts, stored
        properties, experience continuity): ``/flags`` answers these values for this user."""
        with self._lock:
            self._remote_overrides[str(distinct_id)] = dict(flags)

    def set_flag_record(
        self, key: str, record: Mapping[str, Any] | None, *, distinct_id: str | None = None
    ) -> None:
        """Answer ``/flags`` with exactly this record for ``key`` (for ``distinct_id`` only, or
        for everyone), whatever the definitions say: Feature Flag Rules v2 records (``value``,
        ``reason.code``, ``metadata.config_version``/``rule_id``/``variant_key`` ...), failed or
        malformed records. ``None`` removes it. The answer's ``errorsWhileComputingFlags`` is
        true when a record it carries has ``failed: true``."""
        with self._lock:
            records = self._flag_records.setdefault(
                None if distinct_id is None else str(distinct_id), {}
            )
            if record is None:
                records.pop(key, None)
            else:
                records[key] = copy.deepcopy(dict(record))

    def set_quota_limited(self, limited: bool = True) -> None:
        with self._lock:
            self._quota_limited = limited

    @property
    def definitions_etag(self) -> str:
        return self._etag

    def _set_raw(self, raw: dict[str, Any]) -> None:
        text = json.dumps(raw, sort_keys=True)
        server_raw = json.loads(text)
        for flag in server_raw.get("flags", []):  # the server holds the continuity hash keys
            if isinstance(flag, dict):
                flag["ensure_experience_continuity"] = False
        try:
            view = parse_definitions(server_raw)
        except ValueError:
            view = EMPTY_DEFINITIONS
        with self._lock:
            self._raw_definitions = raw
            self._server_view = view
            self._etag = '"' + hashlib.sha1(text.encode()).hexdigest()[:16] + '"'

    # -- routes ----------------------------------------------------------------------------------

    def _definitions_route(self, request: RecordedRequest) -> FakeResponse:
        if request.header("Authorization") != f"Bearer {self.personal_api_key}":
            return FakeResponse.json(401, {"type": "authentication_error", "detail": "bad key"})
        if request.query.get("token") != self.api_key:
            return FakeResponse.json(401, {"type": "authentication_error", "detail": "bad token"})
        with self._lock:
            raw, etag = self._raw_definitions, self._etag
        if request.header("If-None-Match") == etag:
            return FakeResponse(304, b"", {"ETag": etag})
        return FakeResponse.json(200, raw, ETag=etag)

    def _flags_route(self, request: RecordedRequest) -> FakeResponse:
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("distinct_id"), str):
            return FakeResponse.json(400, {"type": "validation_error", "detail": "distinct_id"})
        if body.get("api_key") != self.api_key:
            return FakeResponse.json(401, {"type": "authentication_error", "detail": "bad key"})
        if request.header("Authorization"):
            return FakeResponse.json(400, {"detail": "/flags takes no Authorization header"})
        with self._lock:
            view = self._server_view
            overrides = dict(self._remote_overrides.get(body["distinct_id"], {}))
            records = {
                **self._flag_records.get(None, {}),
                **self._flag_records.get(body["distinct_id"], {}),
            }
            quota = self._quota_limited
        if quota:
            return FakeResponse.json(200, {"flags": {}, "quotaLimited": ["feature_flags"]})
        version = request.query.get("v", "")
        typed = version.isdigit() and int(version) >= 3  # typed records: `value`, reason codes
        answer = _answer(view, body, overrides, typed)
        keys = body.get("flag_keys_to_evaluate")
        for key, record in copy.deepcopy(records).items():
            if not isinstance(keys, list) or key in keys:
                answer["flags"][key] = record
        answer["errorsWhileComputingFlags"] = any(
            isinstance(r, dict) and r.get("failed") is True for r in answer["flags"].values()
        )
        return FakeResponse.json(200, answer)


def _mapping(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _record(
    key: str,
    value: bool | str,
    reason: tuple[str, str, int | None],
    meta: dict[str, Any],
    typed: bool,
) -> dict[str, Any]:
    """One flag's record: typed (``value``, what ``?v=4`` asks for) or older
    (``enabled``/``variant``)."""
    code, description, index = reason
    if typed:
        return {
            "key": key,
            "value": value,
            "reason": {"code": code, "condition_index": index, "description": description},
            "metadata": {**meta, "config_version": 1},
        }
    return {
        "key": key,
        "enabled": value is not False,
        "variant": value if isinstance(value, str) else None,
        "reason": {"code": code, "description": description},
        "metadata": meta,
    }


def _answer(
    view: Definitions, body: dict[str, Any], overrides: dict[str, Any], typed: bool
) -> dict[str, Any]:
    groups = {str(k): str(v) for k, v in _mapping(body.get("groups")).items()}
    group_props = {k: _mapping(v) for k, v in _mapping(body.get("group_properties")).items()}
    ctx = EvalContext(
        body["distinct_id"],
        _mapping(body.get("person_properties")),
        groups,
        group_props,
        body.get("device_id") if isinstance(body.get("device_id"), str) else None,
    )
    keys = body.get("flag_keys_to_evaluate")
    wanted = [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else None
    outcomes = evaluate_flags(view, ctx, dt.datetime.now(dt.timezone.utc), wanted)
    flags: dict[str, Any] = {}
    override = ("override", "set_remote_flags", None)
    for key, outcome in outcomes.items():
        flag = view.flags.get(key)
        if flag is None and key not in overrides:
            continue
        reason: tuple[str, str, int | None]
        if key in overrides:
            value, reason = overrides[key], override
        elif isinstance(outcome, Decided):
            value = outcome.value
            matched = outcome.condition_index is not None and value is not False
            code = "condition_match" if matched else "no_condition_match"
            reason = (code, outcome.reason, outcome.condition_index)
        else:  # what the server cannot see in the request counts as not matching here
            value, reason = False, ("no_condition_match", outcome.detail, None)
        meta = {
            "id": flag.id if flag else None,
            "version": flag.version if flag else None,
            "payload": flag.payload_for(value) if flag is not None else None,
            "has_experiment": flag.has_experiment if flag else False,
        }
        flags[key] = _record(key, value, reason, meta, typed)
    for key, value in overrides.items():  # server-only flags the definitions do not have
        if key not in flags and (wanted is None or key in wanted):
            meta = {"id": None, "version": None, "payload": None}
            flags[key] = _record(key, value, override, meta, typed)
    return {
        "flags": flags,
        "errorsWhileComputingFlags": False,
        "requestId": str(uuid.uuid4()),
        "evaluatedAt": int(time.time() * 1000),
        "minimalFlagCalledEvents": view.minimal_flag_called_events,
    }
