"""Operands of the property operators (pure, no clock): how a value reads as text, as a number,
as a date and as a semantic version.

Everything here returns `None` for input it cannot read instead of raising, so callers turn that
into an explicit "cannot decide" value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

from dateutil.parser import isoparse
from dateutil.relativedelta import relativedelta

UTC = timezone.utc
_MIN_UTC = datetime.min.replace(tzinfo=UTC)

# Our own fixed, linear patterns: the stdlib `re` is fine here (no user-supplied pattern).
_RELATIVE = re.compile(r"-?([0-9]{1,5})([hdwmy])")
_BARE_YEAR = re.compile(r"[0-9]{4}")
# No leading zeros (rejected since posthog-python 7.15.3); at most 18 digits so int() stays cheap.
_SEMVER = re.compile(r"(0|[1-9][0-9]{0,17})(?:\.(0|[1-9][0-9]{0,17}))?(?:\.(0|[1-9][0-9]{0,17}))?")
_WILDCARD = re.compile(r"(0|[1-9][0-9]{0,17})(?:\.(0|[1-9][0-9]{0,17}))?\.[*xX]")

Version = tuple[int, int, int]


# --- text and numbers -----------------------------------------------------------------------


def as_text(value: object) -> str:
    """How a value compares as text: strings as is, everything else in its JSON spelling."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.dumps(
                value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
            )
        except (TypeError, ValueError, RecursionError):
            # Mixed key types, a cycle, or an int too long to print: equal to no filter value.
            return f"<unprintable {type(value).__name__}>"
    try:
        return str(value)
    except ValueError:  # an int too long to print (Python's int_max_str_digits)
        return f"<{type(value).__name__}>"


def is_truthy(value: object, depth: int = 0) -> bool:
    """PostHog's recursive truthiness: true, "true" in any case, or a list of truthy values."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, (list, tuple)) and depth < 32:  # bounded: the value is the caller's
        return all(is_truthy(item, depth + 1) for item in value)
    return False


def to_number(value: object) -> float | None:
    """A number, or a string holding exactly a decimal number; booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal, Fraction)):
        try:
            return float(value)
        except (OverflowError, ValueError):  # huge ints; Decimal("sNaN")
            return None
    if isinstance(value, str) and value and value == value.strip() and "_" not in value:
        try:
            return float(value)
        except ValueError:
            return None
    return None


# --- dates -----------------------------------------------------------------------------------


def parse_datetime(text: str, now: datetime) -> datetime | None:
    """Parse an absolute date or datetime as posthog-python HEAD does; the result is UTC-aware.

    Accepts ISO 8601 (with `Z`, a ` UTC` suffix or `±hh:mm`). A bare four-digit year means that
    year with today's month and day (old dateutil behaviour that HEAD keeps). Naive means UTC.
    """
    s = text.strip()
    if _BARE_YEAR.fullmatch(s):
        year = int(s)
        if year < 1:
            return None
        day = now.day
        if now.month == 2 and day == 29 and not _is_leap(year):
            day = 28
        return datetime(year, now.month, day, tzinfo=UTC)
    if s.endswith(" UTC"):
        s = s[:-4] + "+00:00"
    elif s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(s)
    except ValueError:
        # fromisoformat is narrower on Python 3.10; isoparse gives every version the same ISO set.
        try:
            parsed = isoparse(s)
        except (ValueError, OverflowError):
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@dataclass(frozen=True, slots=True)
class DateOperand:
    """A flag's date value: absolute (parsed once), relative ("-7d") or a bare year (both need
    `now`, so they are resolved per evaluation)."""

    absolute: datetime | None = None
    amount: int = 0
    unit: str = ""
    bare_year: str = ""

    def at(self, now: datetime) -> datetime | None:
        if self.absolute is not None:
            return self.absolute
        if self.bare_year:
            return parse_datetime(self.bare_year, now)
        return _relative_to(now, self.amount, self.unit)


