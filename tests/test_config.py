"""Options are validated once, at construction; hosts are normalised."""

from __future__ import annotations

from typing import Any

import pytest

from posthog_client import Client, ConfigError, ConfigTypeError
from posthog_client.testing import FakePostHog


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://us.i.posthog.com", "https://us.i.posthog.com"),
        ("https://eu.i.posthog.com/", "https://eu.i.posthog.com"),
        ("https://app.posthog.com", "https://us.i.posthog.com"),
        ("https://us.posthog.com/", "https://us.i.posthog.com"),
        ("https://eu.posthog.com", "https://eu.i.posthog.com"),
        ("  https://app.example.com/ph/  ", "https://app.example.com/ph"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("posthog.example.com", "https://posthog.example.com"),
    ],
)
def test_host_normalisation(given: str, expected: str) -> None:
    assert Client("phc_x", host=given).host == expected


def test_path_prefix_is_kept_on_every_endpoint() -> None:
    """A fake served under /ph answers 404 to any request without the prefix."""
    with FakePostHog(host="https://app.example.com/ph") as fake:
        fake.set_flag("beta")
        fake.set_flag("sticky", ensure_experience_continuity=True)  # decided remotely
        client = fake.client(host="https://app.example.com/ph/")
        assert client.load_feature_flags()
        assert client.get_feature_flag("sticky", "u1", send_feature_flag_events=False) is True
        client.capture("u1", "e")
        assert client.flush()
        legacy = fake.client(host="https://app.example.com/ph/", capture_mode="v0")
        legacy.capture("u1", "e")
        assert legacy.flush()
        paths = {r.path.partition("?")[0].rstrip("/") for r in fake.requests}
        assert paths == {"/i/v1/analytics/events", "/batch", "/flags", "/flags/definitions"}
        assert {r.status for r in fake.requests} <= {200, 304}  # never 404
        assert client.stats().sent == 1 and legacy.stats().sent == 1


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"host": "ftp://x"}, ConfigError),
        ({"host": "https://user:pw@x.com"}, ConfigError),
        ({"host": "https://x.com?a=1"}, ConfigError),
        ({"host": 5}, ConfigTypeError),
        ({"flush_at": 0}, ConfigError),
        ({"flush_at": 1001}, ConfigError),
        ({"flush_at": "10"}, ConfigTypeError),
        ({"flush_at": True}, ConfigTypeError),
        ({"flush_interval": -1}, ConfigError),
        ({"flush_interval": float("nan")}, ConfigError),
        ({"max_queue_size": 0}, ConfigError),
        ({"max_retries": -1}, ConfigError),
        ({"timeout": 0}, ConfigError),
        ({"gzip": "yes"}, ConfigTypeError),
        ({"on_error": "print"}, ConfigTypeError),
        ({"before_send": [print, 3]}, ConfigTypeError),
        ({"session": object()}, ConfigTypeError),
        ({"personal_api_key": "phx_\r\nX-Evil: 1"}, ConfigError),
    ],
)
def test_bad_options_raise_at_construction(options: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        Client("phc_x", **options)


def test_errors_are_value_and_type_errors() -> None:
    with pytest.raises(ValueError):
        Client("phc_x", flush_at=0)
    with pytest.raises(TypeError):
        Client("phc_x", flush_at="1")
    with pytest.raises(TypeError):
        Client("phc_x", not_an_option=1)  # type: ignore[call-arg]


def test_api_key_is_stripped_and_control_characters_rejected() -> None:
    with pytest.raises(ConfigError):
        Client("phc_\nx")
    assert not Client("  phc_x  ").disabled


def test_repr_hides_keys() -> None:
    with FakePostHog("phc_secret_project", "phx_secret_personal") as fake:  # not a real host
        client = fake.client()
        assert "secret" not in repr(client)
        assert "secret" not in repr(client._config)
