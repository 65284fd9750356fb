"""Property values of every awkward kind are delivered, as valid JSON, without losing the event."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_client._delivery.encoding import encode
from posthog_client._events import sanitize as _sanitize
from posthog_client.testing import FakePostHog
from posthog_client.testing._fake import parse_strict_json


@dataclasses.dataclass
class Point:
    x: int
    y: decimal.Decimal


class PydanticLike:
    def model_dump(self) -> dict[str, Any]:
        return {"name": "model", "when": dt.date(2026, 1, 2)}


class NumpyScalarLike:
    """Quacks like numpy.int64: has dtype and tolist(), is not an int."""

    dtype = "int64"

    def tolist(self) -> int:
        return 7


class NumpyArrayLike:
    dtype = "float64"

    def tolist(self) -> list[float]:
        return [1.5, float("nan")]


class Color(enum.Enum):
    RED = "red"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def _cycle() -> dict[str, Any]:
    a: dict[str, Any] = {"name": "a"}
    a["self"] = a
    return a


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def test_every_awkward_value_is_delivered(fake: FakePostHog) -> None:
    client = fake.client()
    props = {
        "decimal": decimal.Decimal("12.50"),
        "decimal_nan": decimal.Decimal("NaN"),
        "uuid": uuid.UUID(int=1),
        "datetime": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "date": dt.date(2026, 1, 2),
        "set": {3},
        "tuple": (1, "a"),
        "bytes": b"hello",
        "binary": b"\xff\xfe",
        "dataclass": Point(1, decimal.Decimal("2")),
        "pydantic": PydanticLike(),
        "np_scalar": NumpyScalarLike(),
        "np_array": NumpyArrayLike(),
        "nan": float("nan"),
        "inf": float("inf"),
        "ninf": -math.inf,
        1: "int key",
        (1, 2): "tuple key",
        "cycle": _cycle(),
        "deep": _deep(500),
        "surrogate": "a\ud800b",
        "pair": "\ud83d\ude00",
        "enum": Color.RED,
        "unprintable": Unprintable(),
        "timedelta": dt.timedelta(minutes=1),
        "object": object(),
    }
    uid = client.capture("u1", "awkward \udc00 event", props)
    assert uid is not None
    assert client.flush(timeout=5)
    [event] = fake.events
    got = event.properties
    assert got["decimal"] == 12.5 and got["decimal_nan"] is None
    assert got["uuid"] == str(uuid.UUID(int=1))
    assert got["datetime"] == "2026-01-02T03:04:05+00:00" and got["date"] == "2026-01-02"
    assert got["set"] == [3] and got["tuple"] == [1, "a"]
    assert got["bytes"] == "hello" and got["binary"] == "//4="
    assert got["dataclass"] == {"x": 1, "y": 2.0}
    assert got["pydantic"] == {"name": "model", "when": "2026-01-02"}
    assert got["np_scalar"] == 7 and got["np_array"] == [1.5, None]
    assert got["nan"] is None and got["inf"] is None and got["ninf"] is None
    assert got["1"] == "int key" and got["(1, 2)"] == "tuple key"
    assert got["cycle"] == {"name": "a", "self": "<cycle>"}
    assert "<max depth exceeded>" in json.dumps(got["deep"])
    assert got["surrogate"] == "a\ufffdb" and got["pair"] == "\U0001f600"
    assert event.name == "awkward \ufffd event"
    assert got["enum"] == "red"
    assert got["unprintable"] == "<unprintable Unprintable>"
    assert got["timedelta"] == 60.0
    assert got["object"].startswith("<object object")


def test_real_numpy_values_are_delivered(fake: FakePostHog) -> None:
    np = pytest.importorskip("numpy")

    client = fake.client()
    client.capture("u1", "e", {"i": np.int64(3), "f": np.float32(0.5), "a": np.arange(3)})
    client.flush()
    props = fake.events[0].properties
    assert (props["i"], props["f"], props["a"]) == (3, 0.5, [0, 1, 2])


def test_callers_dict_is_copied_not_changed(fake: FakePostHog) -> None:
    client = fake.client(flush_interval=60)
    props: dict[str, Any] = {"nested": {"n": 1}, "nan": float("nan")}
    client.capture("u1", "e", props)
    props["nested"]["n"] = 2
    props["added"] = True
    assert math.isnan(props["nan"])
    client.flush()
    assert fake.events[0].properties["nested"] == {"n": 1}
    assert "added" not in fake.events[0].properties


def test_coercions_are_logged_once_per_type(caplog) -> None:  # type: ignore[no-untyped-def]
    _sanitize._seen_coercions.clear()
    for _ in range(3):
        _sanitize.clean_properties({"d": decimal.Decimal(1), "e": decimal.Decimal(2)})
    assert caplog.text.count("Decimal") == 1


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.binary(max_size=20)
    | st.decimals(allow_nan=True)
    | st.datetimes()
    | st.uuids(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=4)
        | st.tuples(children, children)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(props=st.dictionaries(st.text(max_size=8) | st.integers(), json_values, max_size=6))
def test_fuzzed_properties_never_raise_and_always_encode_strictly(props: dict[Any, Any]) -> None:
    message = {"event": "e", "distinct_id": "u", "properties": _sanitize.clean_properties(props)}
    parse_strict_json(encode(message))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    distinct_id=st.one_of(st.text(), st.integers(), st.none(), st.binary()),
    event=st.one_of(st.text(), st.none(), st.integers()),
    props=st.one_of(st.none(), st.dictionaries(st.text(max_size=5), json_values, max_size=4)),
    groups=st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.text(max_size=5))),
    timestamp=st.one_of(st.none(), st.text(max_size=10), st.datetimes(), st.floats()),
)
def test_fuzzed_calls_never_raise(
    fake: FakePostHog, distinct_id: Any, event: Any, props: Any, groups: Any, timestamp: Any
) -> None:
    client = fake.client(flush_interval=60)
    client.capture(distinct_id, event, props, groups=groups, timestamp=timestamp)
    client.identify(distinct_id, props)
    client.group_identify(event, distinct_id, props)
    assert client.flush(timeout=5)
    stats = client.stats()
    assert stats.accepted == stats.sent and stats.dropped_total == 0
    client.shutdown()
