"""Semantic versions for the `semver_*` operators, as PostHog's flag service reads them (pure).

The service (`rust/feature-flags/src/properties/property_matching.rs`,
PostHog/posthog@02469d424c854adb33445127f6b4075a948a930f: `normalize_version_string`,
`canonicalize_version_string`, `to_semver_representation`) strips one leading `v`, trims, drops
leading zeros of numeric core parts, pads the core to three parts, then parses with the `semver`
crate (dtolnay/semver 1.x): strict SemVer 2.0, build metadata kept and ordered, pre-releases
excluded from ranges unless a comparator has the same major.minor.patch and a pre-release.
`~`/`^` filters become `VersionReq`s `~<canonical>` / `^<canonical>`; `semver_wildcard` parses
the value (leading zeros dropped, `*` read as `x`) as a `VersionReq` as it is.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Rust's `str::trim` removes Unicode White_Space (not Python's wider `str.isspace` set).
_WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501
_U64 = 2**64
_IDENT = r"[0-9A-Za-z-]+"
_VERSION = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    rf"(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+({_IDENT}(?:\.{_IDENT})*))?"
)
_NUMBER = re.compile(r"(0|[1-9][0-9]*)")
_WILDCARD = "*xX"


class Version(NamedTuple):
    """Ordered as the semver crate orders versions: `key` compares, `text` is for messages."""

    key: tuple[object, ...]
    major: int
    minor: int
    patch: int
    pre: tuple[object, ...]  # () for a release; compare with `_pre_key`


def _pre_key(pre: str) -> tuple[object, ...]:
    if not pre:
        return (1,)  # a release sorts after every pre-release of the same triple
    return (0, tuple((0, len(p), p) if p.isdigit() else (1, p) for p in pre.split(".")))


def _build_key(build: str) -> tuple[object, ...]:
    keys: list[tuple[object, ...]] = []
    for part in build.split("."):
        if all("0" <= c <= "9" for c in part):
            stripped = part.lstrip("0")
            keys.append((0, len(stripped), stripped, len(part)))
        else:
            keys.append((1, part))
    return tuple(keys)


def parse_version(text: str) -> Version | None:
    """`semver::Version::parse`: None when invalid (numbers beyond u64 included)."""
    m = _VERSION.fullmatch(text)
    if m is None:
        return None
    major, minor, patch = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if max(major, minor, patch) >= _U64:
        return None
    pre, build = m.group(4) or "", m.group(5) or ""
    if any(len(p) > 1 and p[0] == "0" and p.isdigit() for p in pre.split(".") if pre):
        return None  # numeric pre-release identifiers may not have leading zeros
    pre_key = _pre_key(pre)
    return Version((major, minor, patch, pre_key, _build_key(build)), major, minor, patch, pre_key)


def _strip_zeros(part: str) -> str:
    if part and all("0" <= c <= "9" for c in part):
        return part.lstrip("0") or "0"
    return part


def normalize(text: str) -> str:
    return (text[1:] if text.startswith("v") else text).strip(_WHITE_SPACE)


def canonicalize(text: str) -> str:
    """Leading zeros of numeric core parts dropped and the core padded to three parts."""
    cut = min((i for i in (text.find("-"), text.find("+")) if i != -1), default=len(text))
    parts = [_strip_zeros(p) for p in text[:cut].split(".")]
    parts += ["0"] * (3 - len(parts))
    return ".".join(parts) + text[cut:]


def to_version(text: str) -> Version | None:
    """`to_semver_representation`."""
    return parse_version(canonicalize(normalize(text)))


# --- requirements (semver::VersionReq) ----------------------------------------------------------


class Comparator(NamedTuple):
    op: str  # "=", ">", ">=", "<", "<=", "~", "^", "*"
    major: int
    minor: int | None
    patch: int | None
    pre: tuple[object, ...]  # _pre_key of the comparator's pre-release ((1,) when none)


_OPS = (">=", "<=", "=", ">", "<", "~", "^")
_PRE_BUILD = re.compile(rf"(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+{_IDENT}(?:\.{_IDENT})*)?")


def _number(text: str) -> tuple[int, str] | None:
    m = _NUMBER.match(text)
    if m is None or (text[len(m.group()) : len(m.group()) + 1].isdigit()):
        return None  # no digits, or a leading zero followed by more digits
    value = int(m.group())
    return (value, text[len(m.group()) :]) if value < _U64 else None


def _comparator(text: str) -> tuple[Comparator, str] | None:
    op = next((o for o in _OPS if text.startswith(o)), "")
    default_op = not op
    text = text[len(op) :].lstrip(" ")
    op = op or "^"
    got = _number(text)
    if got is None:
        return None
    major, text = got
    numbers: list[int] = []  # the minor, then the patch, as far as they are numbers
    wildcard = False
    for _ in range(2):
        if not text.startswith("."):
            break
        text = text[1:]
        if text[:1] and text[0] in _WILDCARD:
            wildcard, text = True, text[1:]
            op = "*" if default_op else op
            continue
        got = None if wildcard else _number(text)  # no number after a wildcard
        if got is None:
            return None
        numbers.append(got[0])
        text = got[1]
    minor = numbers[0] if numbers else None
    patch = numbers[1] if len(numbers) > 1 else None
    pre = ""
    if patch is not None:
        m = _PRE_BUILD.match(text)
        assert m is not None  # every part is optional
        if any(len(p) > 1 and p[0] == "0" and p.isdigit() for p in (m.group(1) or "").split(".")):
            return None
        pre, text = m.group(1) or "", text[m.end() :]
    return Comparator(op, major, minor, patch, _pre_key(pre)), text.lstrip(" ")


def parse_requirement(text: str) -> tuple[Comparator, ...] | None:
    """`semver::VersionReq::parse`; () is `*` (any release); None when invalid."""
    text = text.lstrip(" ")
    if text[:1] and text[0] in _WILDCARD:
        return () if not text[1:].strip(" ") else None
    comparators: list[Comparator] = []
    while True:
        got = _comparator(text)
        if got is None:
            return None
        comparator, text = got
        comparators.append(comparator)
        if not text:
            break
        if not text.startswith(",") or len(comparators) >= 32:
            return None
        text = text[1:].lstrip(" ")
    if len(comparators) > 1 and any(c.op == "*" for c in comparators):
        return None
    return tuple(comparators)


def _wild(c: Comparator, v: Version) -> bool:
    if v.major != c.major or (c.minor is not None and v.minor != c.minor):
        return False
    return c.patch is None or v.patch == c.patch


def _exact(c: Comparator, v: Version) -> bool:
    return _wild(c, v) and v.pre == c.pre


def _order(c: Comparator, v: Version) -> int:
    """1 when `v` is above `c` on the parts `c` names, -1 below, 0 within."""
    if v.major != c.major:
        return 1 if v.major > c.major else -1
    if c.minor is None:
        return 0
    if v.minor != c.minor:
        return 1 if v.minor > c.minor else -1
    if c.patch is None:
        return 0
    if v.patch != c.patch:
        return 1 if v.patch > c.patch else -1
    return (v.pre > c.pre) - (v.pre < c.pre)


def _tilde(c: Comparator, v: Version) -> bool:
    if v.major != c.major or (c.minor is not None and v.minor != c.minor):
        return False
    if c.patch is not None and v.patch != c.patch:
        return v.patch > c.patch
    return v.pre >= c.pre


def _caret(c: Comparator, v: Version) -> bool:
    if v.major != c.major:
        return False
    if c.minor is None:
        return True
    if c.patch is None:
        return v.minor >= c.minor if c.major > 0 else v.minor == c.minor
    if c.major > 0:
        if v.minor != c.minor:
            return v.minor > c.minor
        if v.patch != c.patch:
            return v.patch > c.patch
    elif c.minor > 0:
        if v.minor != c.minor:
            return False
        if v.patch != c.patch:
            return v.patch > c.patch
    elif v.minor != c.minor or v.patch != c.patch:
        return False
    return v.pre >= c.pre


_MATCH = {
    "=": _exact,
    ">": lambda c, v: _order(c, v) > 0,
    ">=": lambda c, v: _exact(c, v) or _order(c, v) > 0,
    "<": lambda c, v: _order(c, v) < 0,
    "<=": lambda c, v: _exact(c, v) or _order(c, v) < 0,
    "~": _tilde,
    "^": _caret,
    "*": _wild,
}


def matches(requirement: tuple[Comparator, ...], version: Version) -> bool:
    """`VersionReq::matches`: every comparator, and a pre-release only when some comparator
    names the same major.minor.patch with a pre-release."""
    if not all(_MATCH[c.op](c, version) for c in requirement):
        return False
    return version.pre == (1,) or any(
        c.major == version.major
        and c.minor == version.minor
        and c.patch == version.patch
        and c.pre != (1,)
        for c in requirement
    )


def range_requirement(operator: str, text: str) -> tuple[Comparator, ...] | None:
    """The requirement the service builds for `semver_tilde`, `semver_caret` and
    `semver_wildcard` from a filter's text; None when it does not parse."""
    normalized = normalize(text)
    if operator == "semver_wildcard":
        joined = ".".join(_strip_zeros(p) for p in normalized.split("."))
        return parse_requirement(joined.replace("*", "x"))
    prefix = "~" if operator == "semver_tilde" else "^"
    return parse_requirement(prefix + canonicalize(normalized))
