"""How PostHog's flag service reads a value as text, as a truth value and as a number (pure).

The service compares JSON values (`serde_json::Value`). A filter value comes from the
definitions' JSON; a property value is whatever the caller passed, which the SDK would send as
JSON for remote evaluation. `json_value` turns a Python value into that JSON value, and the rest
follow the service's helpers in `rust/feature-flags/src/properties/property_matching.rs`
(PostHog/posthog@02469d424c854adb33445127f6b4075a948a930f): `to_string_representation`,
`is_truthy_property_value`, `is_truthy_or_falsy_property_value`, `to_f64_representation`.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

_MAX_DEPTH = 32  # containers nested deeper than this are cut (the value is the caller's)
_I64_MIN, _U64_MAX = -(2**63), 2**64 - 1
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# Rust's `str::parse::<f64>` grammar: ASCII digits only, no whitespace, no `_`; `inf`,
# `infinity` and `nan` in any case. Our own fixed pattern: the stdlib `re` is fine here.
_RUST_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])"
)


# --- Python value -> JSON value --------------------------------------------------------------


def json_value(value: object, depth: int = 0) -> object:
    """The JSON value the service would see for `value` (None, bool, int, float, str, list or
    dict with str keys), converted as the SDK's request encoder converts it."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type]
    if depth >= _MAX_DEPTH:
        return "<max depth exceeded>"
    if isinstance(value, Mapping):
        return {str(k): json_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_value(v, depth + 1) for v in value]
    if isinstance(value, enum.Enum):
        return json_value(value.value, depth + 1)
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (float, Decimal, Fraction)):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(value)
    except Exception:
        return f"<unserializable {kind.__name__}>"


# --- text --------------------------------------------------------------------------------------


def float_text(number: float) -> str:
    """serde_json's spelling of an f64 (ryu): `1.0`, `1e-7`, `1e16`, `0.00001`, `-0.0`."""
    if number == 0:
        return "-0.0" if math.copysign(1.0, number) < 0 else "0.0"
    if not math.isfinite(number):
        return "null"  # serde_json cannot hold them; never reached for JSON values
    sign, text = ("-" if number < 0 else ""), repr(abs(number))
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent or 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0") or "0"
    # `point`: digits[:point] before the decimal point (may be <= 0 or > len(digits)).
    length = len(digits)
    if length <= point <= 16:
        return f"{sign}{digits}{'0' * (point - length)}.0"
    if 0 < point <= 16:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    if -5 < point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    exp = point - 1
    if length == 1:
        return f"{sign}{digits}e{exp}"
    return f"{sign}{digits[0]}.{digits[1:]}e{exp}"


def _number_text(value: int | float) -> str:
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        if _I64_MIN <= value <= _U64_MAX:
            return str(value)
        try:
            return float_text(float(value))  # serde reads a longer integer as an f64
        except OverflowError:
            return "null"
    return float_text(float(value))


def _json_text(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return _number_text(value)
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())  # serde_json's map is ordered by key
        return "{" + ",".join(f"{_json_text(k)}:{_json_text(v)}" for k, v in items) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def as_text(value: object) -> str:
    """`to_string_representation`: a string as is, anything else as compact JSON."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int or kind is float:
        return _number_text(value)  # type: ignore[arg-type]
    converted = json_value(value)
    if isinstance(converted, str):
        return converted
    return _json_text(converted)


def ascii_lower(text: str) -> str:
    """Rust's `to_ascii_lowercase`: only A-Z change (the text operators use it)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


# --- truth values ------------------------------------------------------------------------------


def is_truthy(value: object, depth: int = 0) -> bool:
    """`is_truthy_property_value`: true, "true" in any case, or a list of truthy values."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, (list, tuple)) and depth < _MAX_DEPTH:
        return all(is_truthy(item, depth + 1) for item in value)
    return False


def is_boolean_like(value: object, depth: int = 0) -> bool:
    """`is_truthy_or_falsy_property_value`: a boolean, "true"/"false" in any case, or a list of
    such values (nested lists and `[]` included)."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.lower() in ("true", "false")
    if isinstance(value, (list, tuple)) and depth < _MAX_DEPTH:
        return all(is_boolean_like(item, depth + 1) for item in value)
    return False


# --- numbers -----------------------------------------------------------------------------------


def to_number(value: object) -> float | None:
    """`to_f64_representation`: a JSON number as f64, else its text parsed as Rust parses an
    f64 (so `"inf"` and `"NaN"` are numbers, `" 12"` and `"١٢"` are not); None otherwise."""
    kind = type(value)
    if kind is float:
        number: float = value  # type: ignore[assignment]
        return number if math.isfinite(number) else None
    if kind is int:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            return None
    if kind is not str:
        value = json_value(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return to_number(value)
        value = as_text(value)
    text: str = value  # type: ignore[assignment]
    if not text or not text.isascii() or "_" in text or len(text) > 1000:
        return None
    if text[0].isspace() or text[-1].isspace():
        return None
    try:
        number = float(text)  # on ASCII without `_` or outer spaces: Rust's grammar exactly
    except ValueError:
        return None
    if number != number and _RUST_FLOAT.fullmatch(text) is None:
        return None  # defensive: only the spellings of NaN Rust reads
    return number
