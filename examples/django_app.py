"""A single-file Django app with PostHog's middleware.

    python examples/django_app.py              # two requests through Django's test client
    python examples/django_app.py runserver    # a real dev server (any manage.py command works)

Without POSTHOG_API_KEY it sends to an embedded fake PostHog and prints what it received.
"""

from __future__ import annotations

import os
import sys

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path

import posthog_client as posthog
from posthog_client.testing import FakePostHog

# Without POSTHOG_API_KEY: an in-memory fake PostHog (nothing leaves the process).
API_KEY = os.environ.get("POSTHOG_API_KEY")
FAKE = None if API_KEY else FakePostHog()
if FAKE is None:
    POSTHOG_SETTINGS = {
        "POSTHOG_API_KEY": API_KEY,
        "POSTHOG_HOST": os.environ.get("POSTHOG_HOST", "https://us.i.posthog.com"),
    }
else:
    POSTHOG_SETTINGS = {"POSTHOG_API_KEY": FAKE.api_key, "POSTHOG_HOST": FAKE.host}
    posthog.session = FAKE.session()  # route the module-level client to the fake

settings.configure(
    DEBUG=False,
    SECRET_KEY="example-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        # Reads the POSTHOG_* settings below into the module-level client at startup.
        "posthog_client.integrations.django.PostHogAppConfig",
    ],
    MIDDLEWARE=[
        # Near the top: every request gets a fresh PostHog context, with the person and session
        # from the X-POSTHOG-DISTINCT-ID / X-POSTHOG-SESSION-ID headers posthog-js sends.
        "posthog_client.integrations.django.PostHogMiddleware",
    ],
    POSTHOG_CAPTURE_EXCEPTIONS=True,  # unhandled exceptions become $exception events
    **POSTHOG_SETTINGS,  # POSTHOG_API_KEY, POSTHOG_HOST (also: POSTHOG_PERSONAL_API_KEY, ...)
)


def checkout(request: HttpRequest) -> HttpResponse:
    # No distinct id needed: it comes from the request's context.
    posthog.capture("checkout started", properties={"items": 3})
    return HttpResponse("checkout page")


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("payment provider unreachable")


urlpatterns = [path("checkout", checkout), path("broken", broken)]


def main() -> int:
    django.setup()
    if len(sys.argv) > 1:  # e.g. runserver
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
        return 0

    from django.test import Client

    browser = Client(raise_request_exception=False)
    tracing = {"X-POSTHOG-DISTINCT-ID": "ian@posthog.com", "X-POSTHOG-SESSION-ID": "s-1"}
    print("GET /checkout ->", browser.get("/checkout", headers=tracing).status_code)
    print("GET /checkout ->", browser.get("/checkout").status_code, "(anonymous)")
    print("GET /broken   ->", browser.get("/broken", headers=tracing).status_code)
    posthog.flush(timeout=5)

    if FAKE is not None:
        print(f"\nThe fake PostHog received {len(FAKE.events)} events:")
        for event in FAKE.events:
            props = event.properties
            print(
                f"  {event.name:<17} {event.distinct_id:<38} session={props.get('$session_id')} "
                f"path={props.get('$request_path')}"
            )
    posthog.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
