"""Pure: make property values JSON-safe without ever losing the event, and encode events.

Two passes, so the caller's thread pays only for what needs it:

* ``clean_properties`` runs on the caller's thread. It copies the containers it is given (so a
  caller mutating its dict after ``capture()`` cannot change or break what is sent) and converts
  values JSON cannot hold. Plain strings, ints, bools and None are taken as they are.
  ``freeze_properties`` and ``freeze_groups`` keep flat properties as tuples for the queue
  (``thaw_properties`` makes the dict again); non-finite floats among them are replaced when
  they are thawed or encoded, on the consumer thread, with the same result.
* ``fix_text`` and ``clean_value`` are also what the encoder (``_delivery.encoding``) falls back
  on when its one C-speed pass fails (lone surrogates, a value a ``before_send`` hook added).

Every coercion is logged once per type, never per event.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import json
import logging
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

logger = logging.getLogger("posthog_client")

MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
_seen_coercions: set[str] = set()


def _note(kind: str, what: str) -> None:
    if kind not in _seen_coercions:
        _seen_coercions.add(kind)
        logger.warning("posthog_client: property value of type %s was %s (logged once)", kind, what)


def fix_text(text: str) -> str:
    """Join surrogate pairs and replace lone surrogates, which UTF-8 (and ClickHouse) reject."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    joined = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    _note("str with lone surrogates", "repaired with U+FFFD")
    return _SURROGATE.sub("\ufffd", joined)


def _key(key: object) -> str:
    if type(key) is str:
        return key
    if isinstance(key, str):
        return str.__str__(key)
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)  # the same text JSON encoders write for such keys
    _note(f"dict key {type(key).__name__}", "converted to a string")
    return _safe_str(key)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the event
        return f"<unprintable {type(value).__name__}>"


_PLAIN = frozenset({str, int, bool, type(None)})
_PLAIN_OR_FLOAT = _PLAIN | {float}
_STR = frozenset({str})


def clean_properties(props: Mapping[Any, Any]) -> dict[str, Any]:
    """Return a JSON-safe copy of a properties mapping (the caller's object is never changed).

    The common case, flat properties of plain types, costs one C-level copy and two C-level
    scans of the types; only mappings holding anything else are walked in Python.
    """
    try:
        copied = dict(props)
    except Exception:  # a Mapping whose items() raises: keep the event, note the loss
        _note(f"mapping {type(props).__name__}", "unreadable and replaced by {}")
        return {}
    if _STR.issuperset(map(type, copied)):
        kinds = set(map(type, copied.values()))
        if kinds <= _PLAIN:
            return copied
        if kinds <= _PLAIN_OR_FLOAT and all(
            math.isfinite(v) for v in copied.values() if type(v) is float
        ):
            return copied
    out: dict[str, Any] = {}
    for key, value in copied.items():
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            out[key if type(key) is str else _key(key)] = value
        else:
            out[key if type(key) is str else _key(key)] = clean_value(value, 1, set())
    return out


# One tuple object for equal tuples of exact strings (property keys, group pairs): queued events
# of the same shape share it (benchmarks: queued memory). Bounded: cleared when full.
_shapes: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_MAX_SHAPES = 4096


def _shared(items: tuple[Any, ...]) -> tuple[Any, ...]:
    found = _shapes.get(items)
    if found is None:
        if len(_shapes) >= _MAX_SHAPES:
            _shapes.clear()
        found = _shapes.setdefault(items, items)
    return found


Frozen = tuple[tuple[str, ...] | None, tuple[Any, ...] | dict[str, Any]]


def freeze_properties(props: Any) -> Frozen:
    """A snapshot of the caller's properties (a mapping or None) for the queue: ``(keys,
    values)`` tuples when they are flat (exact ``str`` keys; ``str``, ``int``, ``float``,
    ``bool`` or None values), else ``(None, clean_properties(props))``. Tuples, not a dict
    copy: half the memory, and the garbage collector stops tracking them (benchmarks: queued
    memory, burst worst capture())."""
    if props is None:
        return (), ()
    if type(props) is dict:
        copied = props.copy()  # one C-level copy: the keys and values below belong together
        values = tuple(copied.values())
        if _PLAIN_OR_FLOAT.issuperset(map(type, values)):
            keys = tuple(copied)
            if _STR.issuperset(map(type, keys)):
                return _shared(keys), values
    cleaned = clean_properties(props)
    if _PLAIN_OR_FLOAT.issuperset(map(type, cleaned.values())):  # keys are str now
        return _shared(tuple(cleaned)), tuple(cleaned.values())
    return None, cleaned


