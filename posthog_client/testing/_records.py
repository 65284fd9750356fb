"""What the fake server saw: requests and events, as typed, easy-to-assert values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


class Event(dict[str, Any]):
    """An event as received (a dict), with shortcuts for what tests look at most."""

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
