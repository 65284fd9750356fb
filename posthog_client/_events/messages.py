"""Pure: build the events PostHog ingests. Time and randomness come in as arguments.

Events are built as plain dicts. The static context (``$lib``, ``$lib_version``, ...) is not copied
into each event here: the consumer merges it at encoding time, under the caller's properties, so
caller properties always win and a queued event holds only what is specific to it.
"""

from __future__ import annotations

import datetime as dt
import math
import platform
import uuid as uuidlib
from collections.abc import Mapping
from typing import Any, TypeGuard

from .._errors import InvalidCall
from .sanitize import clean_properties, freeze_groups, freeze_properties, thaw_properties

LIB_NAME = "posthog-client"


def static_properties(version: str, disable_geoip: bool) -> dict[str, Any]:
    """Properties every event carries, computed once per client."""
    return {
        "$lib": LIB_NAME,
        "$lib_version": version,
        "$geoip_disable": disable_geoip,
        "$is_server": True,
        "$python_runtime": platform.python_implementation(),
        "$python_version": platform.python_version(),
        "$os": platform.system() or "unknown",
    }


def uuid7_int(unix_seconds: float, rand: int) -> int:
    """A UUIDv7 as a 128-bit int, from a Unix time and 62 random bits.

    The 12 ``rand_a`` bits hold the sub-millisecond fraction (RFC 9562, section 6.2, method 3),
    so the uuid carries the event's time to a quarter of a microsecond: queued events need not
    keep a timestamp of their own (see ``uuid7_time``).
    """
    millis = unix_seconds * 1000
    whole = int(millis)
    fraction = int((millis - whole) * 4096) & 0xFFF
    value = (whole & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | fraction << 64  # time, version
    return value | 0b10 << 62 | (rand & 0x3FFF_FFFF_FFFF_FFFF)  # variant, rand_b


def uuid7_time(value: int) -> float:
    """The Unix time a ``uuid7_int`` was made with."""
    return ((value >> 80) + ((value >> 64) & 0xFFF) / 4096) / 1000


def uuid_text(value: int | str) -> str:
    """Canonical text of a UUID kept as an int (queued events keep ints: 32 bytes, not 85)."""
    if isinstance(value, str):
        return value
    # Hex of byte slices: twice as fast as slicing one hex string (benchmarks: capture() mean,
    # end-to-end events/s; the caller and the consumer both write it).
    raw = value.to_bytes(16, "big")
    return f"{raw[:4].hex()}-{raw[4:6].hex()}-{raw[6:8].hex()}-{raw[8:10].hex()}-{raw[10:].hex()}"


# A captured event waiting in the queue: one plain tuple
#     (event, distinct_id, keys, timestamp, uuid, groups, *values)
# as compact as it can be: the uuid as an int, the groups as pairs, and flat properties as a tuple
# of keys (one tuple object shared by every event of the same shape) followed by the values
# (``keys`` None: one value, the cleaned properties dict). ``timestamp`` None: the time inside the
# (generated) uuid. One plain tuple, not a NamedTuple or a tuple of values inside: CPython's
# garbage collector stops tracking an exact tuple at its first pass when its items are untracked
# (strings, numbers, untracked tuples), never a tuple subclass, so a queue of these costs the
# collections nothing and only one tracked object is made per event (benchmarks: burst worst
# capture(), queued memory). ``expand()`` makes the event dict on the consumer thread.
Pending = tuple[Any, ...]
VALUES = 6  # where the values start


def is_pending(item: object) -> TypeGuard[Pending]:
    return type(item) is tuple  # (the queue's other items are dicts and classes of their own)


def expand(item: Pending) -> dict[str, Any]:
    event, distinct_id, keys, stamp, uid, groups = item[:VALUES]
    props = thaw_properties(keys, item[VALUES:] if keys is not None else item[VALUES])
    if groups is not None and "$groups" not in props:
        props["$groups"] = dict(groups)
    if stamp is None:
        stamp = uuid7_time(uid)
    return _event(event, distinct_id, props, stamp, uuid_text(uid))


def check_uuid(value: object) -> str | None:
    """A caller's uuid as canonical text, or None when it is not a UUID."""
    if isinstance(value, uuidlib.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuidlib.UUID(value))
        except ValueError:
            return None
    return None


def format_epoch(seconds: float) -> str:
    """RFC 3339 UTC text for a Unix time: ``datetime.fromtimestamp(seconds, utc).isoformat()``,
    with the date and time of day made once per second (benchmarks: end-to-end events/s: every
    event's timestamp is written on the consumer thread)."""
    global _last_second
    fraction, whole = math.modf(seconds)
    micros = round(fraction * 1e6)  # as datetime rounds: half to even
    if not (0 <= micros < 1_000_000 and 0 <= whole < 253_402_300_800):
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat()
    second, prefix = _last_second
    if second != whole:
        text = dt.datetime.fromtimestamp(int(whole), dt.timezone.utc).isoformat()
        second, prefix = _last_second = (whole, text[:-6])  # without "+00:00"
    return f"{prefix}.{micros:06d}+00:00" if micros else f"{prefix}+00:00"


_last_second: tuple[float, str] = (-1.0, "")


def to_utc_text(value: object) -> str | None:
    """RFC 3339 UTC text for a caller's timestamp, or None when it cannot be read.

    Aware datetimes and ISO strings with any offset are converted; naive values are UTC;
    numbers are Unix seconds.
    """
    if isinstance(value, str):
        from dateutil.parser import isoparse  # only callers passing text timestamps pay for it

        try:
            value = isoparse(value.strip())
        except (ValueError, OverflowError):
            return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        try:
            return value.astimezone(dt.timezone.utc).isoformat()
        except (ValueError, OverflowError):
            return None
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return format_epoch(float(value))
        except (ValueError, OverflowError, OSError):
            return None
    return None


def check_distinct_id(value: object, name: str = "distinct_id") -> str:
    if isinstance(value, str):
        if not value.strip():
            raise InvalidCall(f"{name} is empty")
        return value
    if (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, uuidlib.UUID):
        return str(value)
    raise InvalidCall(f"{name} must be a non-empty string, got {type(value).__name__}")


def _check_name(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCall(f"{name} must be a non-empty string, got {value!r:.40}")
    return value


def _properties(value: object, name: str = "properties") -> dict[str, Any]:
    mapping = _require_mapping(value, name)
    return {} if mapping is None else clean_properties(mapping)


def _require_mapping(value: object, name: str) -> Mapping[Any, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    raise InvalidCall(f"{name} must be a dict, got {type(value).__name__}")


def _event(
    event: str, distinct_id: str, properties: dict[str, Any], timestamp: str | float, uid: str
) -> dict[str, Any]:
    return {
        "event": event,
        "distinct_id": distinct_id,
        "properties": properties,
        "timestamp": timestamp,
        "uuid": uid,
    }


def capture(
    distinct_id: object,
    event: object,
    properties: object,
    groups: object,
    timestamp: str | float | None,
    uid: int | str,
) -> Pending:
    if type(properties) is not dict:
        _require_mapping(properties, "properties")
    keys, values = freeze_properties(properties)
    name = _check_name(event, "event")
    person = check_distinct_id(distinct_id)
    if type(groups) is not dict and groups is not None and not isinstance(groups, Mapping):
        raise InvalidCall(f"groups must be a dict of group type to group key, got {type(groups)}")
    head = (name, person, keys, timestamp, uid, freeze_groups(groups))
    return head + values if keys is not None else (*head, values)  # type: ignore[operator]


def person(
    kind: str, distinct_id: object, properties: object, timestamp: str | float, uid: str
) -> dict[str, Any]:
    """``$identify`` (carrying ``$set``), ``$set`` or ``$set_once``: the person properties go in
    the event's properties, under ``$set_once`` for ``$set_once`` and ``$set`` otherwise, as
    PostHog's specs and posthog-js send them."""
    key = "$set_once" if kind == "$set_once" else "$set"
    props = {key: _properties(properties)}
    return _event(kind, check_distinct_id(distinct_id), props, timestamp, uid)


def alias(
    previous_id: object, distinct_id: object, timestamp: str | float, uid: str
) -> dict[str, Any]:
    previous = check_distinct_id(previous_id, "previous_id")
    new = check_distinct_id(distinct_id)
    return _event(
        "$create_alias", previous, {"distinct_id": previous, "alias": new}, timestamp, uid
    )


def group_identify(
    group_type: object,
    group_key: object,
    properties: object,
    distinct_id: object,
    timestamp: str | float,
    uid: str,
) -> dict[str, Any]:
    kind = _check_name(group_type, "group_type")
    key = check_distinct_id(group_key, "group_key")
    # A fixed id per group, not a random one: a random id would create a junk person per call.
    owner = f"${kind}_{key}" if distinct_id is None else check_distinct_id(distinct_id)
    props = {"$group_type": kind, "$group_key": key, "$group_set": _properties(properties)}
    return _event("$groupidentify", owner, props, timestamp, uid)
