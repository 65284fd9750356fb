"""Local feature flag evaluation: flags decided in-process, in microseconds, without a request.

    python examples/local_flags.py

With a personal API key the client downloads the flag definitions in the background (and keeps
them fresh) and evaluates flags itself; it asks PostHog only when it cannot decide, unless you
pass only_evaluate_locally=True. Without POSTHOG_API_KEY this runs against an embedded fake
PostHog holding a few flags; set POSTHOG_API_KEY and POSTHOG_PERSONAL_API_KEY to use yours.
"""

from __future__ import annotations

import os
import sys

from posthog_client import Client
from posthog_client.testing import FakePostHog

PRO_USERS_ONLY = {
    "groups": [
        {
            "properties": [{"key": "plan", "value": "pro", "type": "person", "operator": "exact"}],
            "rollout_percentage": 100,
        }
    ]
}


def run(client: Client) -> None:
    # Optional: download the definitions now rather than on the first flag call.
    print("definitions loaded:", client.load_feature_flags())

    for user, plan in (("ian@posthog.com", "pro"), ("max@posthog.com", "free")):
        # Pass the properties your flags filter on: local evaluation only knows what you pass.
        result = client.get_feature_flag_result(
            "pro-dashboard", user, person_properties={"plan": plan}
        )
        if result is not None:
            print(
                f"pro-dashboard for {user:<16} -> {result.value!s:<5} "
                f"(locally evaluated: {result.locally_evaluated}, reason: {result.reason})"
            )

    # A multivariate flag with a JSON payload per variant.
    variant = client.get_feature_flag("pricing-test", "ian@posthog.com")
    payload = client.get_feature_flag_payload("pricing-test", "ian@posthog.com")
    print(f"pricing-test for ian@posthog.com -> {variant} with payload {payload}")

    # Never a network call: what local evaluation cannot decide is None (here: the plan is
    # unknown, so pro-dashboard is undecided).
    print(
        "local only, plan unknown ->",
        client.get_feature_flag("pro-dashboard", "ann@posthog.com", only_evaluate_locally=True),
    )
    # Every flag at once, locally when possible (at most one request for the rest).
    print("all flags:", client.get_all_flags("ian@posthog.com", person_properties={"plan": "pro"}))


def main() -> int:
    api_key = os.environ.get("POSTHOG_API_KEY")
    if api_key:
        personal_api_key = os.environ.get("POSTHOG_PERSONAL_API_KEY")
        if not personal_api_key:
            print("set POSTHOG_PERSONAL_API_KEY too: local evaluation needs it")
            return 0
        host = os.environ.get("POSTHOG_HOST", "https://us.i.posthog.com")
        with Client(api_key, host=host, personal_api_key=personal_api_key) as client:
            run(client)
        return 0

    with FakePostHog() as fake:
        fake.set_flag("pro-dashboard", filters=PRO_USERS_ONLY)
        fake.set_flag(
            "pricing-test",
            variants={"control": 50, "discount": 50},
            payload={"control": {"price": 29}, "discount": {"price": 19}},
        )
        client = fake.client()  # has the fake's personal API key: evaluates locally
        run(client)
        client.flush(timeout=5)
        print(f"\n{len(fake.requests_to('/flags'))} request(s) to /flags (remote evaluation)")
        print(f"{len(fake.events.named('$feature_flag_called'))} $feature_flag_called events sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
