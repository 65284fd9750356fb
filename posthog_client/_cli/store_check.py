"""``doctor``'s checks of a definitions store (``--store`` or ``POSTHOG_DEFINITIONS_STORE``):
reachable, holding a good snapshot for this project, refreshed recently, with a leader."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from .._flags import envelope
from .._flags.parse import DefinitionsError, parse_definitions
from .._flags.store_url import open_store

if TYPE_CHECKING:
    from .common import Settings

# (status, message, fix): doctor turns each into one of its checks.
Check = tuple[str, str, "str | None"]

STALE_AFTER = 600.0  # seconds: a snapshot no leader refreshed for this long gets a warning
_RELAY = (
    "Run `python -m posthog_client flags-relay --store URL` (with POSTHOG_PERSONAL_API_KEY), or "
    "give at least one process using the store a personal API key."
)


def store_checks(settings: Settings) -> Iterator[Check]:
    url = settings.store
    if not url:
        return
    try:
        store: Any = open_store(url, envelope.project_id(settings.api_key))
    except ConfigError as exc:
        yield _check("fail", f"The definitions store URL is not usable: {exc}.")
        return
    try:
        started = time.monotonic()
        try:
            polled = store.poll(None, 1.0)
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"[:300]
            yield _check(
                "fail",
                f"Cannot use the definitions store {store!r}: {detail}.",
                "Check the host, port, database, user name and password in the URL, and that "
                "this machine may connect to it (firewall, TLS with rediss://).",
            )
            return
        elapsed = (time.monotonic() - started) * 1000
        yield _check("ok", f"Definitions store {store!r} answered in {elapsed:.0f} ms.")
        yield from _snapshot(store, polled.version, envelope.project_id(settings.api_key))
    finally:
        with contextlib.suppress(Exception):  # a check, not the app: nothing more to do
            store.close()


def _snapshot(store: Any, text: str | None, project: str) -> Iterator[Check]:
    version = envelope.parse_version(text)
    if version is None:
        yield _check("warn", "The store holds no flag definitions for this project yet.", _RELAY)
        return
    data = store.read()
    try:
        stored = envelope.decode(data or b"", project)
        count = len(parse_definitions(json.loads(stored.body)).flags) if stored.body else 0
    except (envelope.SnapshotError, ValueError, DefinitionsError) as exc:
        yield _check(
            "fail",
            f"The store's snapshot is unusable ({exc}): processes keep what they have.",
            "A leader replaces it on its next poll; if none does, see the next line.",
        )
        count = -1
    if count >= 0:
        age = max(0.0, time.time() - version.fetched_at_ms / 1000)
        status = "ok" if age <= STALE_AFTER else "warn"
        yield _check(
            status,
            f"The store holds {count} flag definition(s) (fence {version.fence}), confirmed by "
            f"PostHog {age:.0f} s ago.",
            None if status == "ok" else "No leader refreshed it lately. " + _RELAY,
        )
    holder = getattr(store, "lease_holder", None)
    if callable(holder):
        leader = holder()
        if leader:
            yield _check("ok", f"A process leads the fleet's polling: {leader}.")
        else:
            yield _check("warn", "No process holds the lease: nobody polls PostHog.", _RELAY)


def _check(status: str, message: str, fix: str | None = None) -> Check:
    return status, message, fix
