"""Celery: the person and session of the code that sends a task follow it to the worker.

    python examples/celery_task.py      # an in-memory broker and an in-process worker

For a real deployment, point CELERY_BROKER_URL at your broker, run the worker with
``celery -A celery_task worker`` (from examples/) and call ``send_receipt.delay(...)`` from your
web app. Without POSTHOG_API_KEY this sends to an embedded fake PostHog and prints what it got.
"""

from __future__ import annotations

import os
import sys

from celery import Celery

import posthog_client as posthog
from posthog_client.integrations import celery as posthog_celery
from posthog_client.testing import FakePostHog

# Without POSTHOG_API_KEY: an in-memory fake PostHog (nothing leaves the process).
FAKE = None if os.environ.get("POSTHOG_API_KEY") else FakePostHog()
if FAKE is None:
    posthog.api_key = os.environ["POSTHOG_API_KEY"]
    posthog.host = os.environ.get("POSTHOG_HOST", "https://us.i.posthog.com")
else:
    posthog.api_key, posthog.host = FAKE.api_key, FAKE.host
    posthog.session = FAKE.session()  # route the module-level client to the fake

app = Celery(
    "shop",
    broker=os.environ.get("CELERY_BROKER_URL", "memory://"),
    backend=os.environ.get("CELERY_RESULT_BACKEND", "cache+memory://"),
)
app.conf.broker_connection_retry_on_startup = True

# Both where tasks are sent (copies the current person and session into the task headers) and in
# the worker (runs each task in a fresh context holding them; captures failed tasks).
posthog_celery.setup(app)


@app.task
def send_receipt(order_id: int) -> str:
    # No distinct id: it is the person of the request that sent this task.
    posthog.capture("receipt sent", properties={"order": order_id})
    return f"receipt for order {order_id}"


@app.task
def charge_card(order_id: int) -> None:
    raise RuntimeError(f"card declined for order {order_id}")


def main() -> int:
    from celery.contrib.testing.worker import start_worker

    app.conf.worker_hijack_root_logger = False
    app.conf.broker_transport_options = {"polling_interval": 0.05}
    # A worker in a thread (quiet: the failing task's traceback would be logged).
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="CRITICAL"):
        # What a web request handler does (the web integrations set this context for you):
        with posthog.new_context():
            posthog.identify_context("ian@posthog.com")
            posthog.set_context_session("s-1")
            receipt = send_receipt.delay(42)
            charge = charge_card.delay(43)
        print("send_receipt ->", receipt.get(timeout=10, interval=0.05))
        charge.get(timeout=10, interval=0.05, propagate=False)
        print("charge_card  ->", charge.state)
        if FAKE is not None:
            FAKE.wait_for_events(2, timeout=5)  # the failure is captured just after it is stored
    posthog.flush(timeout=5)

    if FAKE is not None:
        print(f"\nThe fake PostHog received {len(FAKE.events)} events:")
        for event in FAKE.events:
            props = event.properties
            print(
                f"  {event.name:<13} {event.distinct_id:<38} session={props.get('$session_id')} "
                f"task={props.get('$celery_task')}"
            )
    posthog.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
