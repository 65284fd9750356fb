"""Public value types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FlagValue = bool | str

DROP_REASONS = (
    "queue_full",
    "oversize",
    "rejected_4xx",
    "dropped_by_server",
    "retry_window",
    "evicted",
    "retries_exhausted",
    "shutdown_deadline",
    "before_send",
)


@dataclass(frozen=True)
class FlagStats:
    """Where this client's flag definitions come from, and how that is going
    (``client.stats().flags``).

    ``role``: ``"leader"`` (this process polls PostHog for the fleet and writes the shared
    snapshot), ``"follower"`` (it reads the shared snapshot), ``"standalone"`` (it polls PostHog
    for itself: a personal key and no ``definitions_store``) or ``"remote"`` (no local
    evaluation: every flag is asked of the server). ``fence`` is the leader's fencing token.
    ``snapshot_age`` is seconds since PostHog last confirmed the definitions in use (None: none
    loaded). ``fetches`` counts this process's definitions requests, ``not_modified`` the 304s
    among them. ``store_errors`` counts failed round trips to the store, ``rejected_snapshots``
    the shared snapshots refused as corrupt, truncated or foreign, ``lease_changes`` the times
    this process took or lost the lease.
    """

    role: str = "remote"
    store: str | None = None
    fence: int | None = None
    loaded: bool = False
    snapshot_age: float | None = None
    fetches: int = 0
    not_modified: int = 0
    store_errors: int = 0
    rejected_snapshots: int = 0
    lease_changes: int = 0
    last_store_error: str | None = None


@dataclass(frozen=True)
class Stats:
    """A snapshot of the delivery counters of one client (``client.stats()``).

    ``accepted`` counts every valid event handed to the pipeline, including the ones then dropped.
    ``unknown`` counts events sent but never answered (a deadline passed after the request was
    written): PostHog may have them, and their uuids make a resend harmless.
    With a spool, ``spooled`` counts events handed to it (``replayed``: sent from it).
    At any quiet point ``accepted == sent + sum(dropped.values()) + unknown + spooled + pending``.
    """

    accepted: int = 0
    sent: int = 0
    retried: int = 0
    pending: int = 0
    requests: int = 0
    dropped: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    last_error: str | None = None
    unknown: int = 0
    spooled: int = 0  # written to the spool by this process (delivered from there later)
    replayed: int = 0  # sent from the spool by this process (its own rows or another's)
    replay_dropped: int = 0  # spooled events dropped: past the spool's bounds, or refused
    spool_errors: int = 0  # the spool could not be written or read (events waited in memory)
    spool_events: int = 0  # in the spool file now (every process's rows)
    spool_bytes: int = 0
    flags: FlagStats = field(default_factory=FlagStats)  # where flag definitions come from

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


@dataclass(frozen=True)
class FlagResult:
    """The outcome of one flag check.

    ``value`` is ``True``/``False`` for boolean flags and the variant key for multivariate flags,
    or ``None`` when the flag could not be evaluated (``reason`` then says why). ``unresolved``
    names why local evaluation could not decide (``missing_property``, ``static_cohort``,
    ``experience_continuity``, ``unsupported_definition``, ``unresolved_dependency``, ...), also
    when the server then answered; ``error`` is set when the server could not.
    """

    key: str
    value: FlagValue | None
    payload: Any = None
    reason: str | None = None
    locally_evaluated: bool = False
    flag_id: int | None = None
    flag_version: int | None = None
    request_id: str | None = None
    error: str | None = None
    unresolved: str | None = None  # why local evaluation could not decide, when it could not
    unresolved_detail: str | None = None  # what to pass or fix so that it can

    @property
    def enabled(self) -> bool:
        return self.value is not None and self.value is not False

    @property
    def variant(self) -> str | None:
        return self.value if isinstance(self.value, str) else None

    def get_value(self) -> FlagValue | None:
        """The value (the variant key, or True/False), as the official SDK's result names it."""
        return self.value
