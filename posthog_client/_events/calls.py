"""Pure: which argument of a ``capture()`` call is which.

``capture`` takes PostHog's backend-docs form, ``capture(distinct_id, event, properties)``, and
the official Python SDK's form, ``capture(event, distinct_id=..., properties=...)``. One rule
decides, from the call's shape alone (never from the values):

1. Keywords always name their argument.
2. A lone positional argument is the event, unless ``event=`` is given as a keyword (then it is
   the distinct id). ``capture("signed up")``: the distinct id comes from the request context.
3. Otherwise the positional arguments fill, in order, the places of ``distinct_id``, ``event``
   and ``properties`` that no keyword named: ``capture("u1", "signed up", {...})``, and
   ``capture("signed up", {...}, distinct_id="u1")``.

A call the rule cannot read without guessing (more positional arguments than places left, no
event at all, an unknown keyword) raises ``InvalidCall``: the guard logs it once at the
caller's line and nothing is sent.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .._errors import InvalidCall

# The distinct id was not given at all (None given explicitly means the same: context, else
# personless, as in the official SDK).
NOT_GIVEN: Any = None

_PLACES = ("distinct_id", "event", "properties")
_OPTIONS = ("groups", "timestamp", "uuid", "send_feature_flags", "disable_geoip", "flags")
CAPTURE_KEYWORDS = frozenset(_PLACES + _OPTIONS)


class CaptureCall(NamedTuple):
    distinct_id: Any = NOT_GIVEN
    event: Any = None
    properties: Any = None
    groups: Any = None
    timestamp: Any = None
    uuid: Any = None
    send_feature_flags: Any = False
    disable_geoip: Any = None
    flags: Any = None


_OPTION_NAMES = frozenset(_OPTIONS)


def bind_capture(args: tuple[Any, ...], kwargs: dict[str, Any]) -> CaptureCall:
    """Apply the rule above; ``InvalidCall`` names what is wrong with the call."""
    count = len(args)
    # The shapes real code uses, first and fast.
    if not kwargs:
        if count == 1:
            return CaptureCall(NOT_GIVEN, args[0])
        if count == 2 or count == 3:
            return CaptureCall(*args)
    elif CAPTURE_KEYWORDS.issuperset(kwargs):
        if count == 2 or count == 3:
            if _OPTION_NAMES.issuperset(kwargs):
                return CaptureCall(*args, **kwargs)
        elif count == 1:
            if "event" not in kwargs:
                return CaptureCall(event=args[0], **kwargs)
        elif count == 0 and "event" in kwargs:
            return CaptureCall(**kwargs)
    else:
        unknown = sorted(set(kwargs) - CAPTURE_KEYWORDS)
        raise InvalidCall(unknown_keyword(unknown[0], CAPTURE_KEYWORDS))
    # The other shapes: positional arguments after keywords named some places, and mistakes.
    values = {name: kwargs[name] for name in _PLACES if name in kwargs}
    free = [name for name in _PLACES if name not in values]
    if count > len(free):
        raise InvalidCall(_too_many(args, values))
    values.update(zip(free, args, strict=False))
    if "event" not in values:
        raise InvalidCall("no event name given")
    options = {name: kwargs[name] for name in _OPTIONS if name in kwargs}
    return CaptureCall(**values, **options)


def _too_many(args: tuple[Any, ...], named: Mapping[str, Any]) -> str:
    if not named:
        return f"{len(args)} positional arguments; at most 3 (distinct_id, event, properties)"
    keywords = ", ".join(f"{name}=" for name in named)
    return (
        f"{len(args)} positional argument(s) besides {keywords}: ambiguous, nothing is guessed "
        "(pass distinct_id and event either both as keywords or both positionally)"
    )


def unknown_keyword(name: str, known: Iterable[str]) -> str:
    """``unknown keyword argument 'x'``, with the closest accepted name when there is one."""
    close = difflib.get_close_matches(name, [k for k in known if k != "self"], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown keyword argument {name!r}{hint}"


def extra_properties(call: CaptureCall) -> dict[str, Any]:
    """Properties a capture's options add under the caller's own: ``flags`` (an
    ``evaluate_flags()`` snapshot) and ``disable_geoip``."""
    props: dict[str, Any] = {}
    snapshot = getattr(call.flags, "_capture_properties", None)  # evaluate_flags()'s result
    if snapshot is not None:
        props.update(snapshot())
    if call.disable_geoip is not None:
        props["$geoip_disable"] = check_geoip(call.disable_geoip)
    return props


def check_geoip(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidCall(f"disable_geoip must be True, False or None, got {value!r:.40}")


def flag_options(send: object, groups: object) -> dict[str, Any] | None:
    """The flag options of ``send_feature_flags``: True, or the official SDK's dict
    (``only_evaluate_locally``, ``person_properties``, ``group_properties``,
    ``flag_keys_filter``). None: no flags to send."""
    if send is None or send is False:
        return None
    options: dict[str, Any] = {"groups": groups}
    if send is True:
        return options
    if not isinstance(send, Mapping):
        raise InvalidCall("send_feature_flags must be True, False or a dict of options")
    if send.get("should_send") is False:
        return None
    for name in ("only_evaluate_locally", "person_properties", "group_properties"):
        if send.get(name) is not None:
            options[name] = send[name]
    if send.get("flag_keys_filter") is not None:
        options["flag_keys"] = send["flag_keys_filter"]
    return options
