"""A Flask app with the PostHog extension.

    python examples/flask_app.py                  # two requests through Flask's test client
    flask --app examples/flask_app.py run         # a real dev server

Without POSTHOG_API_KEY it sends to an embedded fake PostHog and prints what it received.
"""

from __future__ import annotations

import os
import sys

from flask import Flask

import posthog_client as posthog
from posthog_client.integrations.flask import PostHog
from posthog_client.testing import FakePostHog

app = Flask(__name__)

# Without POSTHOG_API_KEY: an in-memory fake PostHog (nothing leaves the process).
FAKE = None if os.environ.get("POSTHOG_API_KEY") else FakePostHog()
if FAKE is None:
    app.config["POSTHOG_API_KEY"] = os.environ["POSTHOG_API_KEY"]
    app.config["POSTHOG_HOST"] = os.environ.get("POSTHOG_HOST", "https://us.i.posthog.com")
else:
    app.config["POSTHOG_API_KEY"] = FAKE.api_key
    app.config["POSTHOG_HOST"] = FAKE.host
    posthog.session = FAKE.session()  # route the module-level client to the fake

# Configures the module-level client from app.config, gives every request a fresh context (the
# person and session from posthog-js's X-POSTHOG-DISTINCT-ID / X-POSTHOG-SESSION-ID headers) and
# captures unhandled exceptions. Or: posthog_ext = PostHog(); posthog_ext.init_app(app).
PostHog(app)


@app.post("/orders")
def create_order() -> tuple[str, int]:
    posthog.capture("order created", properties={"amount": 29.5})  # the person: from the context
    return "created", 201


@app.get("/broken")
def broken() -> str:
    raise RuntimeError("inventory service unreachable")


def main() -> int:
    app.logger.disabled = True  # Flask logs the /broken traceback: keep this demo's output short
    browser = app.test_client()
    tracing = {"X-POSTHOG-DISTINCT-ID": "ian@posthog.com", "X-POSTHOG-SESSION-ID": "s-1"}
    print("POST /orders ->", browser.post("/orders", headers=tracing).status_code)
    print("GET /broken  ->", browser.get("/broken", headers=tracing).status_code)
    posthog.flush(timeout=5)

    if FAKE is not None:
        print(f"\nThe fake PostHog received {len(FAKE.events)} events:")
        for event in FAKE.events:
            props = event.properties
            print(
                f"  {event.name:<14} {event.distinct_id:<16} session={props.get('$session_id')} "
                f"{props.get('$request_method')} {props.get('$request_path')}"
            )
    posthog.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
