"""Quickstart: capture events, people and flags from a plain Python script.

    python examples/quickstart.py

Without POSTHOG_API_KEY it runs against an embedded fake PostHog (nothing leaves the process)
and prints what "PostHog" received. With POSTHOG_API_KEY (and POSTHOG_HOST) it sends for real.
"""

from __future__ import annotations

import os
import sys

import posthog_client as posthog
from posthog_client import Client
from posthog_client.testing import FakePostHog


def run(client: Client) -> None:
    # Events: the distinct id first, then the event name and its properties.
    client.capture("ian@posthog.com", "signed up", {"plan": "free"})
    # People: $set properties on the person.
    client.identify("ian@posthog.com", {"email": "ian@posthog.com", "plan": "free"})

    # Inside a context (a web request, a job), capture("event") takes the person from it.
    with posthog.new_context():
        posthog.identify_context("ian@posthog.com")
        posthog.tag("source", "quickstart")  # added to every event in this block
        client.capture("upgraded to pro", properties={"plan": "pro"})

    # Feature flags never raise: an unknown flag is just "not enabled".
    if client.feature_enabled("new-onboarding", "ian@posthog.com"):
        client.capture("ian@posthog.com", "saw new onboarding")

    # A background thread sends events in batches; flush() waits for it (with a deadline).
    client.flush(timeout=5)


def main() -> int:
    api_key = os.environ.get("POSTHOG_API_KEY")
    if api_key:
        host = os.environ.get("POSTHOG_HOST", "https://us.i.posthog.com")
        with Client(api_key, host=host) as client:  # shut down (and flushed) at the end
            run(client)
            print(f"sent to {host}: {client.stats()}")
        return 0

    with FakePostHog() as fake:  # an in-memory PostHog
        fake.set_flag("new-onboarding", rollout=100)  # a flag that is on for everyone
        client = fake.client(personal_api_key=None)  # flags asked of the (fake) server
        run(client)
        print(f"The fake PostHog received {len(fake.events)} events:")
        for event in fake.events:
            shown = {k: v for k, v in event.properties.items() if not k.startswith("$")}
            print(f"  {event.name:<26} {event.distinct_id:<18} {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
