"""A tour of posthog_client, run as a small backend job.

Without POSTHOG_API_KEY it runs against the embedded fake PostHog (no network) and prints exactly
what reached "PostHog". With POSTHOG_API_KEY (and POSTHOG_HOST) set it sends to that PostHog.
"""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal

from posthog_client import Client
from posthog_client.testing import FakePostHog


def run_job(client: Client) -> None:
    """What a backend does: sign-ups, people and groups, orders, with awkward values too."""
    client.capture("ian@posthog.com", "signed up", {"plan": "free", "source": "demo"})
    client.identify("ian@posthog.com", {"email": "ian@posthog.com", "name": "Ian"})
    client.set_once("ian@posthog.com", {"first_seen_by": "demo"})
    client.group_identify("company", "posthog", {"name": "PostHog", "employees": 60})
    client.alias("anonymous-7f3a", "ian@posthog.com")
    for order in range(3):
        client.capture(
            "ian@posthog.com",
            "order completed",
            {"order": order, "amount": Decimal("29.50"), "tags": {"new", "promo"}},
            groups={"company": "posthog"},
        )
    client.capture("", "ignored: an empty distinct id is logged, never raised")


def main() -> int:
    api_key = os.environ.get("POSTHOG_API_KEY")
    if api_key:
        host = os.environ.get("POSTHOG_HOST", "https://us.i.posthog.com")
        with Client(api_key, host=host) as client:
            run_job(client)
            delivered = client.flush(timeout=10)
            print(f"sent to {host}: {client.stats()} (all delivered: {delivered})")
        return 0 if delivered else 1

    with FakePostHog() as fake:
        client = fake.client()
        run_job(client)
        client.flush(timeout=5)
        print(f"The fake PostHog received {len(fake.requests)} request(s):")
        for request in fake.requests:
            print(
                f"  {request.method} {request.path} -> {request.status}, "
                f"Content-Encoding: {request.header('Content-Encoding')}"
            )
        print(f"\n{len(fake.events)} event(s):")
        for event in fake.events:
            shown = {k: v for k, v in event.properties.items() if not k.startswith("$python")}
            extra = {k: event[k] for k in ("$set", "$set_once") if k in event}
            print(f"  {event.name:<16} {event.distinct_id:<18} {json.dumps({**extra, **shown})}")
        print(f"\nclient.stats(): {client.stats()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
