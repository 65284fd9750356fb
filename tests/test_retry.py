"""The pure retry policy: which answers are retried and how long to wait."""

from __future__ import annotations

import datetime as dt

import pytest

from posthog_client._delivery.retry import is_retryable, parse_retry_after, retry_delay
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
    ("status", "retry"),
    [(None, True), (408, True), (429, True), (500, True), (503, True), (599, True)]
    + [(400, False), (401, False), (403, False), (404, False), (413, False), (307, False)],
)
def test_is_retryable(status: int | None, retry: bool) -> None:
    assert is_retryable(status) is retry


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
