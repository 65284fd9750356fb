"""Testing your code's analytics with the fake PostHog and the SDK's pytest fixtures.

    pytest examples/test_with_fake.py

Installing posthog-client registers a pytest plugin with three fixtures:

- ``posthog_fake``: an in-memory PostHog; assert on ``posthog_fake.events`` and ``.requests``.
- ``posthog_client``: a real ``Client`` wired to it (shut down after the test).
- ``posthog_module``: the module-level API (``posthog_client.capture(...)``) routed to it.

Your code runs the real SDK end to end; nothing leaves the process.
"""

from __future__ import annotations

import posthog_client as posthog
from posthog_client import Client
from posthog_client.testing import FakePostHog


# -- the code under test (normally in your application) -----------------------------------------
def sign_up(client: Client, email: str, plan: str) -> None:
    client.identify(email, {"email": email, "plan": plan})
    client.capture(email, "signed up", {"plan": plan})


def checkout(items: int) -> None:
    posthog.capture("checkout started", properties={"items": items})  # person from the context


def show_new_pricing(client: Client, user: str) -> bool:
    return bool(client.feature_enabled("new-pricing", user))


# -- the tests ------------------------------------------------------------------------------------
def test_sign_up_is_tracked(posthog_client: Client, posthog_fake: FakePostHog) -> None:
    sign_up(posthog_client, "ian@posthog.com", "pro")
    posthog_client.flush()  # deliver now (with a deadline) instead of waiting for the batch

    [event] = posthog_fake.events.named("signed up").for_distinct_id("ian@posthog.com")
    assert event.properties["plan"] == "pro"
    [identify] = posthog_fake.events.named("$identify")
    assert identify.properties["$set"] == {"email": "ian@posthog.com", "plan": "pro"}


def test_module_level_calls_use_the_request_context(posthog_module: FakePostHog) -> None:
    with posthog.new_context():  # what the web integrations do for each request
        posthog.identify_context("ian@posthog.com")
        checkout(items=3)
    posthog.flush()

    [event] = posthog_module.events.named("checkout started")
    assert event.distinct_id == "ian@posthog.com"
    assert event.properties["items"] == 3


def test_feature_flags(posthog_client: Client, posthog_fake: FakePostHog) -> None:
    posthog_fake.set_flag("new-pricing", rollout=100)  # on for everyone
    assert show_new_pricing(posthog_client, "ian@posthog.com")

    posthog_fake.set_flag("new-pricing", rollout=0)  # off for everyone
    posthog_client.load_feature_flags()  # pick up the change now rather than at the next poll
    assert not show_new_pricing(posthog_client, "ian@posthog.com")


def test_an_outage_loses_nothing(posthog_client: Client, posthog_fake: FakePostHog) -> None:
    posthog_fake.fail(status=503, times=2)  # the next two batches get a 503: retried
    sign_up(posthog_client, "ian@posthog.com", "free")
    assert posthog_client.flush(timeout=5)
    assert posthog_fake.events.named("signed up")
    statuses = [r.status for r in posthog_fake.requests_to("/batch/")]
    assert statuses.count(503) == 2 and statuses[-1] == 200
