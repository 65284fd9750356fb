"""The consumer's fast path: a queued event with flat properties written straight to its wire
bytes, with the client's static properties encoded once, instead of building the event dict
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

from .._events.messages import Pending, format_epoch, uuid7_time, uuid_text
from .wire import V1, V1_LIFTED

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
        event, distinct_id, keys, stamp, uuid, groups = item[:6]
        encode = self._encode
        if keys is None or encode is None or not self._reserved.isdisjoint(keys):
            return None
        props = dict(zip(keys, item[6:], strict=False))
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
        if static and own:
            own = f"{static},{own}"
        elif static:
            own = static
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
