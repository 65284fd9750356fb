"""The consumer's fast path (``_delivery.compose``) writes exactly the bytes of the general path
(``finalize``, ``v1_event``, ``encode_within``) for every event it takes, and leaves every other
event to the general path."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_client._config import MAX_EVENT_BYTES
from posthog_client._delivery.compose import Composer
from posthog_client._delivery.encoding import encode_within, finalize
from posthog_client._delivery.wire import V0, V1, v1_event
from posthog_client._events import messages

STATIC = messages.static_properties("1.2.3", False)
UUID = messages.uuid7_int(1_764_000_000.123456, 12345)
AWKWARD = [
    "",
    "plain",
    'quote " backslash \\ slash / tab \t nl \n',
    "\x00\x1f\x7f",
    "é ü 中文 🎉",
    "\ud83c\udf89",  # a surrogate pair as two code points
    "lone \ud800 surrogate",
    "\udfff",
    "\u2028\u2029",
    "x" * 5000,
]
ATOMS = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    -(2**64) - 1,
    10**40,
    0.0,
    -0.0,
    1.5,
    1e300,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
    *AWKWARD,
]
KEYS = ["plan", "", "$set", "$session_id", "$groups", "$lib", "$os", 'a"b', "\ud800", "é"]


def general(item: messages.Pending, static: dict[str, Any], protocol: str) -> bytes | None:
    message = finalize(item, static)
    if protocol == V1:
        message = v1_event(message)
    data, _ = encode_within(message, MAX_EVENT_BYTES)
    return data


def check(item: messages.Pending, static: dict[str, Any], protocol: str) -> bool:
    """True when the fast path took the event (and wrote the general path's bytes)."""
    composed = Composer(static, protocol, MAX_EVENT_BYTES).compose(item)
    expected = general(item, static, protocol)
    if composed is None:
        return False
    data, uid = composed
    assert data == expected
    assert uid == messages.uuid_text(item[4])
    return True


def capture(props: Any, groups: Any = None, stamp: Any = None, uid: Any = UUID) -> Any:
    return messages.capture("user-1", "order completed", props, groups, stamp, uid)


@pytest.mark.parametrize("protocol", [V0, V1])
def test_the_common_event_takes_the_fast_path(protocol: str) -> None:
    props = {"plan": "pro", "amount": 9.99, "quantity": 2, "trial": True, "coupon": None}
    assert check(capture(props, {"company": "acme"}), STATIC, protocol)
    assert check(capture(props), STATIC, protocol)
    assert check(capture({}), STATIC, protocol)
    assert check(capture(None, {"company": "acme"}), STATIC, protocol)
    assert check(capture(props, stamp=1_764_000_000.5), STATIC, protocol)
    assert check(capture(props, stamp="2026-01-02T03:04:05+00:00"), STATIC, protocol)
    uid = "0190a0b0-1234-7abc-8def-0123456789ab"  # a caller's uuid comes with a time
    assert check(capture(props, stamp=1_764_000_000.25, uid=uid), STATIC, protocol)
    assert check(capture(props), {}, protocol)  # no static properties at all
    assert check(capture({}), {}, protocol)


@pytest.mark.parametrize("protocol", [V0, V1])
@pytest.mark.parametrize("value", ATOMS, ids=repr)
def test_awkward_values_and_names(protocol: str, value: Any) -> None:
    taken = check(capture({"v": value, "w": 1}), STATIC, protocol)
    lone = isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, float) and not math.isfinite(value) or lone:
        assert not taken  # NaN, infinities, lone surrogates: replaced by the general path
    elif not (isinstance(value, str) and len(value) > 1000):
        assert taken
    if isinstance(value, str):
        assert check(capture({value: 1}), STATIC, protocol) == (not lone)
        name = value if value.strip() else f"x{value}"
        check(messages.capture(name, name, {}, None, None, UUID), STATIC, protocol)
        check(capture({}, {"company": value}), STATIC, protocol)
        check(capture({}, {value: "acme"}), STATIC, protocol)


@pytest.mark.parametrize("protocol", [V0, V1])
@pytest.mark.parametrize("key", KEYS)
def test_keys_the_general_path_moves_or_overrides(protocol: str, key: str) -> None:
    check(capture({key: "mine", "other": 1}, {"company": "acme"}), STATIC, protocol)
    check(capture({key: True}), STATIC, protocol)


