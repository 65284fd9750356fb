"""A tour of posthog_client, run as a small backend job.

Without POSTHOG_API_KEY it runs against the embedded fake PostHog (no network) and prints exactly
what reached "PostHog". With POSTHOG_API_KEY (and POSTHOG_HOST, POSTHOG_PERSONAL_API_KEY) set it
sends to that PostHog instead.
"""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal

from posthog_client import Client
from posthog_client.testing import FakePostHog

PRO_ONLY = {
    "groups": [
        {
            "properties": [{"key": "plan", "value": "pro", "type": "person", "operator": "exact"}],
            "rollout_percentage": 100,
        }
    ]
}


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
            {"order": order, "amount": Decimal("29.50"), "tags": ["new", "promo"]},
            groups={"company": "posthog"},
        )
    client.capture("", "ignored: an empty distinct id is logged, never raised")


def check_flags(client: Client) -> None:
    """Flag checks as a request handler makes them: local when it can, remote when it must."""
    print("\nFeature flags for ian@posthog.com:")
    for key, person in [
        ("new-checkout", None),
        ("pricing-test", None),
        ("pro-dashboard", {"plan": "pro"}),
        ("pro-dashboard", None),  # plan not passed: local evaluation cannot decide
    ]:
        result = client.get_feature_flag_result(key, "ian@posthog.com", person_properties=person)
        if result is None:
            continue
        where = "locally " if result.locally_evaluated else "remotely"
        why = f" (not local: {result.unresolved})" if result.unresolved else ""
        payload = f", payload {json.dumps(result.payload)}" if result.payload is not None else ""
        print(f"  {key:<14} = {result.value!r:<10} {where}{why}{payload}")


def main() -> int:
    api_key = os.environ.get("POSTHOG_API_KEY")
    if api_key:
        host = os.environ.get("POSTHOG_HOST", "https://us.i.posthog.com")
        personal = os.environ.get("POSTHOG_PERSONAL_API_KEY")
        with Client(api_key, host=host, personal_api_key=personal) as client:
            run_job(client)
            check_flags(client)
            delivered = client.flush(timeout=10)
            print(f"\nsent to {host}: {client.stats()} (all delivered: {delivered})")
        return 0 if delivered else 1

    with FakePostHog() as fake:
        fake.set_flag("new-checkout", rollout=100)
        fake.set_flag(
            "pricing-test",
            variants={"control": 50, "cheaper": 50},
            payload={"control": {"price": 29.5}, "cheaper": {"price": 24.5}},
        )
        fake.set_flag("pro-dashboard", filters=PRO_ONLY)
        fake.set_remote_flags("ian@posthog.com", {"pro-dashboard": True})  # the server knows
        fake.fail(status=503, times=1)  # the first batch meets a hiccup: it is retried
        client = fake.client(retry_base_delay=0.2)
        run_job(client)
        check_flags(client)
        client.flush(timeout=5)
        print(f"\nThe fake PostHog received {len(fake.requests)} request(s):")
        for request in fake.requests:
            print(f"  {request.method:<4} {request.path:<20} -> {request.status}")
        print(f"\n{len(fake.events)} event(s):")
        for event in fake.events:
            shown = {
                k: v
                for k, v in event.properties.items()
                if not k.startswith(("$python", "$lib", "$os", "$is_server", "$geoip"))
            }
            extra = {k: event[k] for k in ("$set", "$set_once") if k in event}
            print(f"  {event.name:<20} {event.distinct_id:<18} {json.dumps({**extra, **shown})}")
        print(f"\nclient.stats(): {client.stats()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
