"""What several flag test modules share: a definition and two ways to read what reached the fake."""

from __future__ import annotations

from typing import Any

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


def flag_requests(fake: FakePostHog) -> list[Any]:
    return [r for r in fake.requests if r.path.rstrip("/") == "/flags"]


def called(fake: FakePostHog, client: Client) -> list[Any]:
    assert client.flush()
    return list(fake.events.named("$feature_flag_called"))
