"""ASGI: Starlette and FastAPI apps run in-process by Starlette's TestClient, against the fake."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

import posthog_client
from posthog_client import Client
from posthog_client.integrations import _common
from posthog_client.integrations.asgi import (
    PostHogMiddleware,
    async_feature_enabled,
    async_get_feature_flag,
    run_flag_in_thread,
)
from posthog_client.testing import EventList, FakePostHog

with warnings.catch_warnings():
    # Starlette now prefers the httpx2 package for its TestClient; httpx still works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

TRACING = {"X-POSTHOG-DISTINCT-ID": "user-1", "x-posthog-session-id": "session-1"}


def starlette_app(client: Client | None = None, **options: Any) -> Starlette:
    capture = (client or posthog_client).capture

    async def hello(request: Request) -> PlainTextResponse:
        capture("hello viewed")
        return PlainTextResponse("hello")

    def sync_hello(request: Request) -> PlainTextResponse:  # runs in a worker thread
        capture("sync hello viewed")
        return PlainTextResponse("hello sync")

    async def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("kaboom")

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        capture("socket opened")
        await websocket.send_text("hi")
        await websocket.close()

    lifespan_ran: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        lifespan_ran.append("startup")
        yield
        lifespan_ran.append("shutdown")

    app = Starlette(
        routes=[
            Route("/hello", hello),
            Route("/sync-hello", sync_hello),
            Route("/boom", boom),
            WebSocketRoute("/ws", socket),
        ],
        middleware=[Middleware(PostHogMiddleware, client=client, **options)],
        lifespan=lifespan,
    )
    app.state.lifespan_ran = lifespan_ran
    return app


def test_tracing_headers_identify_http_requests_and_websockets(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    app = starlette_app()
    with TestClient(app) as http:  # runs the lifespan too
        assert http.get("/hello", headers=TRACING).text == "hello"
        assert http.get("/sync-hello", headers={"X-PostHog-Distinct-Id": "user-2"}).status_code
        with http.websocket_connect("/ws", headers=TRACING) as websocket:
            assert websocket.receive_text() == "hi"
    assert app.state.lifespan_ran == ["startup", "shutdown"]
    events = delivered()
    [hello] = events.named("hello viewed")
    assert hello.distinct_id == "user-1"
    assert hello.properties["$session_id"] == "session-1"
    assert hello.properties["$request_method"] == "GET"
    assert hello.properties["$request_path"] == "/hello"
    [sync_hello] = events.named("sync hello viewed")
    assert sync_hello.distinct_id == "user-2" and "$session_id" not in sync_hello.properties
    [opened] = events.named("socket opened")
    assert opened.distinct_id == "user-1" and opened.properties["$request_path"] == "/ws"


def test_context_does_not_leak_into_the_next_request(
    module_fake: FakePostHog, delivered: Callable[[], EventList]
) -> None:
    with TestClient(starlette_app()) as http:
        http.get("/hello", headers=TRACING)
        http.get("/hello")
        http.get("/sync-hello", headers=TRACING)
        http.get("/sync-hello")
    events = delivered()
    for name in ("hello viewed", "sync hello viewed"):
        first, second = events.named(name)
        assert first.distinct_id == "user-1"
        assert second.distinct_id != "user-1"
        assert second.properties["$process_person_profile"] is False
        assert "$session_id" not in second.properties


def test_unhandled_exception_becomes_an_exception_event(fake: FakePostHog) -> None:
    client = fake.client()
    with TestClient(starlette_app(client), raise_server_exceptions=False) as http:
        assert http.get("/boom", headers=TRACING).status_code == 500
        assert http.get("/nowhere").status_code == 404  # handled by the app: not captured
    client.flush()
    [event] = fake.events.named("$exception")
    assert event.distinct_id == "user-1"
    assert event.properties["$session_id"] == "session-1"
    [exception] = event.properties["$exception_list"]
    assert exception["type"] == "RuntimeError"
    assert exception["mechanism"]["handled"] is False
    assert exception["mechanism"]["type"] == "middleware"
    assert event.properties["$exception_source"] == "asgi.middleware"


def test_capture_exceptions_can_be_turned_off(fake: FakePostHog) -> None:
    client = fake.client()
    app = starlette_app(client, capture_exceptions=False)
    with TestClient(app, raise_server_exceptions=False) as http:
        assert http.get("/boom").status_code == 500
    client.flush()
    assert fake.events.named("$exception") == []


def test_fastapi_wrapped_app_and_flags_off_the_event_loop(fake: FakePostHog) -> None:
    fake.set_flag("new-checkout", rollout=100)
    client = fake.client()
    api = FastAPI()
    loop_threads: list[threading.Thread] = []

    @api.get("/checkout")
    async def checkout() -> dict[str, Any]:
        loop_threads.append(threading.current_thread())
        enabled = await async_feature_enabled(client, "new-checkout")  # the context's person
        variant = await async_get_feature_flag(client, "new-checkout", "someone-else")
        in_thread = await run_flag_in_thread(threading.current_thread)
        client.capture("checkout started", properties={"flag": enabled})
        return {"enabled": enabled, "variant": variant, "off_loop": in_thread not in loop_threads}

    @api.get("/boom")
    async def boom() -> None:
        raise ValueError("fastapi kaboom")

    app = PostHogMiddleware(api, client=client)
    with TestClient(app, raise_server_exceptions=False) as http:
        answer = http.get("/checkout", headers=TRACING).json()
        assert http.get("/boom", headers=TRACING).status_code == 500
    assert answer == {"enabled": True, "variant": True, "off_loop": True}
    client.flush()
    [started] = fake.events.named("checkout started")
    assert started.distinct_id == "user-1" and started.properties["flag"] is True
    called = fake.events.named("$feature_flag_called")
    assert {e.distinct_id for e in called} == {"user-1", "someone-else"}
    [exception] = fake.events.named("$exception")
    assert exception.properties["$exception_list"][0]["type"] == "ValueError"


def test_async_flag_helpers_without_a_client(fake: FakePostHog) -> None:
    with fake.patch_module(api_key=None):
        assert asyncio.run(async_feature_enabled(None, "f", "u", default=True)) is True
        assert asyncio.run(async_get_feature_flag(None, "f", "u")) is None


def test_app_answers_normally_without_a_configured_sdk(fake: FakePostHog) -> None:
    with (
        fake.patch_module(api_key=None),
        TestClient(starlette_app(), raise_server_exceptions=False) as http,
    ):
        assert http.get("/hello", headers=TRACING).text == "hello"
        assert http.get("/boom").status_code == 500
        posthog_client.disabled = True
        assert http.get("/hello").text == "hello"
    assert fake.requests == []


def test_a_failing_sdk_does_not_break_the_request(
    module_fake: FakePostHog,
    monkeypatch: pytest.MonkeyPatch,
    internal_errors_fail_the_test: list[BaseException],
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SDK bug")

    monkeypatch.setattr(posthog_client.Client, "_capture_exception", broken)
    monkeypatch.setattr(_common, "identify_context", broken)
    with TestClient(starlette_app(), raise_server_exceptions=False) as http:
        assert http.get("/hello", headers=TRACING).text == "hello"
        assert http.get("/boom", headers=TRACING).status_code == 500
    assert len(internal_errors_fail_the_test) == 3, "each failure is reported, none raised"
    internal_errors_fail_the_test.clear()


def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        assert posthog_client._events.context.current() is posthog_client._events.context.EMPTY

    async def noop_receive() -> dict[str, Any]:
        return {}

    async def noop_send(message: Any) -> None:
        return None

    asyncio.run(PostHogMiddleware(app)({"type": "lifespan"}, noop_receive, noop_send))
    assert seen == ["lifespan"]


def test_the_authenticated_user_is_the_fallback(fake: FakePostHog) -> None:
    from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
    from starlette.middleware.authentication import AuthenticationMiddleware

    class HeaderAuth(AuthenticationBackend):
        async def authenticate(self, conn: Any) -> tuple[AuthCredentials, SimpleUser] | None:
            name = conn.headers.get("X-Test-User")
            return None if name is None else (AuthCredentials(["authenticated"]), SimpleUser(name))

    client = fake.client()
    app = starlette_app(client)
    app.add_middleware(AuthenticationMiddleware, backend=HeaderAuth())  # runs before ours
    with TestClient(app) as http:
        http.get("/hello", headers={"X-Test-User": "alice"})
        http.get("/hello", headers={"X-Test-User": "alice", **TRACING})  # the header wins
        http.get("/hello")
    client.flush()
    user, header, anonymous = fake.events.named("hello viewed")
    assert user.distinct_id == "alice"
    assert header.distinct_id == "user-1"
    assert anonymous.properties["$process_person_profile"] is False
