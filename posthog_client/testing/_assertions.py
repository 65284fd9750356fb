"""``assert_captured``: find an event, or explain in one readable message why none matched."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._records import Event, EventList

_MISSING = object()


def _differences(
    event: Event, name: str, distinct_id: object, wanted: Mapping[str, Any]
) -> list[str]:
    diffs = []
    if event.name != name:
        diffs.append(f"event is {event.name!r}, expected {name!r}")
    if distinct_id is not None and event.distinct_id != str(distinct_id):
        diffs.append(f"distinct_id is {event.distinct_id!r}, expected {str(distinct_id)!r}")
    for key, value in wanted.items():
        got = event.properties.get(key, _MISSING)
        if got is _MISSING:
            diffs.append(f"property {key!r} is missing, expected {value!r}")
        elif got != value:
            diffs.append(f"property {key!r} is {got!r}, expected {value!r}")
    return diffs


def matches(event: Event, name: str, distinct_id: object, wanted: Mapping[str, Any]) -> bool:
    return not _differences(event, name, distinct_id, wanted)


def find_or_explain(
    events: EventList, name: str, distinct_id: object, wanted: Mapping[str, Any]
) -> Event:
    scored = [(_differences(e, name, distinct_id, wanted), e) for e in events]
    for diffs, event in scored:
        if not diffs:
            return event
    expected = f"{name!r}" + (f" for {str(distinct_id)!r}" if distinct_id is not None else "")
    if wanted:
        expected += f" with {json.dumps(dict(wanted), default=str, sort_keys=True)}"
    if not scored:
        raise AssertionError(f"expected an event {expected}, but no events were received")
    # Closest: same name first, then same person, then fewest differences.
    diffs, nearest = min(
        scored,
        key=lambda pair: (pair[1].name != name, len(pair[0]), pair[1].distinct_id != distinct_id),
    )
    shown = {k: v for k, v in nearest.properties.items() if not k.startswith(("$lib", "$python"))}
    lines = [
        f"expected an event {expected}; none of the {len(scored)} received events matches.",
        f"Closest: {nearest.name!r} for {nearest.distinct_id!r}:",
        *(f"  - {d}" for d in diffs),
        f"  its properties: {json.dumps(shown, default=str, sort_keys=True)[:500]}",
        f"Received: {', '.join(repr(n) for n in events.names()[:20])}",
    ]
    raise AssertionError("\n".join(lines))
