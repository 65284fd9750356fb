"""The pure retry policy: which answers are retried and how long to wait."""

from __future__ import annotations

import datetime as dt

import pytest

from posthog_client._delivery.retry import parse_retry_after, retry_delay
from posthog_client._delivery.wire import judge
from posthog_client.testing import FakePostHog

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("120", 30.0),
        ("Fri, 02 Jan 2026 03:04:15 GMT", 10.0),
        ("Fri, 02 Jan 2026 05:04:15 GMT", 30.0),
        ("Fri, 02 Jan 2026 03:00:00 GMT", None),
        ("-5", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("status", "v0", "v1"),
    [
        (None, "retry", "retry"),  # no answer
        (408, "retry", "retry"),
        (429, "retry", "drop"),  # capture v1's spec: 429 is terminal
        (500, "retry", "retry"),
        (501, "retry", "drop"),
        (502, "retry", "retry"),
        (503, "retry", "retry"),
        (504, "retry", "retry"),
        (599, "retry", "drop"),
        (400, "drop", "drop"),
        (401, "drop", "drop"),
        (402, "drop", "drop"),
        (403, "drop", "drop"),
        (404, "drop", "drop"),
        (415, "drop", "drop"),
        (307, "drop", "drop"),
        (413, "split", "split"),
    ],
)
def test_which_answers_are_retried(status: int | None, v0: str, v1: str) -> None:
    for protocol, expected in (("v0", v0), ("v1", v1)):
        verdict = judge(protocol, status, b"", "x", ["a", "b"])
        outcome = "split" if verdict.split else "retry" if verdict.retry else "drop"
        assert outcome == expected, (protocol, status)


def test_v1_verdicts_per_event() -> None:
    body = (
        b'{"results": {"a": {"result": "ok"}, "b": {"result": "retry"}, "c": "drop",'
        b' "d": {"result": "limited", "details": "quota"}, "e": {"result": "warning"},'
        b' "f": {"result": "new-thing"}}}'
    )
    verdict = judge("v1", 200, body, "HTTP 200", ["a", "b", "c", "d", "e", "f", "g"])
    assert verdict.sent == [0, 4, 6]  # ok, warning, and a uuid the answer does not mention
    assert verdict.retry == [1]
    assert [(i, reason) for i, reason, _ in verdict.drop] == [
        (2, "dropped_by_server"),
        (3, "dropped_by_server"),
    ]
    assert verdict.drop[1][2] == "limited: quota"
    assert verdict.unknown == [5]  # a verdict this SDK does not know: PostHog may have it


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"results": 3}'])
def test_an_unreadable_v1_2xx_leaves_the_outcome_unknown(body: bytes) -> None:
    verdict = judge("v1", 200, body, "HTTP 200", ["a", "b"])
    assert verdict.unknown == [0, 1] and not verdict.sent and not verdict.retry


def test_retry_delay_is_capped_exponential_with_equal_jitter() -> None:
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (20, 30.0)]:
        assert retry_delay(attempt, 1.0, 30.0, None, 0.0) == full / 2
        assert retry_delay(attempt, 1.0, 30.0, None, 0.999999) == pytest.approx(full, rel=1e-5)


def test_retry_after_is_a_floor() -> None:
    assert retry_delay(1, 1.0, 30.0, 7.0, 0.5) == 7.0
    assert retry_delay(5, 1.0, 30.0, 0.1, 0.0) == 8.0


def test_redirects_are_not_followed(fake: FakePostHog) -> None:
    fake.fail(status=307, body={"location": "https://elsewhere.example"})
    client = fake.client()
    client.capture("u1", "e")
    assert client.flush(timeout=5) is False
    assert len(fake.capture_requests) == 1
    assert "307" in (client.stats().last_error or "")
