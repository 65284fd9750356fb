"""An in-memory PostHog for tests: the real SDK runs end to end, nothing leaves the process.

::

    from posthog_client.testing import FakePostHog

    def test_signup_is_tracked():
        with FakePostHog() as fake:
            client = fake.client()
            signup(client, "user-1")        # your code
            client.flush()
            assert fake.events.named("signed up").for_distinct_id("user-1")

Names are imported on first use, so the pytest plugin (which lives in this package and is
loaded in every test run of a project that installs posthog-client) costs nothing until a
fixture is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._adapter import FakeAdapter
    from ._fake import FakePostHog
    from ._records import Event, EventList, FakeResponse, RecordedRequest

__all__ = ["Event", "EventList", "FakeAdapter", "FakePostHog", "FakeResponse", "RecordedRequest"]

_HOMES = {
    "Event": "._records",
    "EventList": "._records",
    "FakeAdapter": "._adapter",
    "FakePostHog": "._fake",
    "FakeResponse": "._records",
    "RecordedRequest": "._records",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