def _relative_to(now: datetime, amount: int, unit: str) -> datetime:
    """`now` minus `amount` units. Months and years are calendar subtractions clamped to the end
    of the month (relativedelta), so -1m on March 31 is the last day of February."""
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    delta: timedelta | relativedelta
    if unit == "h":
        delta = timedelta(hours=amount)
    elif unit == "d":
        delta = timedelta(days=amount)
    elif unit == "w":
        delta = timedelta(weeks=amount)
    elif unit == "m":
        delta = relativedelta(months=amount)
    else:
        delta = relativedelta(years=amount)
    try:
        result: datetime = now - delta
    except (ValueError, OverflowError):
        # Before year 1: earlier than any representable date, so clamp instead of failing.
        return _MIN_UTC
    return result


def parse_date_operand(value: object) -> DateOperand | None:
    """Parse a flag's `is_date_before`/`is_date_after` value, or None if unreadable.

    Relative dates match `-?N[hdwmy]` and always mean "now minus N units" (the sign is ignored);
    N >= 10000 is rejected, as in posthog-python.
    """
    if not isinstance(value, str):
        return None
    s = value.strip()
    m = _RELATIVE.fullmatch(s)
    if m is not None:
        amount = int(m.group(1))
        return None if amount >= 10000 else DateOperand(amount=amount, unit=m.group(2))
    if _BARE_YEAR.fullmatch(s):
        return DateOperand(bare_year=s)
    # `now` only matters for bare years, handled above; any placeholder works here.
    parsed = parse_datetime(s, _MIN_UTC)
    return None if parsed is None else DateOperand(absolute=parsed)


def override_datetime(value: object, now: datetime) -> datetime | date | None:
    """Read a caller's date property: datetime (naive = UTC), date, ISO string, or a number of
    seconds since the epoch (what the PostHog server does with numbers)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_datetime(value, now)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (ValueError, OverflowError, OSError):
            return None
    return None


# --- semantic versions -----------------------------------------------------------------------


def _core(text: str) -> str:
    """Strip whitespace, a `v` prefix and any `-pre-release` / `+build` suffix."""
    s = text.strip()
    if s[:1] in ("v", "V"):
        s = s[1:]
    for sep in ("-", "+"):
        cut = s.find(sep)
        if cut != -1:
            s = s[:cut]
    return s


def parse_semver(value: object) -> Version | None:
    """`major.minor.patch`, missing parts = 0, leading zeros rejected; None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not -(10**18) < value < 10**18:
            return None
        value = str(value)
    if not isinstance(value, str):
        return None
    m = _SEMVER.fullmatch(_core(value))
    if m is None:
        return None
    major, minor, patch = m.groups()
    return int(major), int(minor or 0), int(patch or 0)


@dataclass(frozen=True, slots=True)
class VersionRange:
    """Half-open [lower, upper) range for the tilde, caret and wildcard operators."""

    lower: Version
    upper: Version

    def __contains__(self, version: object) -> bool:
        return isinstance(version, tuple) and self.lower <= version < self.upper


def tilde_range(value: object) -> VersionRange | None:
    """`~1.2.3` means [1.2.3, 1.3.0). The leading `~` is optional."""
    if isinstance(value, str):
        value = value.strip().removeprefix("~")
    v = parse_semver(value)
    return None if v is None else VersionRange(v, (v[0], v[1] + 1, 0))


def caret_range(value: object) -> VersionRange | None:
    """`^1.2.3` means [1.2.3, 2.0.0); with a zero major the next minor, then the next patch."""
    if isinstance(value, str):
        value = value.strip().removeprefix("^")
    v = parse_semver(value)
    if v is None:
        return None
    if v[0] > 0:
        upper = (v[0] + 1, 0, 0)
    elif v[1] > 0:
        upper = (0, v[1] + 1, 0)
    else:
        upper = (0, 0, v[2] + 1)
    return VersionRange(v, upper)


def wildcard_range(value: object) -> VersionRange | None:
    """`1.*` means [1.0.0, 2.0.0) and `1.2.*` means [1.2.0, 1.3.0); `x` works like `*`."""
    if not isinstance(value, str):
        return None
    s = value.strip()
    if s[:1] in ("v", "V"):
        s = s[1:]
    m = _WILDCARD.fullmatch(s)
    if m is None:
        return None
    major, minor = int(m.group(1)), m.group(2)
    if minor is None:
        return VersionRange((major, 0, 0), (major + 1, 0, 0))
    return VersionRange((major, int(minor), 0), (major, int(minor) + 1, 0))
