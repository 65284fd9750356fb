"""Django: the real framework in-process (test Client, AsyncClient), against the fake PostHog."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import django
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.urls import path

import posthog_client
from posthog_client.integrations import _common
from posthog_client.integrations import django as posthog_django
from posthog_client.testing import EventList, FakePostHog

if not settings.configured:  # once per process: Django settings are global
    settings.configure(
        DEBUG=False,
        SECRET_KEY="posthog-client-tests",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["posthog_client.integrations.django.PostHogAppConfig"],
        MIDDLEWARE=["posthog_client.integrations.django.PostHogMiddleware"],
        LOGGING_CONFIG=None,  # leave the test process's logging alone
        USE_TZ=True,
    )
    django.setup()


def hello(request: HttpRequest) -> HttpResponse:
    posthog_client.capture("hello viewed")  # the person comes from the request context
    return HttpResponse("hello")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("kaboom")


def missing(request: HttpRequest) -> HttpResponse:
    raise Http404("no such page")


async def async_hello(request: HttpRequest) -> HttpResponse:
    posthog_client.capture("async hello viewed")
    return HttpResponse("hello async")


async def async_boom(request: HttpRequest) -> HttpResponse:
    raise ValueError("async kaboom")


urlpatterns = [
    path("hello", hello),
    path("boom", boom),
    path("missing", missing),
    path("async-hello", async_hello),
    path("async-boom", async_boom),
]

TRACING = {"X-POSTHOG-DISTINCT-ID": "user-1", "x-posthog-session-id": "session-1"}


@pytest.fixture(scope="module", autouse=True)
def asgiref_executor_started() -> None:
    """asgiref's thread-sensitive executor keeps one (non-daemon) thread for the process: start
    it before the per-test check for leftover threads looks."""
    asyncio.run(sync_to_async(lambda: None, thread_sensitive=True)())


def test_tracing_headers_identify_the_request(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    response = Client().get("/hello", headers=TRACING)
    assert response.status_code == 200 and response.content == b"hello"
    [event] = delivered().named("hello viewed")
    assert event.distinct_id == "user-1"
    assert event.properties["$session_id"] == "session-1"
    assert event.properties["$request_method"] == "GET"
    assert event.properties["$request_path"] == "/hello"


def test_context_does_not_leak_into_the_next_request(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    client = Client()
    client.get("/hello", headers=TRACING)
    client.get("/hello")
    first, second = delivered().named("hello viewed")
    assert first.distinct_id == "user-1"
    assert second.distinct_id != "user-1"
    assert second.properties["$process_person_profile"] is False
    assert "$session_id" not in second.properties
    assert posthog_client._events.context.current() is posthog_client._events.context.EMPTY


def test_unhandled_exception_becomes_an_exception_event(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    response = Client(raise_request_exception=False).get("/boom", headers=TRACING)
    assert response.status_code == 500
    [event] = delivered().named("$exception")
    assert event.distinct_id == "user-1"
    assert event.properties["$session_id"] == "session-1"
    [exception] = event.properties["$exception_list"]
    assert exception["type"] == "RuntimeError"
    assert exception["mechanism"]["handled"] is False
    assert exception["mechanism"]["type"] == "middleware"
    assert event.properties["$exception_source"] == "django.middleware"


def test_http_errors_are_not_captured(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    assert Client().get("/missing").status_code == 404
    assert delivered().named("$exception") == []


def test_async_stack(module_fake: FakePostHog, delivered: Callable[[], EventList]) -> None:
    async def requests() -> tuple[int, int, int]:
        client = AsyncClient(raise_request_exception=False)
        ok = await client.get("/async-hello", headers=TRACING)
        failed = await client.get("/async-boom", headers={"X-PostHog-Distinct-Id": "user-2"})
        anonymous = await client.get("/async-hello")
        return ok.status_code, failed.status_code, anonymous.status_code

    assert asyncio.run(requests()) == (200, 500, 200)
    events = delivered()
    identified, anonymous = events.named("async hello viewed")
    assert identified.distinct_id == "user-1"
    assert identified.properties["$session_id"] == "session-1"
    assert anonymous.properties["$process_person_profile"] is False
    [exception] = events.named("$exception")
    assert exception.distinct_id == "user-2"
    assert exception.properties["$exception_list"][0]["mechanism"]["type"] == "middleware"


def test_capture_exceptions_setting(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    with override_settings(POSTHOG_CAPTURE_EXCEPTIONS=False):
        assert Client(raise_request_exception=False).get("/boom").status_code == 500
    assert delivered().named("$exception") == []


def test_explicit_client(fake: FakePostHog) -> None:
    client = fake.client()

    def view(request: HttpRequest) -> HttpResponse:
        client.capture("explicit")
        return HttpResponse("ok")

    middleware = posthog_django.PostHogMiddleware(view, client=client, tag_requests=False)
    request = RequestFactory().get("/x", headers={"x-posthog-distinct-id": "user-9"})
    assert middleware(request).status_code == 200
    middleware.process_exception(request, KeyError("k"))  # outside a request: no person
    client.flush()
    explicit, exception = fake.events
    assert explicit.distinct_id == "user-9" and "$request_path" not in explicit.properties
    assert exception.properties["$exception_list"][0]["type"] == "KeyError"
    assert exception.properties["$process_person_profile"] is False


def test_settings_configure_the_module_client(fake: FakePostHog) -> None:
    with fake.patch_module(api_key=None):
        with override_settings(POSTHOG_API_KEY=fake.api_key, POSTHOG_HOST=fake.host):
            assert posthog_django.configure_from_settings() == ["api_key", "host"]
        assert posthog_client.api_key == fake.api_key
        assert Client().get("/hello", headers=TRACING).status_code == 200
        assert posthog_client.flush()
        assert fake.events.named("hello viewed").for_distinct_id("user-1")
        with override_settings(POSTHOG_DISABLED=True):
            posthog_django.configure_from_settings()
        assert posthog_client.get_client() is None


@pytest.fixture
def unconfigured() -> Iterator[None]:
    saved = (posthog_client.api_key, posthog_client.disabled)
    posthog_client.shutdown()
    posthog_client.api_key = None
    try:
        yield
    finally:
        posthog_client.api_key, posthog_client.disabled = saved


def test_app_answers_normally_without_a_configured_sdk(unconfigured: None) -> None:
    client = Client(raise_request_exception=False)
    assert client.get("/hello", headers=TRACING).content == b"hello"
    assert client.get("/boom").status_code == 500
    posthog_client.disabled = True
    assert client.get("/hello").status_code == 200
    assert client.get("/boom").status_code == 500


def test_a_failing_sdk_does_not_break_the_request(
    module_fake: FakePostHog,
    monkeypatch: pytest.MonkeyPatch,
    internal_errors_fail_the_test: list[BaseException],
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SDK bug")

    monkeypatch.setattr(posthog_client.Client, "_capture_exception", broken)
    monkeypatch.setattr(_common, "identify_context", broken)
    client = Client(raise_request_exception=False)
    assert client.get("/hello", headers=TRACING).content == b"hello"
    assert client.get("/boom", headers=TRACING).status_code == 500
    assert len(internal_errors_fail_the_test) == 3, "each failure is reported, none raised"
    internal_errors_fail_the_test.clear()


# -- the authenticated user, when posthog-js sent no distinct id ------------------------------


class LoggedIn:
    is_authenticated = True
    pk = 42


class Anonymous:
    is_authenticated = False
    pk = None


def fake_auth(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    """Stands in for AuthenticationMiddleware: ``request.user`` from a test header."""

    def middleware(request: HttpRequest) -> HttpResponse:
        request.user = LoggedIn() if request.headers.get("X-Test-User") else Anonymous()  # type: ignore[attr-defined]
        return get_response(request)

    return middleware


OURS = "posthog_client.integrations.django.PostHogMiddleware"
AUTH = f"{__name__}.fake_auth"


@pytest.mark.parametrize("order", [[OURS, AUTH], [AUTH, OURS]], ids=["auth-after", "auth-before"])
def test_the_authenticated_user_is_the_fallback(
    module_fake: FakePostHog, delivered: Callable[[], EventList], order: list[str]
) -> None:
    with override_settings(MIDDLEWARE=order):
        client = Client()
        client.get("/hello", headers={"X-Test-User": "1"})  # logged in, no tracing headers
        client.get("/hello", headers={"X-Test-User": "1", **TRACING})  # the header wins
        client.get("/hello")  # anonymous: personless
    user, header, anonymous = delivered().named("hello viewed")
    assert user.distinct_id == "42" and "$process_person_profile" not in user.properties
    assert header.distinct_id == "user-1"
    assert anonymous.properties["$process_person_profile"] is False


def test_the_authenticated_user_on_the_async_stack(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    async def request() -> int:
        response = await AsyncClient().get("/async-hello", headers={"X-Test-User": "1"})
        return int(response.status_code)

    with override_settings(MIDDLEWARE=[OURS, AUTH]):
        assert asyncio.run(request()) == 200
    [event] = delivered().named("async hello viewed")
    assert event.distinct_id == "42"


def test_identify_users_can_be_turned_off(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    class NoUsers(posthog_django.PostHogMiddleware):
        identify_users = False

    globals()["NoUsers"] = NoUsers
    with override_settings(MIDDLEWARE=[f"{__name__}.NoUsers", AUTH]):
        Client().get("/hello", headers={"X-Test-User": "1"})
    [event] = delivered().named("hello viewed")
    assert event.properties["$process_person_profile"] is False


@pytest.mark.parametrize(
    "value", ["user-1\x00", "user\r\n-1", "\x85user", "u" * 1001], ids=["nul", "crlf", "c1", "long"]
)
def test_bad_tracing_headers_are_ignored(
    module_fake: FakePostHog, delivered: Callable[[], EventList], value: str
) -> None:
    request = RequestFactory().get("/hello")
    request.META["HTTP_X_POSTHOG_DISTINCT_ID"] = value
    request.META["HTTP_X_POSTHOG_SESSION_ID"] = value
    middleware = posthog_django.PostHogMiddleware(hello)
    assert middleware(request).status_code == 200
    [event] = delivered().named("hello viewed")
    assert event.properties["$process_person_profile"] is False
    assert "$session_id" not in event.properties
