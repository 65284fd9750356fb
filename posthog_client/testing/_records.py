"""What the fake server saw (requests and events, as typed, easy-to-assert values) and what it
answers (``FakeResponse``, and the scripted answers of faults and handlers)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; ``body`` is gunzipped, ``json`` parsed when possible."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    json: Any = None
    status: int = 0
    at: float = 0.0
    events: tuple[Event, ...] = field(default=(), repr=False)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


class Event(dict[str, Any]):
    """An event as PostHog stores it (a dict), with shortcuts for what tests look at most.
    ``api_key`` is the project key it came with."""

    api_key: str | None = None

    @property
    def name(self) -> str:
        return str(self.get("event"))

    @property
    def distinct_id(self) -> str:
        return str(self.get("distinct_id"))

    @property
    def properties(self) -> dict[str, Any]:
        props = self.get("properties")
        return props if isinstance(props, dict) else {}

    @property
    def uuid(self) -> str:
        return str(self.get("uuid"))


class EventList(list[Event]):
    """A list of events with filters: ``fake.events.named("signup").for_distinct_id("u1")``."""

    def named(self, event: str) -> EventList:
        return EventList(e for e in self if e.get("event") == event)

    def for_distinct_id(self, distinct_id: object) -> EventList:
        return EventList(e for e in self if e.get("distinct_id") == str(distinct_id))

    def where(self, **properties: Any) -> EventList:
        return EventList(
            e for e in self if all(e.properties.get(k) == v for k, v in properties.items())
        )

    def names(self) -> list[str]:
        return [e.name for e in self]

    @classmethod
    def of(cls, items: Iterable[Mapping[str, Any]]) -> EventList:
        return cls(Event(item) for item in items)


@dataclass
class FakeResponse:
    """An answer from the fake. ``error`` ("connection" or "timeout") means no HTTP answer;
    ``delay`` is applied by the front end before answering; ``trickle`` sends the body one byte
    per that many seconds (loopback server only)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    delay: float = 0.0
    trickle: float = 0.0
    events: tuple[Event, ...] = ()  # what a /batch/ answer accepted (recorded, not sent back)

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> FakeResponse:
        return cls(
            status, json.dumps(payload).encode(), {"Content-Type": "application/json", **headers}
        )


Handler = Callable[[RecordedRequest], "FakeResponse | None"]


@dataclass
class Fault:
    """A scripted answer: a fixed ``response``, or a ``handler`` that may answer (None: answer
    as usual), for requests to ``path`` (None: any) whose body is at least ``min_body`` bytes."""

    path: str | None
    times: int | None  # None: forever
    response: FakeResponse | None = None
    min_body: int = 0
    handler: Handler | None = None

    def matches(self, path: str, size: int) -> bool:
        if self.path == "capture":  # whichever capture endpoint the client uses (v0 or v1)
            wanted = path.rstrip("/") in ("/batch", "/i/v1/analytics/events")
        else:
            wanted = self.path is None or path.rstrip("/") == self.path.rstrip("/")
        return wanted and size >= self.min_body


def _strict_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def parse_strict_json(body: bytes) -> Any:
    """Parse as a strict server would: UTF-8 only, no NaN/Infinity."""
    return json.loads(body.decode("utf-8"), parse_constant=_strict_constant)
