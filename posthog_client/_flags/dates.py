"""Dates for `is_date_before` / `is_date_after` / `is_date_exact`, read exactly as PostHog's flag
service reads them (pure: `now` is passed in).

Source: `rust/feature-flags/src/properties/property_matching.rs` (`parse_date_string_in_tz`,
`determine_parsed_date_for_property_matching`, `parse_float_timestamp`) at
PostHog/posthog@02469d424c854adb33445127f6b4075a948a930f, and `relative_date.rs` at
@3c537647633e49705a67e28d27654813db75a2ec. The service tries, in order: a relative date
(`-30d`), RFC 3339, `%Y-%m-%d`, four naive datetime forms, then the `dateparser` crate. The
first four are reproduced here; for the last, only the inputs none of `dateparser`'s format
families can accept are decided (false), the rest are `UNSURE` (the server decides).

Instants are integer nanoseconds since the Unix epoch (UTC), as chrono compares them. Naive
forms are read as UTC: the service reads them in the team's time zone, which the local
definitions do not carry.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Final

from .operands import json_value, to_number

_NS: Final = 1_000_000_000
_DAY_NS: Final = 86_400 * _NS
_UNIT_NS = {"h": 3_600 * _NS, "d": _DAY_NS, "w": 7 * _DAY_NS}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_MAX_YEAR = 262_000  # chrono's range is about +-262,143 years: beyond this, not decided here


class Unsure:
    """The service may read this value, but not in a way reproduced here: the server decides."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSURE"


UNSURE: Final = Unsure()
Instant = int  # nanoseconds since the epoch, UTC

