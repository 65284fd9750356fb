"""A FastAPI app with PostHog's ASGI middleware and flag calls that never block the event loop.

    python examples/fastapi_app.py                               # requests via a test client
    uvicorn fastapi_app:app --app-dir examples                   # a real server

Without POSTHOG_API_KEY it sends to an embedded fake PostHog and prints what it received.
"""

from __future__ import annotations

import asyncio
import os
import sys
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from posthog_client import Client
from posthog_client.integrations.asgi import PostHogMiddleware, async_feature_enabled
from posthog_client.testing import FakePostHog

# Without POSTHOG_API_KEY: an in-memory fake PostHog (nothing leaves the process).
FAKE = None if os.environ.get("POSTHOG_API_KEY") else FakePostHog()
if FAKE is None:
    client = Client(
        os.environ["POSTHOG_API_KEY"],
        host=os.environ.get("POSTHOG_HOST", "https://us.i.posthog.com"),
        personal_api_key=os.environ.get("POSTHOG_PERSONAL_API_KEY"),  # local flag evaluation
    )
else:
    FAKE.set_flag("pricing-test", variants={"control": 50, "discount": 50})
    FAKE.set_flag("beta-dashboard", rollout=100)
    client = FAKE.client()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Download the flag definitions once, off the loop, so local evaluation never waits.
    await asyncio.to_thread(client.load_feature_flags)
    yield
    await asyncio.to_thread(client.shutdown, 5)  # deliver what is queued


app = FastAPI(lifespan=lifespan)
# Every request (and WebSocket) gets a fresh context with the person and session from the
# X-POSTHOG-DISTINCT-ID / X-POSTHOG-SESSION-ID headers; unhandled exceptions are captured.
app.add_middleware(PostHogMiddleware, client=client)


@app.get("/pricing")
async def pricing() -> dict[str, Any]:
    # Local only: never a network call, so fine to call on the event loop.
    variant = client.get_feature_flag("pricing-test", only_evaluate_locally=True)
    # Might ask the server: run it in a worker thread (the request's context goes with it).
    beta = await async_feature_enabled(client, "beta-dashboard")
    client.capture("pricing viewed", properties={"variant": variant})  # person: from context
    return {"variant": variant, "beta": beta}


@app.get("/broken")
async def broken() -> None:
    raise RuntimeError("pricing service unreachable")


def main() -> int:
    with warnings.catch_warnings():
        # Starlette now prefers the httpx2 package for its TestClient; httpx still works.
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient

    tracing = {"X-POSTHOG-DISTINCT-ID": "ian@posthog.com", "X-POSTHOG-SESSION-ID": "s-1"}
    with TestClient(app, raise_server_exceptions=False) as browser:  # runs the lifespan too
        print("GET /pricing ->", browser.get("/pricing", headers=tracing).json())
        print("GET /broken  ->", browser.get("/broken", headers=tracing).status_code)

    if FAKE is not None:
        print(f"\nThe fake PostHog received {len(FAKE.events)} events:")
        for event in FAKE.events:
            props = event.properties
            detail = props.get("$feature_flag") or props.get("variant") or ""
            print(
                f"  {event.name:<21} {event.distinct_id:<16} session={props.get('$session_id')} "
                f"{props.get('$request_path')} {detail}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
