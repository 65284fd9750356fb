"""The ``regex`` and ``not_regex`` operators, compiled once per filter (pure).

PostHog's flag service compiles patterns with `fancy-regex` (the Rust `regex` crate, plus
backtracking for lookaround and backreferences under a 10,000-step limit):
`rust/feature-flags/src/properties/property_matching.rs` and `flags/property_filter.rs`
(`prepare_regex`), PostHog/posthog@02469d424c854adb33445127f6b4075a948a930f. Here patterns run
on RE2, which is linear in time like the `regex` crate, after a translation that keeps the
service's meaning:

- ``\\d`` is Unicode in Rust: translated to ``\\p{Nd}``; ``\\s`` (Unicode White_Space) to its
  25 code points; ``a{,3}`` (fancy-regex reads ``{0,3}``) to ``a{0,3}``; ``(?<name>`` to
  ``(?P<name>``.
- ``\\w``, ``\\b`` (and negations) are Unicode in Rust and ASCII in RE2: they agree on ASCII
  text, so a non-ASCII property is left to the server.
- A class range with a class endpoint (``[\\d-z]``) does not compile in the service: the
  filter is false for ``regex`` and ``not_regex`` alike, like every invalid pattern.
- What only backtracking can run (lookaround, backreferences, atomic groups, possessive
  quantifiers), and any syntax whose meaning differs or is not known to agree (other escapes,
  ``\\p{..}``, nested classes, verbose mode, malformed braces), is left to the server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import re2

from .operands import as_text
from .unresolved import Outcome, Unknown, UnresolvedReason, brief, unsupported

Matcher = Callable[[object, datetime], Outcome]

# A property longer than this is not regex-matched locally (the server decides): RE2 is linear,
# but a multi-megabyte subject on a request path is still a cost worth refusing.
MAX_REGEX_SUBJECT = 100_000
MAX_REGEX_PATTERN = 4_096

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 otherwise prints every rejected pattern to stderr

# Unicode White_Space, which Rust's `\s` matches.
_SPACE = (
    r"\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
)
_META = set(".+*?()|[]{}^$#&-~\\")
_SIMPLE_ESCAPES = set("ntrfvaAz")
_POSIX = re.compile(
    r"\[:\^?(alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word|xdigit):\]"
)
_HEX = re.compile(r"x(?:[0-9A-Fa-f]{2}|\{[0-9A-Fa-f]{1,6}\})")
_REPEAT = re.compile(r"\{(?:([0-9]+)(,[0-9]*)?|,([0-9]+))\}")
_FLAGS = re.compile(r"\(\?([imsU]*-?[imsU]*)(:|\))")
_NAMED = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


class _Remote(Exception):
    """The pattern's meaning in the service is not reproduced here."""


