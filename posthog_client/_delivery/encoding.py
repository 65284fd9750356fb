"""The one JSON encoder for everything sent, and finishing events on the consumer thread."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from .._events.messages import Pending, expand, format_epoch, is_pending
from .._events.sanitize import clean_value, fix_text

TRUNCATED_MARK = "…[truncated by posthog-client]"
# Tried in order on an oversize event: the longest string any value may keep.
_TRIM_STEPS = (64 * 1024, 8 * 1024, 1024, 256)


class FinalEvent(dict[str, Any]):
    """An event that is complete already (``before_send`` hooks ran on it): sent as it is."""


class Deferred(NamedTuple):
    """An event completed on the consumer thread, because completing it may wait (flag values
    asked of the server for ``send_feature_flags``). ``complete()`` returns the final event, or
    None when a ``before_send`` hook dropped it."""

    complete: Callable[[], dict[str, Any] | None]


def finalize(message: dict[str, Any] | Pending, static: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in what the caller's thread left for later: the event dict itself, the static
    context and the timestamp text. Caller properties win over the static context.
    """
    if type(message) is FinalEvent:
        return message
    if is_pending(message):
        message = expand(message)
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
        return (value[:limit] + TRUNCATED_MARK, True) if len(value) > limit else (value, False)
    if isinstance(value, dict):
        pairs = {key: _shorten(item, limit) for key, item in value.items()}
        return {key: item for key, (item, _) in pairs.items()}, any(c for _, c in pairs.values())
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


def decode_events(events: Sequence[bytes | dict[str, Any] | Pending]) -> list[dict[str, Any]]:
    """Events back as dicts, for ``on_error`` (they carry no keys)."""
    return [
        expand(e) if is_pending(e) else e if isinstance(e, dict) else json.loads(cast(bytes, e))
        for e in events
    ]


def _repair(value: Any, depth: int = 0) -> Any:
    """Slow path of ``encode``: clean everything and repair every string."""
    value = clean_value(value, depth)
    if isinstance(value, str):
        return fix_text(value)
    if isinstance(value, dict):
        return {fix_text(k): _repair(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_repair(v, depth + 1) for v in value]
    return value


_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=clean_value
)


def encode(value: object) -> bytes:
    """Encode to UTF-8 JSON that a strict parser accepts (no NaN, no lone surrogates; values
    JSON cannot hold are converted as in ``clean_value``). Never raises."""
    try:
        return _encoder.encode(value).encode("utf-8")
    except (ValueError, TypeError, RecursionError, UnicodeEncodeError):
        return _encoder.encode(_repair(value)).encode("utf-8")