def thaw_properties(keys: tuple[str, ...] | None, values: Any) -> dict[str, Any]:
    """The properties dict of ``freeze_properties``'s result, NaN and infinities replaced as
    ``clean_properties`` replaces them. A dict (``keys`` None) is returned as it is."""
    if keys is None:
        return values  # type: ignore[no-any-return]
    props = dict(zip(keys, values, strict=False))
    for key, value in props.items():
        if type(value) is float and not math.isfinite(value):
            props[key] = clean_value(value)
    return props


def freeze_groups(groups: Any) -> tuple[tuple[str, Any], ...] | None:
    """Groups as pairs; equal groups of strings share one tuple (benchmarks: queued memory)."""
    if groups is None:
        return None
    if type(groups) is dict:
        copied = groups.copy()
        if _STR.issuperset(map(type, copied)) and _STR.issuperset(map(type, copied.values())):
            return _shared(tuple(copied.items()))
    return tuple(clean_properties(groups).items())


def clean_value(value: Any, depth: int = 0, path: set[int] | None = None) -> Any:
    """Return a JSON-safe version of ``value``; containers are copied, cycles and depth cut."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        _note("float NaN/Infinity", "sent as null")
        return None
    if path is None:
        path = set()
    if isinstance(value, (dict, list, tuple, set, frozenset, Mapping)):
        if depth >= MAX_DEPTH:
            _note("deeply nested container", f"cut at depth {MAX_DEPTH}")
            return "<max depth exceeded>"
        marker = id(value)
        if marker in path:
            _note("self-referencing container", "cut where it refers to itself")
            return "<cycle>"
        path.add(marker)
        try:
            if isinstance(value, Mapping):
                try:
                    items = list(value.items())
                except Exception:
                    return {}
                return {_key(k): clean_value(v, depth + 1, path) for k, v in items}
            if not isinstance(value, (list, tuple)):
                _note(type(value).__name__, "sent as a list")
            return [clean_value(v, depth + 1, path) for v in list(value)]
        finally:
            path.discard(marker)
    try:
        return _clean_scalar(value, depth, path)
    except Exception:  # an object whose own conversions fail: keep the event, name the value
        _note(type(value).__name__, "not convertible and sent as a placeholder")
        return f"<unserializable {type(value).__name__}>"


def _clean_scalar(value: Any, depth: int, path: set[int]) -> Any:
    name = type(value).__name__
    if isinstance(value, enum.Enum):
        return clean_value(value.value, depth, path)
    if isinstance(value, (bool, int)):  # int subclasses
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, float):
        return clean_value(float(value), depth, path)
    if isinstance(value, Decimal):
        _note("Decimal", "sent as a float")
        return float(value) if value.is_finite() else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            _note(name, "not UTF-8, sent as base64")
            return base64.b64encode(raw).decode("ascii")
    converted = _convert_object(value)
    if converted is not _UNCONVERTED:
        return clean_value(converted, depth + 1, path)
    _note(name, "sent as its string form")
    return _safe_str(value)


_UNCONVERTED = object()


def _convert_object(value: Any) -> Any:
    """Dataclasses, pydantic-like models and numpy values, without importing any of them."""
    try:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        if hasattr(value, "dtype") and callable(getattr(value, "tolist", None)):
            return value.tolist()  # numpy scalars and arrays
        for method in ("model_dump", "dict", "to_dict"):  # pydantic v2, v1, others
            dump = getattr(value, method, None)
            if callable(dump):
                return dump()
        if callable(getattr(value, "item", None)) and callable(getattr(value, "__float__", None)):
            return value.item()
    except Exception:  # the object's own conversion failed: fall back to its string form
        pass
    return _UNCONVERTED
