"""Turning a queued item into its wire bytes, on the consumer thread (``Writer``).

The fast path (``Composer``): a queued event with flat properties is written straight to its
wire bytes, with the client's static properties encoded once, instead of building the event dict
(``finalize``), its v1 shape (``v1_event``) and encoding all of it (benchmarks: end-to-end
events/s, where this was most of the consumer's time per event).

The bytes are exactly those of the general path: the same C encoder writes every value, the
keys come in the same order, and anything this path does not handle goes to the general path
(``compose`` returns None): properties that are not flat, keys the general path moves or
overrides (options lifted by v1, ``$groups``, ``$lib``, the static properties), a value the
strict encoder refuses (NaN, a lone surrogate), an oversize event. ``tests/test_compose.py``
holds the two paths to the same bytes.
"""

from __future__ import annotations

import json.encoder
import math
from collections.abc import Callable, Mapping
from typing import Any

from .._config import MAX_EVENT_BYTES, Config
from .._events.messages import (
    VALUES,
    Pending,
    format_epoch,
    is_pending,
    uuid7_time,
    uuid_text,
)
from .._runtime.logs import RateLimitedLog
from .encoding import Deferred, encode_within, finalize
from .ledger import Ledger
from .wire import V1, V1_LIFTED, v1_event

_encode_str: Callable[[str], str] | None = getattr(json.encoder, "c_encode_basestring", None)
_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_ATOMS = frozenset({str, int, float, bool, type(None)})
# Properties the general path treats apart: none of them may be in an event this path writes.
_APART = frozenset({"$groups", "$lib", "$lib_version", *V1_LIFTED})


def _reject(value: object) -> Any:
    raise TypeError  # only atoms reach this encoder: anything else goes to the general path


class Composer:
    """Writes events of one client (its static properties, its protocol)."""

    def __init__(self, static: Mapping[str, Any], protocol: str, max_bytes: int) -> None:
        self._v1 = protocol == V1
        self._max_bytes = max_bytes
        self._encode: Callable[[Any, int], list[str]] | None = None
        if _encode_str is None or _make_encoder is None:  # an interpreter without _json
            return
        if not _APART.isdisjoint(set(static) - {"$lib", "$lib_version"}):
            return  # a super property the general path moves (v1 options, $groups)
        if not all(type(k) is str for k in static) or not _ATOMS.issuperset(
            map(type, static.values())
        ):
            return  # mutable or unusual super properties: encoded afresh each time
        if any(type(v) is float and not math.isfinite(v) for v in static.values()):
            return
        self._reserved = _APART | frozenset(static)
        # The encoder JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        # makes, without its cycle check: these values are atoms and flat dicts of them.
        encode = _make_encoder(None, _reject, _encode_str, None, ":", ",", False, False, False)
        kept = {k: v for k, v in static.items() if not (self._v1 and k in ("$lib", "$lib_version"))}
        try:
            text = "".join(encode(kept, 0))
            text.encode("utf-8")
        except (ValueError, TypeError, UnicodeEncodeError):
            return
        self._static = text[1:-1]  # the members, without the braces
        self._encode = encode

    def compose(self, item: Pending) -> tuple[bytes, str] | None:
        """The event's bytes and uuid, or None: the general path writes this one."""
        event, distinct_id, keys, stamp, uuid, groups = item[:VALUES]
        encode = self._encode
        if keys is None or encode is None or not self._reserved.isdisjoint(keys):
            return None
        props = dict(zip(keys, item[VALUES:], strict=False))
        if groups is not None:
            props["$groups"] = dict(groups)
        if stamp is None:
            stamp = uuid7_time(uuid)
        if isinstance(stamp, float):
            stamp = format_epoch(stamp)
        uid = uuid_text(uuid)
        quote = _encode_str
        assert quote is not None
        try:
            own = "".join(encode(props, 0))[1:-1]
        except (ValueError, TypeError):  # NaN or infinity: the general path replaces them
            return None
        static = self._static
        if static:
            own = f"{static},{own}" if own else static
        if self._v1:
            text = (
                f'{{"event":{quote(event)},"uuid":{quote(uid)},'
                f'"distinct_id":{quote(distinct_id)},"timestamp":{quote(stamp)},'
                f'"options":{{}},"properties":{{{own}}}}}'
            )
        else:
            text = (
                f'{{"event":{quote(event)},"distinct_id":{quote(distinct_id)},'
                f'"properties":{{{own}}},"timestamp":{quote(stamp)},"uuid":{quote(uid)}}}'
            )
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the general path repairs it
            return None
        if len(data) > self._max_bytes:
            return None
        return data, uid


class Writer:
    """One client's queued items (events, ``Deferred`` ones, finished dicts) to wire bytes."""

    def __init__(self, static: Mapping[str, Any], config: Config, ledger: Ledger) -> None:
        self._static = static
        self._v1 = config.capture_mode == V1
        self._ledger = ledger
        self._composer = Composer(static, config.capture_mode, MAX_EVENT_BYTES)
        self._log = RateLimitedLog()

    def write(self, item: dict[str, Any] | Pending | Deferred) -> tuple[bytes, str] | None:
        """The item's bytes and uuid; None when it is not sent (counted in the ledger)."""
        if is_pending(item):
            composed = self._composer.compose(item)
            if composed is not None:
                return composed
        completed = item.complete() if isinstance(item, Deferred) else item
        if completed is None:  # a before_send hook dropped it
            self._ledger.discard("before_send")
            return None
        message = finalize(completed, self._static)
        if self._v1:
            message = v1_event(message)
        data, trimmed = encode_within(message, MAX_EVENT_BYTES)
        if data is None:
            self._ledger.drop([message], "oversize", "encoded size over 900 KiB")
            return None
        if trimmed:
            self._log.warning(
                "trimmed",
                "event %r was over 900 KiB; long strings were shortened",
                message["event"],
            )
        return data, str(message.get("uuid"))
