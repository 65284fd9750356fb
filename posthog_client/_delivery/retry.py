"""Pure: how long to wait before the next attempt (which answers are retried: see ``wire``)."""

from __future__ import annotations

import datetime as dt
import math
from email.utils import parsedate_to_datetime

RETRY_AFTER_CAP = 30.0


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date), clamped to 30 s.

    Garbage, negative and non-finite values count as absent.
    """
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:  # an HTTP date
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - now).total_seconds()
    return min(seconds, RETRY_AFTER_CAP) if math.isfinite(seconds) and seconds >= 0 else None


def retry_delay(
    attempt: int, base: float, cap: float, retry_after: float | None, rand: float
) -> float:
    """Delay before attempt ``attempt + 1`` (``attempt`` counts from 1).

    Capped exponential backoff (``base``, 2x, 4x ...) with "equal jitter": half the delay is kept
    and half is random (``rand`` in [0, 1)), so retries spread out but never collapse to zero.
    ``Retry-After`` is a floor.
    """
    # Module imports happen where the client is made, never on a background thread (a fork
    # during an import there would leave the child a half-imported module): no `backoff` here.
    exponential = cap if attempt > 64 else min(cap, base * 2.0 ** (attempt - 1))
    delay = exponential / 2 + exponential / 2 * rand
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