@pytest.mark.parametrize("protocol", [V0, V1])
def test_values_that_are_not_flat_go_the_general_path(protocol: str) -> None:
    import datetime as dt
    import decimal

    nested = {"list": [1, "a", None], "dict": {"k": [float("nan")]}, "deep": [[[[1]]]]}
    assert not check(capture(nested), STATIC, protocol)
    others = {"when": dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), "d": decimal.Decimal(1)}
    check(capture(others), STATIC, protocol)  # cleaned to flat values: either path, same bytes
    check(capture({1: "int key", None: "none key", 2.5: "float key", False: 0}), STATIC, protocol)
    check(capture({"big": "x" * (MAX_EVENT_BYTES + 10)}), STATIC, protocol)  # trimmed there
    check(capture({}, {"company": 42, "team": ["a"]}), STATIC, protocol)
    try:
        import numpy as np
    except ImportError:
        return
    scalars = {"n": np.int64(7), "f": np.float32(1.5), "b": np.bool_(True), "a": np.arange(3)}
    check(capture(scalars), STATIC, protocol)


@pytest.mark.parametrize("protocol", [V0, V1])
def test_super_properties(protocol: str) -> None:
    props = {"plan": "pro"}
    for extra in (
        {"app": "shop", "n": 3, "ratio": 0.5, "flag": None},
        {"$os": "MyOS"},
        {"$lib": "mine"},
        {"$session_id": "s1", "$process_person_profile": False},
        {"$groups": {"x": "y"}},
        {"nested": {"a": [1]}},
        {"nan": float("nan")},
        {"bad": "\ud800"},
    ):
        static = {**STATIC, **extra}
        check(capture(props, {"company": "acme"}), static, protocol)
        check(capture({"app": "caller wins"}), static, protocol)
    assert check(capture(props), {**STATIC, "app": "shop"}, protocol)


atom = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(AWKWARD),
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    props=st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(KEYS)), atom, max_size=8),
    groups=st.none() | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    protocol=st.sampled_from([V0, V1]),
)
def test_fuzz_same_bytes(props: dict[str, Any], groups: Any, protocol: str) -> None:
    check(capture(props, groups), STATIC, protocol)


@FUZZ
@given(
    seconds=st.one_of(
        st.floats(min_value=-1e10, max_value=3e11),
        st.integers(min_value=1_700_000_000, max_value=1_800_000_000).map(lambda s: s + 0.9999995),
        st.integers(min_value=0, max_value=999_999).map(lambda us: 1_764_000_000 + us / 1e6),
    )
)
def test_timestamp_text_is_datetimes(seconds: float) -> None:
    import datetime as dt

    try:
        expected: Any = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat()
    except (ValueError, OverflowError, OSError) as exc:
        expected = type(exc)
    try:
        got: Any = messages.format_epoch(seconds)
    except (ValueError, OverflowError, OSError) as exc:
        got = type(exc)
    assert got == expected


@FUZZ
@given(value=st.integers(min_value=0, max_value=2**128 - 1))
def test_uuid_text_is_the_uuid_modules(value: int) -> None:
    import uuid

    assert messages.uuid_text(value) == str(uuid.UUID(int=value))


def test_queued_flat_events_leave_the_garbage_collector_nothing_to_walk() -> None:
    """A queue of flat events costs full collections nothing: once the collector has looked at
    them (a tuple holding a new tuple is untracked at its second pass, before it is old), neither
    the queued tuples nor their parts are tracked. Only exact tuples are ever untracked."""
    import gc

    props = {"plan": "pro", "amount": 9.99, "n": 1, "trial": True, "coupon": None}
    queued = [capture(dict(props), {"company": "acme"}) for _ in range(100)]
    gc.collect()
    gc.collect()
    assert not any(gc.is_tracked(item) for item in queued)
    assert not any(gc.is_tracked(part) for item in queued for part in item)
    assert queued[0][2] is queued[1][2]  # one keys tuple for the shape
    assert queued[0][5] is queued[1][5]  # one groups tuple
