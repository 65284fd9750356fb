"""``python -m posthog_client flags-relay --store URL``: the one process that polls PostHog for
flag definitions and writes them to a shared store, so app processes need no personal key.

Run two for high availability: they compete for the store's lease, one polls, the other stands
by and takes over within about two poll intervals if the first dies. SIGTERM or SIGINT gives
the lease back at once (so a rolling restart costs no gap) and exits 0.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any

from .._types import FlagStats
from .common import EXIT_FAILURE, EXIT_OK, Settings, UsageError, make_client

STATUS_EVERY = 60.0  # seconds between status lines while nothing changes


def relay(settings: Settings, store: str, interval: float, once: bool) -> int:
    if not store:
        raise UsageError("--store (or POSTHOG_DEFINITIONS_STORE) is required, e.g. redis://host/0")
    if not settings.personal_api_key:
        raise UsageError(
            "POSTHOG_PERSONAL_API_KEY is not set: the relay polls PostHog with it (a personal "
            "API key with feature flag read access)"
        )
    client = make_client(
        settings,
        personal_api_key=settings.personal_api_key,
        definitions_store=store,
        poll_interval=interval,
    )
    stop = threading.Event()
    previous = _handle_signals(stop)
    try:
        client.load_feature_flags()  # the first round, bounded by --timeout
        flags = client.stats().flags
        if once:
            _say(settings, "done", flags)
            return EXIT_OK if flags.loaded and not flags.store_errors else EXIT_FAILURE
        _say(settings, "start", flags, f"polling {client.host} every {interval:g} s")
        shown: tuple[Any, ...] = (flags.role, flags.fence, flags.loaded, flags.last_store_error)
        last = time.monotonic()
        while not stop.wait(min(1.0, interval)):
            flags = client.stats().flags
            state = (flags.role, flags.fence, flags.loaded, flags.last_store_error)
            if state != shown or time.monotonic() - last >= STATUS_EVERY:
                _say(settings, "status", flags)
                shown, last = state, time.monotonic()
        return EXIT_OK
    finally:
        client.shutdown(timeout=2.0)  # gives the lease back
        _say(settings, "stopped", client.stats().flags)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _handle_signals(stop: threading.Event) -> dict[int, Any]:
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous  # called in-process by a test: the caller stops it
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous


def _say(settings: Settings, event: str, flags: FlagStats, note: str = "") -> None:
    age = flags.snapshot_age
    if settings.json:
        line: dict[str, Any] = {
            "event": event,
            "role": flags.role,
            "fence": flags.fence,
            "loaded": flags.loaded,
        }
        line.update(
            snapshot_age=None if age is None else round(age, 1),
            fetches=flags.fetches,
            not_modified=flags.not_modified,
            store_errors=flags.store_errors,
            store=flags.store,
        )
        settings.out.write(json.dumps(line) + "\n")
    else:
        role = f"{flags.role} (fence {flags.fence})" if flags.fence else flags.role
        shown = "no definitions yet" if age is None else f"definitions {age:.0f} s old"
        error = f", store error: {flags.last_store_error}" if flags.last_store_error else ""
        settings.emit(
            f"flags-relay {event}: {flags.store} {role}, {shown}, {flags.fetches} request(s), "
            f"{flags.not_modified} not modified{error}" + (f"; {note}" if note else "")
        )
    settings.out.flush()
