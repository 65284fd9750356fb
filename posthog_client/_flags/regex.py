"""The ``regex`` and ``not_regex`` operators, compiled once per filter (pure).

Patterns run on RE2: linear time, so a catastrophic pattern cannot freeze a request handler.
Patterns RE2 cannot compile but Python's ``re`` can (lookaround, backreferences) are server-only
syntax: undecided, so the server decides. A pattern neither engine accepts is invalid and
matches nothing, for ``regex`` and ``not_regex`` alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import re2

from .operands import as_text
from .unresolved import Outcome, Unknown, UnresolvedReason, brief

Matcher = Callable[[object, datetime], Outcome]

# A property longer than this is not regex-matched locally (the server decides): RE2 is linear,
# but a multi-megabyte subject on a request path is still a cost worth refusing.
MAX_REGEX_SUBJECT = 100_000
MAX_REGEX_PATTERN = 4_096

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 otherwise prints every rejected pattern to stderr


def _never(prop: object, now: datetime) -> Outcome:
    return False


def regex_matcher(operator: str, value: object) -> Matcher | Unknown:
    if value is None or isinstance(value, (list, dict)):
        return Unknown(
            UnresolvedReason.UNSUPPORTED_DEFINITION,
            f"{operator} filter value must be a pattern string",
        )
    pattern = as_text(value)
    if len(pattern) > MAX_REGEX_PATTERN:
        return Unknown(
            UnresolvedReason.UNSUPPORTED_DEFINITION,
            f"regex pattern longer than {MAX_REGEX_PATTERN} characters",
        )
    try:
        compiled = re2.compile(pattern, _RE2_OPTIONS)
    except (re2.error, UnicodeEncodeError):
        try:
            # Only to classify the pattern: it is never used for matching.
            re.compile(pattern)
        except (re.error, RecursionError, OverflowError, ValueError):
            return _never  # invalid everywhere: no match, for regex and not_regex
        # Valid, but beyond RE2 (lookaround, backreferences, huge repeats): the server decides.
        return Unknown(
            UnresolvedReason.UNSUPPORTED_DEFINITION,
            f"regex {brief(pattern)} uses syntax RE2 cannot run locally",
        )
    too_long = Unknown(
        UnresolvedReason.INVALID_PROPERTY_VALUE,
        f"property longer than {MAX_REGEX_SUBJECT} characters for a regex",
    )
    want = operator == "regex"

    def search(prop: object, now: datetime) -> Outcome:
        subject = as_text(prop)
        if len(subject) > MAX_REGEX_SUBJECT:
            return too_long
        # Encoded here so a lone surrogate cannot raise (RE2 would encode strictly).
        found = compiled.search(subject.encode("utf-8", "surrogatepass"))
        return (found is not None) is want

    return search