class _Invalid(Exception):
    """The service cannot compile the pattern."""


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        self.ascii_only = False  # \w or \b: exact only on ASCII text
        self.atom = False  # something a quantifier can apply to precedes

    def run(self) -> str:
        p = self.p
        while self.i < len(p):
            c = p[self.i]
            if "\ud800" <= c <= "\udfff":
                raise _Remote
            if c == "\\":
                self.out.append(self.escape(in_class=False))
                self.atom = True
            elif c == "[":
                self.char_class()
                self.atom = True
            elif c == "(":
                self.group()
                self.atom = False
            elif c == "{":
                self.repeat()
            elif c in "*+?":
                if not self.atom:
                    raise _Remote
                self.emit(c, self.i + 1)
                self.after_quantifier()
            else:
                self.emit(c, self.i + 1)
                self.atom = c not in "|^"
        return "".join(self.out)

    def emit(self, text: str, end: int) -> None:
        """Append `text` to the translation and move on to `end` in the pattern."""
        self.out.append(text)
        self.i = end

    def escape(self, in_class: bool) -> str:
        """Translate the escape at `self.i` (a backslash) and move past it."""
        p = self.p
        if self.i + 1 >= len(p):
            raise _Invalid  # a trailing backslash
        c = p[self.i + 1]
        self.i += 2
        if c == "d":
            return r"\p{Nd}"
        if c == "D":
            return r"\P{Nd}"
        if c == "s":
            return _SPACE if in_class else f"[{_SPACE}]"
        if c == "S" and not in_class:
            return f"[^{_SPACE}]"
        if c in "wW" or (c in "bB" and not in_class):
            self.ascii_only = True
            return "\\" + c
        if (c in _SIMPLE_ESCAPES and not (in_class and c in "Az")) or c in _META:
            return "\\" + c
        if c == "x":
            m = _HEX.match(p, self.i - 1)
            if m is None:
                raise _Remote
            self.i = m.end()
            return "\\" + m.group()
        raise _Remote  # backreferences, \p, \Q, \<, \Z, \h, \K, ...

    def char_class(self) -> None:
        p = self.p
        self.i += 1
        parts = ["["]
        if p[self.i : self.i + 1] == "^":
            parts.append("^")
            self.i += 1
        first = True
        while True:
            if self.i >= len(p):
                raise _Invalid  # unclosed class
            if p[self.i] == "]" and not first:
                self.i += 1
                break
            if p.startswith(("&&", "--", "~~"), self.i):
                raise _Remote  # class set operations
            text, is_set = self.class_item()
            parts.append(text)
            if p[self.i : self.i + 1] == "-" and p[self.i + 1 : self.i + 2] not in ("]", ""):
                self.i += 1
                end, end_is_set = self.class_item()
                if is_set or end_is_set:
                    raise _Invalid  # "invalid range boundary, must be a literal"
                parts.append("-" + end)
            first = False
        parts.append("]")
        self.out.append("".join(parts))

    def class_item(self) -> tuple[str, bool]:
        """One item of a class (a character, an escape or a POSIX class), and whether it is a
        set rather than one character."""
        p = self.p
        c = p[self.i]
        if c == "[":
            m = _POSIX.match(p, self.i)
            if m is None:
                raise _Remote  # nested class
            self.i = m.end()
            return m.group(), True
        if c == "\\":
            escaped = p[self.i + 1 : self.i + 2]
            return self.escape(in_class=True), escaped in ("d", "D", "s", "S", "w", "W")
        if "\ud800" <= c <= "\udfff":
            raise _Remote
        self.i += 1
        return c, False

    def group(self) -> None:
        p, i = self.p, self.i
        if p[i + 1 : i + 2] != "?":
            self.emit("(", i + 1)
        elif p.startswith("(?:", i):
            self.emit("(?:", i + 3)
        elif (m := _NAMED.match(p, i)) is not None:
            self.emit(f"(?P<{m.group(1)}>", m.end())
        elif (m := _FLAGS.match(p, i)) is not None and m.group(1) and not m.group(1).endswith("-"):
            self.emit(m.group(), m.end())
        else:
            raise _Remote  # lookaround, atomic groups, comments, x/u/R flags, ...

    def repeat(self) -> None:
        m = _REPEAT.match(self.p, self.i)
        if m is None or not self.atom:
            raise _Remote  # fancy-regex's reading of other braces is not pinned here
        high = m.group(3)
        self.emit(m.group() if high is None else f"{{0,{high}}}", m.end())
        self.after_quantifier()

    def after_quantifier(self) -> None:
        """After a quantifier: a lazy `?` is kept, a possessive `+` is left to the server."""
        nxt = self.p[self.i : self.i + 1]
        if nxt == "+":
            raise _Remote  # possessive
        if nxt == "?":
            self.emit("?", self.i + 1)
        self.atom = False


def _never(prop: object, now: datetime) -> Outcome:
    return False


def regex_matcher(operator: str, value: object) -> Matcher | Unknown:
    """`regex`/`not_regex`: a null pattern and an invalid one are false for both operators."""
    if value is None:
        return _never
    pattern = as_text(value)
    remote = unsupported(f"regex {brief(pattern)} uses syntax that is evaluated by the server only")
    if len(pattern) > MAX_REGEX_PATTERN:
        return remote
    translator = _Translator(pattern)
    try:
        translated = translator.run()
    except _Remote:
        return remote
    except _Invalid:
        return _never
    try:
        compiled = re2.compile(translated, _RE2_OPTIONS)
    except re2.error:
        try:
            re.compile(pattern)  # only to classify the pattern, never to match
        except (re.error, RecursionError, OverflowError, ValueError):
            return _never  # invalid everywhere: no match, for regex and not_regex
        return remote  # e.g. beyond RE2's limits
    too_long = Unknown(
        UnresolvedReason.INVALID_PROPERTY_VALUE,
        f"property longer than {MAX_REGEX_SUBJECT} characters for a regex",
    )
    not_ascii = unsupported(
        f"regex {brief(pattern)} uses \\w or \\b on non-ASCII text (Unicode in the server)"
    )
    want = operator == "regex"
    ascii_only = translator.ascii_only

    def search(prop: object, now: datetime) -> Outcome:
        subject = as_text(prop)
        if len(subject) > MAX_REGEX_SUBJECT:
            return too_long
        if ascii_only and not subject.isascii():
            return not_ascii
        try:
            found = compiled.search(subject.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate: not text the service could receive
            return not_ascii
        return (found is not None) is want

    return search
