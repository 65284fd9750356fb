"""An in-memory PostHog for tests: the real SDK runs end to end, nothing leaves the process.

::

    from . import FakePostHog

    def test_signup_is_tracked():
        with FakePostHog() as fake:
            client = fake.client()
            signup(client, "user-1")        # your code
            client.flush()
            assert fake.events.named("signed up").for_distinct_id("user-1")
"""

from __future__ import annotations

from ._adapter import FakeAdapter
from ._fake import FakePostHog
from ._records import Event, EventList, FakeResponse, RecordedRequest

__all__ = ["Event", "EventList", "FakeAdapter", "FakePostHog", "FakeResponse", "RecordedRequest"]
