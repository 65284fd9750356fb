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
    "retries_exhausted",
    "shutdown_deadline",
    "before_send",
)


@dataclass(frozen=True)
class Stats:
    """A snapshot of the delivery counters of one client (``client.stats()``).

    ``accepted`` counts every valid event handed to the pipeline, including the ones then dropped.
    ``unknown`` counts events sent but never answered (a deadline passed after the request was
    written): PostHog may have them, and their uuids make a resend harmless.
    At any quiet point ``accepted == sent + sum(dropped.values()) + unknown + pending``.
    """

    accepted: int = 0
    sent: int = 0
    retried: int = 0
    pending: int = 0
    requests: int = 0
    dropped: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    last_error: str | None = None
    unknown: int = 0

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
