"""Celery: a real worker in a thread, an in-memory broker, and the fake PostHog.

Eager mode would not do for the headers: it skips publishing. Here tasks are published to the
``memory://`` broker (``before_task_publish`` runs in the test thread, with the test's context)
and run by an embedded worker (``task_prerun``/``task_postrun``/``task_failure`` run in the
worker thread).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery, signals
from celery.contrib.testing.worker import start_worker
from celery.worker import state

import posthog_client
from posthog_client import Client
from posthog_client.integrations import celery as posthog_celery
from posthog_client.testing import FakePostHog

TIMEOUT = 10
POLL = 0.01  # how often result.get() looks for a result


class Recorder:
    """Which client the tasks capture with (set per test)."""

    client: Client | None = None


def make_app() -> Celery:
    app = Celery("posthog-client-tests", broker="memory://", backend="cache+memory://")
    app.conf.update(
        broker_connection_retry_on_startup=True,
        broker_transport_options={"polling_interval": 0.01},  # the default is 1 s
        task_acks_late=False,
    )

    @app.task(name="tests.checkout", shared=False)
    def checkout(order: int) -> str | None:
        assert Recorder.client is not None
        return Recorder.client.capture("order shipped", properties={"order": order})

    @app.task(name="tests.explode", shared=False)
    def explode() -> None:
        raise ValueError("task kaboom")

    @app.task(name="tests.noop", shared=False)
    def noop() -> None:
        return None

    @app.task(name="tests.fan_out", shared=False)
    def fan_out() -> str:
        return str(checkout.delay(99).id)  # published from the worker, inside the task's context

    return app


@pytest.fixture(scope="module")
def app() -> Celery:
    return make_app()


def leave_logging_alone(**kwargs: Any) -> None:
    """A ``setup_logging`` receiver: with one connected, Celery does not configure logging (it
    would raise the root logger's level for the rest of the test session)."""


@pytest.fixture(scope="module")
def worker(app: Celery) -> Iterator[Any]:
    signals.setup_logging.connect(leave_logging_alone, weak=False)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=TIMEOUT) as w:
        signals.setup_logging.disconnect(leave_logging_alone)
        yield w
        # Stop quickly: the worker notices the stop flag only between two 2-second waits for a
        # message, so hand it two messages to wake up with (it stops within ~4 s without them).
        state.should_terminate = 0
        app.tasks["tests.noop"].delay()
        app.tasks["tests.noop"].delay()


@pytest.fixture
def client(fake: FakePostHog) -> Iterator[Client]:
    Recorder.client = fake.client()
    integration = posthog_celery.setup(client=Recorder.client)
    try:
        yield Recorder.client
    finally:
        integration.disconnect()
        Recorder.client = None


def test_the_senders_person_and_session_follow_the_task(
    app: Celery, worker: Any, client: Client, fake: FakePostHog
) -> None:
    with posthog_client.new_context():
        posthog_client.identify_context("user-1")
        posthog_client.set_context_session("session-1")
        first = app.tasks["tests.checkout"].delay(1)
    second = app.tasks["tests.checkout"].delay(2)  # sent outside any context
    custom = app.tasks["tests.checkout"].apply_async(
        (3,), headers={"posthog_distinct_id": "chosen-by-the-caller"}
    )
    with posthog_client.new_context():
        posthog_client.identify_context("user-1")
        third = app.tasks["tests.checkout"].apply_async(
            (4,), headers={"posthog_distinct_id": "chosen-by-the-caller"}
        )
    for result in (first, second, custom, third):
        assert result.get(timeout=TIMEOUT, interval=POLL)
    client.flush()
    by_order = {e.properties["order"]: e for e in fake.events.named("order shipped")}
    assert by_order[1].distinct_id == "user-1"
    assert by_order[1].properties["$session_id"] == "session-1"
    assert by_order[1].properties["$celery_task"] == "tests.checkout"
    assert by_order[1].properties["$celery_task_id"] == first.id
    assert by_order[2].properties["$process_person_profile"] is False  # nothing leaked
    assert "$session_id" not in by_order[2].properties
    assert by_order[3].distinct_id == "chosen-by-the-caller"
    assert by_order[4].distinct_id == "chosen-by-the-caller"  # the caller's header wins


