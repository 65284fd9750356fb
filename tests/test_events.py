"""The exact wire shape of every event kind, as it reaches PostHog."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import re
import uuid

import pytest

from posthog_client import __version__
from posthog_client.testing import FakePostHog

STATIC = {
    "$lib": "posthog-client",
    "$lib_version": __version__,
    "$geoip_disable": True,
    "$is_server": True,
}
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def sent(fake: FakePostHog, count: int = 1) -> list[dict]:
    events = fake.wait_for_events(count, timeout=5)
    assert len(events) == count
    out = []
    for event in events:
        event = dict(event)
        assert UUID7.match(event.pop("uuid"))
        stamp = dt.datetime.fromisoformat(event.pop("timestamp"))
        assert stamp.utcoffset() == dt.timedelta(0)
        props = dict(event.pop("properties"))
        for key, value in STATIC.items():
            assert props.pop(key) == value
        for key in ("$python_runtime", "$python_version", "$os"):
            assert isinstance(props.pop(key), str)
        out.append({**event, "properties": props})
    return out


def test_capture_shape(fake: FakePostHog) -> None:
    client = fake.client()
    uid = client.capture("ian@posthog.com", "login", {"plan": "pro"}, groups={"company": "posthog"})
    assert uid is not None and UUID7.match(uid)
    assert client.flush()
    assert sent(fake) == [
        {
            "event": "login",
            "distinct_id": "ian@posthog.com",
            "properties": {"plan": "pro", "$groups": {"company": "posthog"}},
        }
    ]
    assert fake.events[0].uuid == uid


def test_identify_set_set_once_shapes(fake: FakePostHog) -> None:
    client = fake.client()
    client.identify("u1", {"email": "a@b.c"})
    client.set("u1", {"plan": "pro"})
    client.set_once("u1", {"first_seen": "2026-01-01"})
    client.flush()
    assert sent(fake, 3) == [  # as PostHog stores them: person properties in `properties`
        {"event": "$identify", "distinct_id": "u1", "properties": {"$set": {"email": "a@b.c"}}},
        {"event": "$set", "distinct_id": "u1", "properties": {"$set": {"plan": "pro"}}},
        {
            "event": "$set_once",
            "distinct_id": "u1",
            "properties": {"$set_once": {"first_seen": "2026-01-01"}},
        },
    ]


def test_alias_shape(fake: FakePostHog) -> None:
    client = fake.client()
    client.alias("anon-1", "user-1")
    client.flush()
    assert sent(fake) == [
        {
            "event": "$create_alias",
            "distinct_id": "anon-1",
            "properties": {"distinct_id": "anon-1", "alias": "user-1"},
        }
    ]


def test_group_identify_uses_a_fixed_personful_id(fake: FakePostHog) -> None:
    client = fake.client()
    client.group_identify("company", "acme", {"name": "Acme"})
    client.group_identify("company", 42, distinct_id="owner-1")
    client.flush()
    events = sent(fake, 2)
    assert events == [
        {
            "event": "$groupidentify",
            "distinct_id": "$company_acme",
            "properties": {
                "$group_type": "company",
                "$group_key": "acme",
                "$group_set": {"name": "Acme"},
            },
        },
        {
            "event": "$groupidentify",
            "distinct_id": "owner-1",
            "properties": {"$group_type": "company", "$group_key": "42", "$group_set": {}},
        },
    ]
    assert all("$process_person_profile" not in e["properties"] for e in events)


def test_capture_v1_body_and_headers(fake: FakePostHog) -> None:
    client = fake.client(historical_migration=True)
    client.capture("u1", "e", {"$session_id": "s1", "$process_person_profile": "false"})
    client.flush()
    [request] = fake.capture_requests
    assert request.method == "POST" and request.path == "/i/v1/analytics/events"
    assert request.header("Authorization") == "Bearer phc_test"
    assert request.header("PostHog-Sdk-Info") == f"posthog-client/{__version__}"
    assert request.header("PostHog-Attempt") == "1"
    uuid.UUID(request.header("PostHog-Request-Id") or "")
    dt.datetime.fromisoformat(request.header("PostHog-Request-Timestamp") or "")
    assert request.header("Content-Encoding") == "gzip"
    assert set(request.json) == {"created_at", "batch", "historical_migration"}
    [event] = request.json["batch"]
    assert event["session_id"] == "s1" and event["options"] == {"process_person_profile": False}
    props = event["properties"]
    assert "$lib" not in props and "$session_id" not in props
    assert "$process_person_profile" not in props
    [stored] = fake.events  # as PostHog stores it: the lifted parts back, $lib from the header
    assert (
        stored.properties["$session_id"] == "s1" and stored.properties["$lib"] == "posthog-client"
    )
    assert stored.api_key == "phc_test"


def test_batch_body_and_headers(fake: FakePostHog) -> None:
    client = fake.client(historical_migration=True, capture_mode="v0")
    client.capture("u1", "e")
    client.flush()
    [request] = fake.capture_requests
    assert request.method == "POST" and request.path == "/batch/"
    assert request.header("Content-Encoding") == "gzip"
    assert request.header("Content-Type") == "application/json"
    assert request.header("User-Agent") == f"posthog-client/{__version__}"
    assert request.header("Authorization") is None
    assert set(request.json) == {"api_key", "batch", "sent_at", "historical_migration"}
    assert request.json["api_key"] == "phc_test"
    assert request.json["historical_migration"] is True
    dt.datetime.fromisoformat(request.json["sent_at"])


class _WireFake(FakePostHog):
    """Keeps the bodies of capture requests as they came over the wire (still compressed)."""

    def __init__(self) -> None:
        super().__init__()
        self.wire: list[bytes] = []

    def handle(self, method, path, query, headers, body):  # type: ignore[no-untyped-def]
        if path.startswith(("/batch", "/i/v1/analytics/events")):
            self.wire.append(body)
        return super().handle(method, path, query, headers, body)


def test_gzip_on_the_wire_is_real_gzip() -> None:
    with _WireFake() as fake:
        client = fake.client()
        client.capture("u1", "e", {"text": "x" * 5000})
        client.flush()
    assert len(fake.wire[0]) < 1000 < len(gzip.decompress(fake.wire[0]))


def test_gzip_can_be_turned_off(fake: FakePostHog) -> None:
    client = fake.client(gzip=False)
    client.capture("u1", "e")
    client.flush()
    assert fake.capture_requests[0].header("Content-Encoding") is None
    assert fake.events.names() == ["e"]


@pytest.mark.parametrize("mode", ["v1", "v0"])
def test_caller_properties_are_never_overwritten(fake: FakePostHog, mode: str) -> None:
    client = fake.client(capture_mode=mode)
    client.capture("u1", "e", {"$os": "MyOS", "$lib": "mine", "$geoip_disable": False})
    client.flush()
    props = fake.events[0].properties
    assert props["$os"] == "MyOS" and props["$geoip_disable"] is False
    # capture v1 has no $lib in the body: PostHog takes it from the PostHog-Sdk-Info header
    assert props["$lib"] == ("mine" if mode == "v0" else "posthog-client")


def test_disable_geoip_option(fake: FakePostHog) -> None:
    client = fake.client(disable_geoip=False)
    client.capture("u1", "e")
    client.flush()
    assert fake.events[0].properties["$geoip_disable"] is False


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "2026-01-02T03:04:05+00:00"),
        (dt.datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05+00:00"),
        (
            dt.datetime(2026, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-01-02T03:04:05+00:00",
        ),
        ("2026-01-02T05:04:05+02:00", "2026-01-02T03:04:05+00:00"),
        ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05+00:00"),
        ("2026-01-01T22:04:05.250-05:00", "2026-01-02T03:04:05.250000+00:00"),
        (dt.date(2026, 1, 2), "2026-01-02T00:00:00+00:00"),
        (1767323045, "2026-01-02T03:04:05+00:00"),
    ],
)
def test_timestamps_become_utc(fake: FakePostHog, given: object, expected: str) -> None:
    client = fake.client()
    client.capture("u1", "e", timestamp=given)
    client.flush()
    assert fake.events[0]["timestamp"] == expected


def test_unreadable_timestamp_uses_now_and_logs(fake: FakePostHog, caplog) -> None:  # type: ignore[no-untyped-def]
    client = fake.client()
    assert client.capture("u1", "e", timestamp="last tuesday") is not None
    client.flush()
    assert "could not be read" in caplog.text
    stamp = dt.datetime.fromisoformat(fake.events[0]["timestamp"])
    assert abs((dt.datetime.now(dt.timezone.utc) - stamp).total_seconds()) < 60


def test_values_that_look_like_timestamps_are_left_alone(fake: FakePostHog) -> None:
    client = fake.client()
    client.capture("u1", "e", {"when": "2026-01-02T05:04:05+02:00", "day": "2026-01-02"})
    client.flush()
    props = fake.events[0].properties
    assert props["when"] == "2026-01-02T05:04:05+02:00" and props["day"] == "2026-01-02"


def test_caller_uuid_is_kept_and_bad_uuid_replaced(fake: FakePostHog, caplog) -> None:  # type: ignore[no-untyped-def]
    client = fake.client()
    mine = uuid.uuid4()
    assert client.capture("u1", "a", uuid=mine) == str(mine)
    other = client.capture("u1", "b", uuid="not-a-uuid")
    assert other is not None and UUID7.match(other)
    assert "not a UUID" in caplog.text
    client.flush()
    assert [e.uuid for e in fake.events] == [str(mine), other]


def test_distinct_id_is_stringified(fake: FakePostHog) -> None:
    client = fake.client()
    client.capture(12345, "e")
    client.capture(uuid.UUID(int=7), "e")
    client.flush()
    assert [e["distinct_id"] for e in fake.events] == ["12345", str(uuid.UUID(int=7))]


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda c: c.capture("", "e"), "distinct_id is empty"),
        (lambda c: c.capture("   ", "e"), "distinct_id is empty"),
        (lambda c: c.capture(None, None), "event must be"),
        (lambda c: c.capture({"id": 1}, "e"), "distinct_id must be"),
        (lambda c: c.capture(True, "e"), "distinct_id must be"),
        (lambda c: c.capture("u1", ""), "event must be"),
        (lambda c: c.capture("u1", None), "event must be"),
        (lambda c: c.capture("u1", "e", properties=["a"]), "properties must be a dict"),
        (lambda c: c.capture("u1", "e", groups="acme"), "groups must be"),
        (lambda c: c.identify("", {"a": 1}), "distinct_id is empty"),
        (lambda c: c.set("u1", "plan=pro"), "properties must be a dict"),
        (lambda c: c.alias("", "u2"), "previous_id is empty"),
        (lambda c: c.group_identify("", "k"), "group_type must be"),
        (lambda c: c.group_identify("company", None), "group_key must be"),
    ],
)
def test_bad_calls_return_none_with_one_log_line(
    fake: FakePostHog,
    caplog: pytest.LogCaptureFixture,
    call,
    problem: str,  # type: ignore[no-untyped-def]
) -> None:
    client = fake.client()
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        assert call(client) is None
    lines = [r for r in caplog.records if r.name == "posthog_client"]
    assert len(lines) == 1 and problem in lines[0].getMessage()
    client.flush()
    assert fake.events == []
    assert client.stats().accepted == 0


def test_uuid7_carries_the_event_time_to_the_microsecond() -> None:
    import random
    import time as _time

    from posthog_client._events.messages import uuid7_int, uuid7_time, uuid_text

    for _ in range(1000):
        now = _time.time() + random.uniform(-1e6, 1e6)
        value = uuid7_int(now, random.getrandbits(62))
        assert abs(uuid7_time(value) - now) < 1e-6
        parsed = uuid.UUID(uuid_text(value))
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_default_timestamp_matches_the_uuid_time(fake: FakePostHog) -> None:
    from posthog_client._events.messages import uuid7_time

    client = fake.client()
    uid = client.capture("u1", "e")
    client.flush()
    assert uid is not None
    stamp = dt.datetime.fromisoformat(fake.events[0]["timestamp"]).timestamp()
    assert abs(stamp - uuid7_time(uuid.UUID(uid).int)) < 1e-5


def test_what_capture_sends_is_the_properties_at_the_call(fake: FakePostHog) -> None:
    """The caller may change or reuse its dicts once capture() returns: the event keeps what
    they held at the call (flat properties, nested values and groups alike)."""
    client = fake.client()
    flat = {"plan": "pro", "n": 1}
    nested = {"tags": ["a"], "meta": {"k": "v"}}
    groups = {"company": "acme"}
    client.capture("u1", "flat", flat, groups=groups)
    client.capture("u1", "nested", nested)
    flat["plan"], flat["extra"] = "changed", True
    nested["tags"].append("b")
    nested["meta"]["k"] = "changed"
    groups["company"] = "changed"
    assert client.flush()
    assert [e["properties"] for e in sent(fake, 2)] == [
        {"plan": "pro", "n": 1, "$groups": {"company": "acme"}},
        {"tags": ["a"], "meta": {"k": "v"}},
    ]