# Our own fixed, linear patterns: the stdlib `re` is fine here (no user-supplied pattern).
_RELATIVE = re.compile(r"-?([0-9]+)([hdwmy])")
_YEAR = r"([+-][0-9]+|[0-9]{1,4})"
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_YMD = re.compile(_YEAR + r"-([0-9]{1,2})-([0-9]{1,2})")
_NAIVE = re.compile(
    _YEAR + r"-([0-9]{1,2})-([0-9]{1,2})[ T]([0-9]{1,2}):([0-9]{1,2})"
    r"(?::([0-9]{1,2})(?:\.([0-9]+))?)?"
)
# The same shapes with any whitespace, or a lower-case `t`: chrono's leniency there differs
# between versions, so such inputs are left to the server.
_LOOSE = re.compile(
    r"\s*(?:[+-][0-9]+|[0-9]{1,4})\s*-\s*[0-9]{1,2}\s*-\s*[0-9]{1,2}"
    r"(?:\s*[Tt]?\s*[0-9]{1,2}\s*:\s*[0-9]{1,2}(?:\s*:\s*[0-9]{1,2}(?:\.[0-9]+)?)?)?\s*"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_UNIX = re.compile(r"[0-9]{10,19}")
# Every format family of the `dateparser` crate (waltzofpearls/dateparser, datetime.rs
# `Parse::parse`), as loose gates: an input none of them can accept fails there for certain.
_DATEPARSER_GATES = tuple(
    re.compile(p)
    for p in (
        r"^\s*(?:[A-Za-z]{3}\s*,\s*)?[0-9]{1,2}\s+[A-Za-z]{3}",  # RFC 2822
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\s+[0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?[+-:0-9]{3,6}$",
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\s+[0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?\s*(am|pm|AM|PM)?$",
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\s+[0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,9})?\s*[+-:a-zA-Z0-9]{3,6}$",
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\s*[+-:a-zA-Z0-9]{3,6}$",
        r"^[0-9]{1,2}:[0-9]{2}",  # times of today
        r"^[0-9]{4}-[a-zA-Z]{3,9}-[0-9]{2}$",
        r"^[a-zA-Z]{3,9}\.?\s+[0-9]{1,2}",
        r"^[0-9]{1,2}\s+[a-zA-Z]{3,9}",
        r"^[0-9]{1,2}/[0-9]{1,2}",
        r"^[0-9]{4}/[0-9]{1,2}",
        r"^\s*[0-9]+\s*\.\s*[0-9]+(?:\s*\.\s*[0-9]+)?\s*$",  # 3.31.2014, 2014.03
        r"[0-9]{6}\s+[0-9]{2}:[0-9]{2}:[0-9]{2}",  # MySQL log
        r"^[0-9]{4}年[0-9]{2}月",
    )
)


# --- calendar arithmetic (proleptic Gregorian, any year) ---------------------------------------


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 (H. Hinnant's algorithm; exact for every year)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _instant(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    fraction: str | None = None,
    offset_s: int = 0,
) -> Instant | Unsure | None:
    if not (1 <= month <= 12 and 1 <= day <= _month_days(year, month)):
        return None
    if hour > 23 or minute > 59 or second > 60:
        return None
    if second == 60 or abs(year) > _MAX_YEAR:
        return UNSURE  # a leap second, or a year near chrono's limits
    nanos = int((fraction or "")[:9].ljust(9, "0"))
    seconds = _days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60
    return (seconds + second - offset_s) * _NS + nanos


def instant_of(moment: datetime) -> Instant:
    """A timezone-aware datetime (naive = UTC) as nanoseconds since the epoch."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return ((moment - _EPOCH) // _MICROSECOND) * 1_000


# --- the service's parsers -----------------------------------------------------------------------


class Relative:
    """`-30d` and friends: `now` minus an amount (the sign is ignored, as in the service)."""

    __slots__ = ("amount", "unit")

    def __init__(self, amount: int, unit: str) -> None:
        self.amount, self.unit = amount, unit

    def at(self, now: datetime) -> Instant | Unsure | None:
        now_ns = instant_of(now)
        step = _UNIT_NS.get(self.unit)
        if step is not None:
            return now_ns - self.amount * step
        # Calendar months/years with the day clamped to the month's end (chrono
        # `checked_sub_months`), time of day kept.
        months = self.amount * (12 if self.unit == "y" else 1)
        days, rest = divmod(now_ns, _DAY_NS)
        year, month, day = _civil_from_days(days)
        year, month = divmod(year * 12 + (month - 1) - months, 12)
        month += 1
        day = min(day, _month_days(year, month))
        if abs(year) > _MAX_YEAR:
            return UNSURE
        return _days_from_civil(year, month, day) * _DAY_NS + rest


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719_468
    era = days // 146_097
    doe = days - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month, day


DateValue = Instant | Relative | Unsure | None


def parse_date_text(text: str) -> DateValue:
    """`parse_date_string_in_tz` (team time zone = UTC): an instant, a relative date, UNSURE
    (only `dateparser` could tell) or None (no parser accepts it: the filter is false)."""
    m = _RELATIVE.fullmatch(text)
    if m is not None and len(m.group(1)) < 10 and int(m.group(1)) < 10_000:
        return Relative(int(m.group(1)), m.group(2))
    m = _RFC3339.fullmatch(text)
    if m is not None:
        sign, oh, om = m.group(8), int(m.group(9) or 0), int(m.group(10) or 0)
        if oh <= 23 and om <= 59:
            offset = (oh * 3_600 + om * 60) * (-1 if sign == "-" else 1)
            y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
            found = _instant(y, mo, d, h, mi, s, m.group(7), offset)
            if found is not None:
                return found
    m = _YMD.fullmatch(text)
    if m is not None:
        found = _instant(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if found is not None:
            return found
    m = _NAIVE.fullmatch(text)
    if m is not None:
        y, mo, d, h, mi = (int(m.group(i)) for i in range(1, 6))
        found = _instant(y, mo, d, h, mi, int(m.group(6) or 0), m.group(7))
        if found is not None:
            return found
    shaped = any(p.fullmatch(text) for p in (_RFC3339, _YMD, _NAIVE))
    if not shaped and _LOOSE.fullmatch(text) is not None:
        return UNSURE
    return _dateparser(text)


def _dateparser(text: str) -> DateValue:
    scale = {10: _NS, 13: 1_000_000, 19: 1}.get(len(text))  # seconds, milliseconds, nanoseconds
    if scale is not None and _UNIX.fullmatch(text) is not None and int(text) < 2**63:
        return int(text) * scale
    if any(gate.search(text) is not None for gate in _DATEPARSER_GATES):
        return UNSURE
    return None


def float_timestamp(seconds: float) -> Instant | Unsure | None:
    """`parse_float_timestamp`: whole seconds floored, the fraction rounded to nanoseconds and
    dropped when negative (a Rust `as u32` cast), NaN read as 0, infinities unreadable."""
    if math.isnan(seconds):
        return 0
    if math.isinf(seconds):
        return None
    whole = math.floor(seconds)
    nanos = math.fmod(seconds, 1.0) * 1e9
    nanos_int = int(math.floor(nanos + 0.5)) if nanos >= 0 else 0
    if nanos_int >= _NS or abs(whole) > _MAX_YEAR * 31_557_600:
        return UNSURE
    return whole * _NS + nanos_int


def property_date(value: object, now: datetime) -> Instant | Unsure | None:
    """`determine_parsed_date_for_property_matching`: a JSON number is epoch seconds; a string
    that Rust parses as an f64 too; any other string goes through the filter's parsers."""
    kind = type(value)
    if kind is not str and kind is not int and kind is not float:
        value = json_value(value)
        kind = type(value)
    if kind is int or kind is float:
        number = to_number(value)
        return None if number is None else float_timestamp(number)
    if kind is not str:
        return None  # booleans, null, lists and objects are not dates
    text: str = value  # type: ignore[assignment]
    parsed = _text_date(text) if len(text) <= _CACHED_TEXT else _read_text(text)
    if isinstance(parsed, Relative):
        return parsed.at(now)
    return parsed


def _read_text(text: str) -> DateValue:
    """A property's text as a date, before `now` applies: a number is epoch seconds."""
    number = to_number(text)
    if number is not None:
        return float_timestamp(number)
    return parse_date_text(text)


# A property's date text is read once and reused, because one flag check reads the same
# property in every date filter of every flag, and the same people come back: what is kept
# does not depend on `now` (a relative date stays `Relative`), and longer texts are not kept.
# benchmarks: get_all_flags calls/s, get_feature_flag evals/s (date filters)
_CACHED_TEXT = 64
_text_date = lru_cache(maxsize=4096)(_read_text)
