"""Request context: capture(event) deep in a handler, never leaking between requests."""

from __future__ import annotations

import asyncio
import threading

import posthog_client as posthog
from posthog_client.testing import FakePostHog


def test_capture_takes_the_person_and_session_from_the_context(fake: FakePostHog) -> None:
    client = fake.client()
    with posthog.new_context():
        posthog.identify_context("u1")
        posthog.set_context_session("s-1")
        posthog.tag("route", "/checkout")
        client.capture("clicked", properties={"route": "/explicit"})
        client.capture("other-user", "clicked")  # explicit arguments win
    client.flush()
    first, second = fake.events
    assert (first.name, first.distinct_id) == ("clicked", "u1")
    assert first.properties["$session_id"] == "s-1"
    assert first.properties["route"] == "/explicit"
    assert (second.distinct_id, second.properties["route"]) == ("other-user", "/checkout")


def test_without_a_person_events_are_personless(fake: FakePostHog) -> None:
    client = fake.client()
    client.capture("cron ran")
    client.flush()
    [event] = fake.events
    assert event.properties["$process_person_profile"] is False
    assert len(event.distinct_id) == 36


def test_context_ends_with_its_block(fake: FakePostHog) -> None:
    client = fake.client()
    with posthog.new_context():
        posthog.identify_context("u1")
        posthog.tag("a", 1)
        with posthog.new_context():
            posthog.tag("b", 2)
            client.capture("inner")
        client.capture("outer")
        with posthog.new_context(fresh=True):
            client.capture("fresh")
    client.capture("after")
    client.flush()
    by_name = {e.name: e for e in fake.events}
    assert by_name["inner"].properties["b"] == 2 and by_name["inner"].distinct_id == "u1"
    assert "b" not in by_name["outer"].properties and by_name["outer"].properties["a"] == 1
    assert "a" not in by_name["fresh"].properties and by_name["fresh"].distinct_id != "u1"
    assert "a" not in by_name["after"].properties


def test_context_is_isolated_between_threads(fake: FakePostHog) -> None:
    client = fake.client()
    barrier = threading.Barrier(8)

    def request(i: int) -> None:
        with posthog.new_context():
            posthog.identify_context(f"user-{i}")
            posthog.tag("i", i)
            barrier.wait(5)
            client.capture("hit")

    threads = [threading.Thread(target=request, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    client.flush()
    assert sorted((e.distinct_id, e.properties["i"]) for e in fake.events) == sorted(
        (f"user-{i}", i) for i in range(8)
    )


def test_context_is_isolated_between_asyncio_tasks(fake: FakePostHog) -> None:
    client = fake.client()

    async def request(i: int) -> None:
        with posthog.new_context():
            posthog.identify_context(f"user-{i}")
            await asyncio.sleep(0.001 * (8 - i))  # interleave the tasks
            posthog.tag("i", i)
            await asyncio.sleep(0)
            client.capture("hit")

    async def main() -> None:
        await asyncio.gather(*(request(i) for i in range(8)))

    asyncio.run(main())
    client.flush()
    assert sorted((e.distinct_id, e.properties["i"]) for e in fake.events) == sorted(
        (f"user-{i}", i) for i in range(8)
    )


def test_flags_use_the_context_person(fake: FakePostHog) -> None:
    fake.set_flag("beta")
    client = fake.client()
    with posthog.new_context():
        posthog.identify_context("u1")
        assert client.feature_enabled("beta") is True
    client.flush()
    assert fake.events.named("$feature_flag_called")[0].distinct_id == "u1"
