"""Keys never leak: not in logs (debug included), reprs, errors, on_error payloads or URLs."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from posthog_client import Client
from posthog_client.testing import FakePostHog

PROJECT_KEY = "phc_PROJECTSECRET0123456789"
PERSONAL_KEY = "phx_PERSONALSECRET0123456789"
SECRETS = (PROJECT_KEY, PERSONAL_KEY, "PROJECTSECRET", "PERSONALSECRET")


def _scan(*texts: Any) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), f"a key leaked into: {str(text)[:200]}"


def test_keys_do_not_leak_anywhere(caplog: pytest.LogCaptureFixture) -> None:
    failures: list[Any] = []
    with FakePostHog(api_key=PROJECT_KEY) as fake:
        # The server echoes the key in its error answers, as some proxies do.
        fake.fail(status=400, body={"detail": f"bad request for {PROJECT_KEY}"})
        fake.fail(status=503, times=2, body={"detail": f"try later {PERSONAL_KEY}"})
        fake.fail_with("connection")
        caplog.set_level(logging.DEBUG)
        client = fake.client(
            personal_api_key=PERSONAL_KEY,
            debug=True,
            on_error=lambda exc, events: failures.append((exc, repr(exc), str(exc), events)),
            max_retries=1,
        )
        for i in range(5):
            client.capture("u1", "e", {"i": i})
            client.flush(timeout=5)
        client.capture("", "bad")
        client.capture("u1", "e", timestamp="garbage")
        bad = Client(PROJECT_KEY, personal_api_key=PERSONAL_KEY, host=fake.host, disabled=True)
        _scan(caplog.text, repr(client), repr(client._config), client.stats(), failures, repr(bad))
        assert failures, "the scenario should have produced on_error calls"
        for request in fake.requests:
            query, headers = dict(request.query), dict(request.headers)
            if request.path == "/flags/definitions":  # the one request carrying the personal key
                assert query.pop("token") == PROJECT_KEY  # the endpoint takes it in the URL
                assert headers.pop("Authorization") == f"Bearer {PERSONAL_KEY}"
            if request.path == "/i/v1/analytics/events":  # capture v1: the project key's place
                assert headers.pop("Authorization") == f"Bearer {PROJECT_KEY}"
            _scan(request.path, query, headers)
            assert PERSONAL_KEY not in request.body.decode()
            if request.path == "/batch/":
                assert request.json["api_key"] == PROJECT_KEY  # the one place it belongs


@pytest.mark.parametrize(
    "options", [{"flush_at": 0}, {"host": "ftp://nope"}, {"personal_api_key": 5}]
)
def test_keys_do_not_leak_into_construction_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        Client(PROJECT_KEY, **options)
    _scan(info.value, repr(info.value))
