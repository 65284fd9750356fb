"""Pure: how long to wait before the next attempt (which answers are retried: see ``wire``)."""

from __future__ import annotations

import datetime as dt
import itertools
import math

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
    except ValueError:
        from email.utils import parsedate_to_datetime  # rare: only HTTP-date values

        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, RETRY_AFTER_CAP)


def retry_delay(
    attempt: int, base: float, cap: float, retry_after: float | None, rand: float
) -> float:
    """Delay before attempt ``attempt + 1`` (``attempt`` counts from 1).

    Capped exponential backoff (``base``, 2x, 4x ...) with "equal jitter": half the delay is kept
    and half is random (``rand`` in [0, 1)), so retries spread out but never collapse to zero.
    ``Retry-After`` is a floor.
    """
    import backoff  # imported on the first retry: it pulls in asyncio, which capture never needs

    schedule = backoff.expo(base=2, factor=base, max_value=cap)
    next(schedule)  # the generator's first value is a priming None
    exponential = float(next(itertools.islice(schedule, attempt - 1, None)))
    delay = exponential / 2 + exponential / 2 * rand
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
