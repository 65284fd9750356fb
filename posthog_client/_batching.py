"""Pure: turn queued events into the bytes of a ``/batch/`` request."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._messages import Pending, format_epoch
from ._sanitize import encode

TRUNCATED_MARK = "…[truncated by posthog-client]"
# Tried in order on an oversize event: the longest string any value may keep.
_TRIM_STEPS = (64 * 1024, 8 * 1024, 1024, 256)


def finalize(message: dict[str, Any] | Pending, static: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in what the caller's thread left for later: the event dict itself, the static
    context and the timestamp text. Caller properties win over the static context.
    """
    if type(message) is Pending:
        message = message.expand()
    assert isinstance(message, dict)
    stamp = message.get("timestamp")
    if type(stamp) is float:
        message["timestamp"] = format_epoch(stamp)
    properties = message.get("properties")
    message["properties"] = (
        {**static, **properties} if isinstance(properties, dict) else dict(static)
    )
    return message


def _shorten(value: Any, limit: int) -> tuple[Any, bool]:
    if isinstance(value, str):
        if len(value) > limit:
            return value[:limit] + TRUNCATED_MARK, True
        return value, False
    if isinstance(value, dict):
        changed = False
        out = {}
        for key, item in value.items():
            out[key], cut = _shorten(item, limit)
            changed = changed or cut
        return out, changed
    if isinstance(value, list):
        items = [_shorten(item, limit) for item in value]
        return [item for item, _ in items], any(cut for _, cut in items)
    return value, False


def encode_within(message: dict[str, Any], max_bytes: int) -> tuple[bytes | None, bool]:
    """Encode an event; if it is over ``max_bytes``, shorten its long strings until it fits.

    Returns ``(encoded, trimmed)``; ``encoded`` is None when even trimming could not make it fit.
    A trimmed event carries ``$posthog_client_truncated: true`` so the loss is visible.
    """
    data = encode(message)
    if len(data) <= max_bytes:
        return data, False
    for limit in _TRIM_STEPS:
        shortened, cut = _shorten(message, limit)
        if cut:
            shortened["properties"]["$posthog_client_truncated"] = True
            data = encode(shortened)
            if len(data) <= max_bytes:
                return data, True
    return None, False


class Batch:
    """Encoded events sent together, with their retry state. A batch answered 413 is split:
    it is finished when both halves are."""

    __slots__ = ("events", "size", "attempts", "not_before", "done", "children")

    def __init__(self, events: list[bytes], size: int) -> None:
        self.events = events
        self.size = size
        self.attempts = 0
        self.not_before = 0.0
        self.done = False
        self.children: tuple[Batch, ...] = ()

    def finished(self) -> bool:
        return self.done and all(child.finished() for child in self.children)


def batch_body(
    api_key: str, events: Sequence[bytes], sent_at: float, historical_migration: bool
) -> bytes:
    """The JSON body of one ``/batch/`` request, reusing each event's encoded bytes."""
    head = {
        "api_key": api_key,
        "historical_migration": historical_migration,
        "sent_at": format_epoch(sent_at),
    }
    prefix = json.dumps(head, separators=(",", ":"))[:-1].encode("utf-8")
    return prefix + b',"batch":[' + b",".join(events) + b"]}"


def decode_events(events: Sequence[bytes | dict[str, Any] | Pending]) -> list[dict[str, Any]]:
    """Events back as dicts, for ``on_error`` (they carry no keys)."""
    out = []
    for event in events:
        if isinstance(event, Pending):
            out.append(event.expand())
        elif isinstance(event, dict):
            out.append(event)
        else:
            out.append(json.loads(event))
    return out