def test_a_task_sent_from_a_task_keeps_the_person(
    app: Celery, worker: Any, client: Client, fake: FakePostHog
) -> None:
    with posthog_client.new_context():
        posthog_client.identify_context("user-7")
        child_id = app.tasks["tests.fan_out"].delay().get(timeout=TIMEOUT, interval=POLL)
    assert app.AsyncResult(child_id).get(timeout=TIMEOUT, interval=POLL)
    client.flush()
    [event] = fake.events.named("order shipped")
    assert event.distinct_id == "user-7" and event.properties["$celery_task_id"] == child_id


def test_a_failed_task_becomes_an_exception_event(
    app: Celery, worker: Any, client: Client, fake: FakePostHog
) -> None:
    with posthog_client.new_context():
        posthog_client.identify_context("user-1")
        result = app.tasks["tests.explode"].delay()
    with pytest.raises(ValueError, match="task kaboom"):
        result.get(timeout=TIMEOUT, interval=POLL)
    # The worker stores the failure, then sends task_failure: wait for the event.
    [event] = fake.wait_for_events(1, timeout=TIMEOUT).named("$exception")
    assert event.distinct_id == "user-1"
    assert event.properties["$celery_task"] == "tests.explode"
    [exception] = event.properties["$exception_list"]
    assert exception["type"] == "ValueError"
    assert exception["mechanism"]["handled"] is False
    assert exception["mechanism"]["type"] == "task"
    assert event.properties["$exception_source"] == "celery.task_failure"


def test_eager_tasks_run_in_their_callers_context(client: Client, fake: FakePostHog) -> None:
    app = make_app()
    app.conf.task_always_eager = True
    with posthog_client.new_context():
        posthog_client.identify_context("user-3")
        posthog_client.tag("page", "/checkout")
        assert app.tasks["tests.checkout"].delay(5).get()
        eager_failure = app.tasks["tests.explode"].delay()
        assert eager_failure.failed()
    assert posthog_client._events.context.current() is posthog_client._events.context.EMPTY
    client.flush()
    [event] = fake.events.named("order shipped")
    assert event.distinct_id == "user-3" and event.properties["page"] == "/checkout"
    [exception] = fake.events.named("$exception")
    assert exception.distinct_id == "user-3"


def test_setup_for_one_app_and_disconnect(fake: FakePostHog) -> None:
    ours, theirs = make_app(), make_app()
    ours.conf.task_always_eager = theirs.conf.task_always_eager = True
    Recorder.client = fake.client()
    integration = posthog_celery.setup(ours, client=Recorder.client)
    replaced = posthog_celery.setup(ours, client=Recorder.client)  # replaces the first
    try:
        assert not integration._connected and replaced._connected
        with posthog_client.new_context(fresh=True):
            ours.tasks["tests.explode"].delay()
            theirs.tasks["tests.explode"].delay()
        Recorder.client.flush()
        assert len(fake.events.named("$exception")) == 1
    finally:
        replaced.disconnect()
        Recorder.client = None


def test_worker_process_shutdown_flushes(fake: FakePostHog) -> None:
    client = fake.client(flush_interval=60)  # nothing goes out on its own
    integration = posthog_celery.setup(client=client)
    try:
        client.capture("u1", "queued")
        integration.on_worker_process_shutdown(pid=1, exitcode=0)
        assert fake.events.named("queued")
    finally:
        integration.disconnect()


def test_handlers_ignore_what_they_cannot_use(client: Client) -> None:
    integration = posthog_celery.setup(client=client)
    integration.on_before_task_publish(headers=None, body=("args", "kwargs", {}))
    integration.on_task_prerun(task_id="t1", task=None)
    integration.on_task_postrun(task_id="never-started", task=None)
    integration.on_task_failure(sender=None, exception=None)
    assert posthog_client._events.context.current() is posthog_client._events.context.EMPTY
