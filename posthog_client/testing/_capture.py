"""The fake's capture side: ``/batch/`` (v0) and ``/i/v1/analytics/events`` (v1), answered as
PostHog answers them, with events stored the way PostHog stores them, whichever endpoint the
client used (so assertions read the same for both).

Like PostHog, any well-formed project key is accepted on the capture routes (an unknown key is
accepted and dropped later, by the server, not the client); ``reject_unknown_keys()`` makes the
fake answer 401 instead, for tests of that path. Each stored event records the key it came with.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._delivery.transport import BATCH_PATH, CAPTURE_V1_PATH
from ._records import Event, FakeResponse, RecordedRequest

CAPTURE_PATHS = (BATCH_PATH.rstrip("/"), CAPTURE_V1_PATH)
_KEY = re.compile(r"^[\x21-\x7e]{1,512}$")  # printable, no spaces: what a project key looks like
_V1_OPTIONS = {
    "cookieless_mode": "$cookieless_mode",
    "disable_skew_correction": "$ignore_sent_at",
    "process_person_profile": "$process_person_profile",
    "product_tour_id": "$product_tour_id",
}
_VERDICTS = ("ok", "warning", "drop", "limited", "retry")


@dataclass(eq=False, slots=True)  # compared by identity, as _spend needs
class _Verdict:
    verdict: str
    uuids: frozenset[str] | None
    times: int | None
    details: str


class CaptureRoutes:
    """Mixed into ``FakePostHog``; its state lives behind the fake's lock."""

    api_key: str
    _lock: threading.Condition

    def _init_capture(self) -> dict[tuple[str, str], Any]:
        """Set up the capture state; returns the capture routes."""
        self._unknown_keys_rejected = False
        self._verdicts: list[_Verdict] = []
        return {
            ("POST", BATCH_PATH.rstrip("/")): self._v0_route,
            ("POST", CAPTURE_V1_PATH): self._v1_route,
        }

    # -- what tests can ask for ------------------------------------------------------------------

    def reject_unknown_keys(self, reject: bool = True) -> None:
        """Answer 401 to capture requests whose project key is not this fake's ``api_key``
        (by default any well-formed key is accepted, as PostHog does)."""
        with self._lock:
            self._unknown_keys_rejected = reject

    def verdict(
        self,
        verdict: str,
        uuids: Iterable[str] | None = None,
        *,
        times: int | None = 1,
        details: str = "",
    ) -> None:
        """Capture v1: answer ``verdict`` (``retry``, ``drop``, ``limited``, ``warning``, ``ok``)
        for these uuids (None: every event) in the next ``times`` requests that carry them
        (None: always). Events answered ``retry``/``drop``/``limited`` are not stored."""
        if verdict not in _VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(_VERDICTS)}")
        chosen = None if uuids is None else frozenset(str(u) for u in uuids)
        with self._lock:
            self._verdicts.append(_Verdict(verdict, chosen, times, details))

    # -- routes ----------------------------------------------------------------------------------

    def _key_refused(self, key: object) -> FakeResponse | None:
        if not isinstance(key, str) or not _KEY.match(key):
            return FakeResponse.json(401, {"type": "authentication_error", "detail": "no key"})
        if self._unknown_keys_rejected and key != self.api_key:
            return FakeResponse.json(401, {"type": "authentication_error", "detail": "bad key"})
        return None

    def _v0_route(self, request: RecordedRequest) -> FakeResponse:
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
            return FakeResponse.json(400, {"type": "validation_error", "detail": "Invalid payload"})
        key = body.get("api_key")
        refused = self._key_refused(key)
        if refused is not None:
            return refused
        events = body["batch"]
        if not all(isinstance(e, dict) and isinstance(e.get("event"), str) for e in events):
            return FakeResponse.json(400, {"type": "validation_error", "detail": "bad event"})
        response = FakeResponse.json(200, {"status": 1})
        response.events = tuple(_stored(e, str(key)) for e in events)
        return response

    def _v1_route(self, request: RecordedRequest) -> FakeResponse:
        auth = request.header("Authorization") or ""
        key = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        if self._key_refused(key) is not None:
            return FakeResponse.json(
                401, {"error": "missing_authorization", "error_description": "Bearer key"}
            )
        body = request.json
        events = body.get("batch") if isinstance(body, dict) else None
        problem = _v1_problem(request, body, events)
        if problem is not None:
            return FakeResponse.json(
                400, {"error": "invalid_payload", "error_description": problem}
            )
        assert isinstance(events, list)
        results: dict[str, Any] = {}
        stored: list[Event] = []
        lib = (request.header("PostHog-Sdk-Info") or "").partition("/")
        used: set[int] = set()
        for event in events:
            uid = str(event["uuid"])
            verdict, details = self._verdict_for(uid, used)
            results[uid] = {"result": verdict, **({"details": details} if details else {})}
            if verdict in ("ok", "warning"):
                stored.append(_stored(_from_v1(event, lib[0], lib[2]), str(key)))
        self._spend(used)
        headers = {"PostHog-Request-Id": request.header("PostHog-Request-Id") or ""}
        if any(r["result"] == "retry" for r in results.values()):
            headers["Retry-After"] = "0"
        response = FakeResponse.json(200, {"results": results}, **headers)
        response.events = tuple(stored)
        return response

    def _verdict_for(self, uid: str, used: set[int]) -> tuple[str, str]:
        with self._lock:
            for scripted in self._verdicts:
                if scripted.uuids is None or uid in scripted.uuids:
                    used.add(id(scripted))
                    return scripted.verdict, scripted.details
        return "ok", ""

    def _spend(self, used: set[int]) -> None:
        """One request used these scripted verdicts: count it against their ``times``."""
        with self._lock:
            for scripted in list(self._verdicts):
                if id(scripted) in used and scripted.times is not None:
                    scripted.times -= 1
                    if scripted.times <= 0:
                        self._verdicts.remove(scripted)


