"""Flask: a real app and its test client, against the fake PostHog."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, abort

import posthog_client
from posthog_client import Client
from posthog_client.integrations import _common
from posthog_client.integrations.flask import PostHog
from posthog_client.testing import EventList, FakePostHog

TRACING = {"X-POSTHOG-DISTINCT-ID": "user-1", "x-posthog-session-id": "session-1"}


def make_app(client: Client | None = None, **config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(config)

    @app.get("/hello")
    def hello() -> str:
        (client or posthog_client).capture("hello viewed")
        return "hello"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    @app.get("/missing")
    def missing() -> str:
        abort(404)

    return app


def test_tracing_headers_identify_the_request(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    app = make_app()
    PostHog(app)
    response = app.test_client().get("/hello", headers=TRACING)
    assert response.status_code == 200 and response.data == b"hello"
    [event] = delivered().named("hello viewed")
    assert event.distinct_id == "user-1"
    assert event.properties["$session_id"] == "session-1"
    assert event.properties["$request_method"] == "GET"
    assert event.properties["$request_path"] == "/hello"
    assert app.extensions["posthog"].client is None


def test_context_does_not_leak_into_the_next_request(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    app = make_app()
    PostHog(app)
    client = app.test_client()
    client.get("/hello", headers=TRACING)
    client.get("/hello")
    first, second = delivered().named("hello viewed")
    assert first.distinct_id == "user-1"
    assert second.distinct_id != "user-1"
    assert second.properties["$process_person_profile"] is False
    assert "$session_id" not in second.properties
    assert posthog_client._events.context.current() is posthog_client._events.context.EMPTY


def test_unhandled_exception_becomes_an_exception_event(fake: FakePostHog) -> None:
    client = fake.client()
    app = make_app(client)
    extension = PostHog()
    extension.init_app(app)
    extension.client = client
    response = app.test_client().get("/boom", headers=TRACING)
    assert response.status_code == 500
    assert app.test_client().get("/missing").status_code == 404  # an HTTP error, not a bug
    client.flush()
    [event] = fake.events.named("$exception")
    assert event.distinct_id == "user-1"
    assert event.properties["$session_id"] == "session-1"
    assert event.properties["$request_path"] == "/boom"
    [exception] = event.properties["$exception_list"]
    assert exception["type"] == "RuntimeError"
    assert exception["mechanism"]["handled"] is False
    assert exception["mechanism"]["type"] == "middleware"
    assert event.properties["$exception_source"] == "flask.got_request_exception"


def test_capture_exceptions_can_be_turned_off(fake: FakePostHog) -> None:
    client = fake.client()
    off_by_config = make_app(client, POSTHOG_CAPTURE_EXCEPTIONS=False)
    PostHog(off_by_config, client=client)
    off_by_argument = make_app(client)
    PostHog(off_by_argument, client=client, capture_exceptions=False)
    for app in (off_by_config, off_by_argument):
        assert app.test_client().get("/boom").status_code == 500
    client.flush()
    assert fake.events.named("$exception") == []


def test_propagated_exceptions_are_still_captured(fake: FakePostHog) -> None:
    client = fake.client()
    app = make_app(client)
    app.testing = True  # the test client re-raises the view's exception
    PostHog(app, client=client)
    with pytest.raises(RuntimeError, match="kaboom"):
        app.test_client().get("/boom")
    client.flush()
    assert len(fake.events.named("$exception")) == 1
    assert posthog_client._events.context.current() is posthog_client._events.context.EMPTY


def test_config_configures_the_module_client(
    fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    with fake.patch_module(api_key=None, host="https://elsewhere.test"):
        app = make_app(POSTHOG_API_KEY=fake.api_key, POSTHOG_HOST=fake.host)
        PostHog(app)
        assert app.test_client().get("/hello", headers=TRACING).status_code == 200
        assert delivered().named("hello viewed").for_distinct_id("user-1")


def test_a_failing_before_request_hook_does_not_leak_context(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    app = make_app()
    PostHog(app)

    @app.before_request
    def reject_banned() -> None:
        posthog_client.capture("checked")
        raise PermissionError("banned")

    client = app.test_client()
    assert client.get("/hello", headers=TRACING).status_code == 500
    assert client.get("/hello").status_code == 500
    events = delivered()
    first, second = events.named("checked")
    assert first.distinct_id == "user-1" and second.properties["$process_person_profile"] is False
    assert len(events.named("$exception")) == 2


def test_app_answers_normally_without_a_configured_sdk(fake: FakePostHog) -> None:
    with fake.patch_module(api_key=None):
        app = make_app()
        PostHog(app)
        client = app.test_client()
        assert client.get("/hello", headers=TRACING).data == b"hello"
        assert client.get("/boom").status_code == 500
        posthog_client.disabled = True
        assert client.get("/hello").status_code == 200
    assert fake.requests == []


def test_a_failing_sdk_does_not_break_the_request(
    module_fake: FakePostHog,
    monkeypatch: pytest.MonkeyPatch,
    internal_errors_fail_the_test: list[BaseException],
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SDK bug")

    app = make_app()
    PostHog(app)
    monkeypatch.setattr(posthog_client.Client, "_capture_exception", broken)
    monkeypatch.setattr(_common, "identify_context", broken)
    client = app.test_client()
    assert client.get("/hello", headers=TRACING).data == b"hello"
    assert client.get("/boom", headers=TRACING).status_code == 500
    assert len(internal_errors_fail_the_test) == 3, "each failure is reported, none raised"
    internal_errors_fail_the_test.clear()