def _v1_problem(request: RecordedRequest, body: object, events: object) -> str | None:
    """What makes a v1 request one PostHog would refuse (None: nothing)."""
    for header in ("PostHog-Sdk-Info", "PostHog-Attempt", "PostHog-Request-Id"):
        if not request.header(header):
            return f"missing header {header}"
    if not isinstance(body, dict) or not isinstance(body.get("created_at"), str):
        return "body must be an object with created_at and batch"
    if "api_key" in body or "sent_at" in body:
        return "api_key and sent_at do not belong in a v1 body"
    if not isinstance(events, list) or not events:
        return "batch must be a non-empty list"
    for event in events:
        if not isinstance(event, dict) or not all(
            isinstance(event.get(k), str) for k in ("event", "uuid", "distinct_id", "timestamp")
        ):
            return "each event needs event, uuid, distinct_id and timestamp"
        if not isinstance(event.get("properties", {}), dict):
            return "properties must be an object"
    return None


def _from_v1(event: Mapping[str, Any], lib: str, version: str) -> dict[str, Any]:
    """A v1 event as PostHog stores it: the lifted parts back in the properties, ``$lib`` from
    the ``PostHog-Sdk-Info`` header."""
    properties = dict(event.get("properties") or {})
    if lib:
        properties.setdefault("$lib", lib)
        properties.setdefault("$lib_version", version)
    for option, name in _V1_OPTIONS.items():
        options = event.get("options")
        if isinstance(options, dict) and option in options:
            properties.setdefault(name, options[option])
    for root, name in (("session_id", "$session_id"), ("window_id", "$window_id")):
        if root in event:
            properties.setdefault(name, event[root])
    stored = {k: event[k] for k in ("event", "distinct_id", "timestamp", "uuid")}
    stored["properties"] = properties
    return stored


def _stored(event: Mapping[str, Any], key: str) -> Event:
    """An event as PostHog stores it; top-level ``$set``/``$set_once`` (v0) go inside the
    properties, where v1 and PostHog's own SDKs put them."""
    stored = Event(event)
    for name in ("$set", "$set_once"):
        if name in stored:
            properties = dict(stored.properties)
            inside = properties.get(name)
            top = stored.pop(name)
            properties[name] = {**top, **inside} if isinstance(inside, dict) else top
            stored["properties"] = properties
    stored.api_key = key
    return stored
