"""Pure: ``$exception`` event properties from a Python exception.

``exception_properties`` never raises, whatever the exception object does (a ``__str__`` that
raises, no traceback, frames whose files are gone, cycles in ``__cause__``/``__context__``).
Frame variables are never read: only code objects, line numbers, the module name and source
lines from ``linecache``.

``$exception_list`` is ordered outermost first: the exception given, then (depth first) the
members of an exception group, then its ``__cause__`` (or its ``__context__`` unless
suppressed), as Python prints them from the bottom up. Each entry's frames are ordered oldest
call first, as in a Python traceback.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import functools
import itertools
import linecache
import os
import sysconfig
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from .._errors import InvalidCall

MAX_EXCEPTIONS = 10  # entries in $exception_list (chain + group members)
MAX_FRAMES = 100  # frames per exception; past this, the outermost and innermost halves are kept
CONTEXT_LINES = 5  # source lines before and after the current one
MAX_LINE = 200  # characters per source line
MAX_VALUE = 8192  # characters of an exception's message

_GROUP_TYPE: type | None = getattr(builtins, "BaseExceptionGroup", None)  # Python 3.11+
_PACKAGE_DIR = os.path.normcase(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def exception_properties(
    exc: BaseException,
    *,
    handled: bool = True,
    mechanism: str = "generic",
    source: str | None = None,
    level: str = "error",
) -> dict[str, Any]:
    """``$exception_list``, ``$exception_level`` (and ``$exception_source``, the integration
    that captured it, such as ``django.middleware``), plus ``$exception_type`` and
    ``$exception_message`` of the outermost exception. Never raises.

    Follows PostHog's exception metadata contract: the outermost entry's ``mechanism`` has
    ``type`` (``generic`` for manual captures, ``middleware`` for a framework's), ``handled``,
    ``synthetic`` and ``exception_id`` 0; each linked exception's has ``type`` ``chained``,
    ``source`` (``cause``, ``context`` or ``member``), ``exception_id`` and ``parent_id``.
    """
    try:
        entries = _entries(exc, bool(handled), str(mechanism))
    except Exception:  # a pathological object: still report that something was raised
        entries = [_fallback_entry(exc, bool(handled), str(mechanism))]
    first = entries[0]
    props = {
        "$exception_list": entries,
        "$exception_type": first["type"],
        "$exception_message": first["value"],
        "$exception_level": level,
    }
    if source:
        props["$exception_source"] = source
    return props


def exception_arg(value: object, handling: BaseException | None) -> BaseException:
    """The exception a ``capture_exception`` call means: the one given (or the value of an
    ``exc_info`` tuple), else the one being handled (``handling``)."""
    if isinstance(value, tuple) and len(value) == 3:
        value = value[1]
    if value is None:
        value = handling
        if value is None:
            raise InvalidCall("no exception given, and none is being handled")
    if not isinstance(value, BaseException):
        raise InvalidCall(f"exception must be an exception, got {type(value).__name__}")
    return value


_CAPTURED = "_posthog_client_captured"  # set on an exception once it has been captured


def captured(exc: BaseException) -> bool:
    """True when ``exc`` was captured already (by an integration, a context, or the app)."""
    try:
        return getattr(exc, _CAPTURED, False) is True
    except Exception:
        return False


def mark_captured(exc: BaseException) -> None:
    with contextlib.suppress(Exception):  # an exception type that takes no attributes: so be it
        setattr(exc, _CAPTURED, True)


# -- the chain -------------------------------------------------------------------------------


def _entries(root: BaseException, handled: bool, mechanism: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    seen: set[int] = set()
    # Depth first, outermost first: (exception, how it relates to its parent, parent's id).
    stack: list[tuple[BaseException, str | None, int | None]] = [(root, None, None)]
    while stack and len(entries) < MAX_EXCEPTIONS:
        exc, source, parent = stack.pop()
        if id(exc) in seen:  # a cycle, or one exception reachable twice
            continue
        seen.add(id(exc))
        exception_id = len(entries)
        entries.append(_entry(exc, handled, mechanism, exception_id, source, parent))
        # Pushed in reverse: members are listed before the chain of the group itself.
        linked = _linked(exc)
        if linked is not None:
            stack.append((linked[0], linked[1], exception_id))
        stack.extend((m, "member", exception_id) for m in reversed(_members(exc)[:MAX_EXCEPTIONS]))
    return entries


def _linked(exc: BaseException) -> tuple[BaseException, str] | None:
    """The exception this one was raised from or while handling, as Python's traceback shows."""
    try:
        cause = exc.__cause__
        if isinstance(cause, BaseException):
            return cause, "cause"
        context = exc.__context__
        if isinstance(context, BaseException) and not exc.__suppress_context__:
            return context, "context"
    except Exception:
        pass
    return None


def _members(exc: BaseException) -> tuple[BaseException, ...]:
    if _GROUP_TYPE is None or not isinstance(exc, _GROUP_TYPE):
        return ()
    try:
        members = exc.exceptions  # type: ignore[attr-defined]
        if isinstance(members, tuple):
            return tuple(m for m in members if isinstance(m, BaseException))
    except Exception:
        pass
    return ()


def _entry(
    exc: BaseException,
    handled: bool,
    mechanism: str,
    exception_id: int,
    source: str | None,
    parent: int | None,
) -> dict[str, Any]:
    kind = type(exc)
    if source is None:
        mech: dict[str, Any] = {"type": mechanism, "handled": handled}
    else:  # a linked exception: how it relates to its parent, not whether it was handled
        mech = {"type": "chained", "source": source}
    mech.update(synthetic=False, exception_id=exception_id)
    if source is not None:
        mech["parent_id"] = parent
    if _members(exc):
        mech["is_exception_group"] = True
    entry: dict[str, Any] = {
        "type": _type_name(kind),
        "value": _message(exc),
        "module": _type_module(kind),
        "mechanism": mech,
    }
    frames = _frames(_traceback(exc))
    if frames:
        entry["stacktrace"] = {"type": "raw", "frames": frames}
    return entry


def _fallback_entry(exc: object, handled: bool, mechanism: str) -> dict[str, Any]:
    try:
        name = _type_name(type(exc))
    except Exception:
        name = "Exception"
    return {
        "type": name,
        "value": "",
        "module": None,
        "mechanism": {"type": mechanism, "handled": handled, "synthetic": False, "exception_id": 0},
    }


def _type_name(kind: type) -> str:
    name = getattr(kind, "__name__", None)
    return name if isinstance(name, str) else "Exception"


def _type_module(kind: type) -> str | None:
    module = getattr(kind, "__module__", None)
    return module if isinstance(module, str) and module != "builtins" else None


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        try:
            text = repr(exc)
        except Exception:
            text = f"<unprintable {_type_name(type(exc))} object>"
    try:
        notes = exc.__notes__  # type: ignore[attr-defined]  # Python 3.11+ add_note()
    except Exception:
        notes = None
    if isinstance(notes, list):
        text = "\n".join([text, *(n for n in notes if isinstance(n, str))])
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"


def _traceback(exc: BaseException) -> TracebackType | None:
    try:
        tb = exc.__traceback__
    except Exception:
        return None
    return tb if isinstance(tb, TracebackType) else None


# -- frames ----------------------------------------------------------------------------------


def _walk(tb: TracebackType | None) -> Iterator[TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _frames(tb: TracebackType | None) -> list[dict[str, Any]]:
    """Oldest call first. A deep traceback keeps its outermost and innermost frames."""
    half = MAX_FRAMES // 2
    head = list(itertools.islice(_walk(tb), MAX_FRAMES))
    if len(head) < MAX_FRAMES:
        chosen = head
    else:  # keep a sliding window of the innermost frames without listing them all
        tail = collections.deque(head[half:], maxlen=half)
        tail.extend(_walk(head[-1].tb_next))
        chosen = head[:half] + list(tail)
    frames = []
    for item in chosen:
        try:
            frames.append(_frame(item))
        except Exception:  # one odd frame must not cost the others
            continue
    return frames


def _frame(tb: TracebackType) -> dict[str, Any]:
    frame = tb.tb_frame
    code = frame.f_code
    abs_path = _abs_path(code.co_filename)
    module = frame.f_globals.get("__name__")
    module = module if isinstance(module, str) else None
    lineno = tb.tb_lineno if isinstance(tb.tb_lineno, int) and tb.tb_lineno > 0 else None
    lines = _source(code.co_filename, frame.f_globals) if lineno is not None else []
    result: dict[str, Any] = {
        "filename": _short_filename(code.co_filename, module),
        "abs_path": abs_path,
        "function": getattr(code, "co_qualname", None) or code.co_name,
        "module": module,
        "lineno": lineno,
        "in_app": in_app(abs_path),
        "platform": "python",
    }  # context_line, pre_context and post_context only when the source can be read
    if lineno is not None and 0 < lineno <= len(lines):
        line = lines[lineno - 1]
        result["context_line"] = _clip(line)
        result["pre_context"] = [
            _clip(x) for x in lines[max(0, lineno - 1 - CONTEXT_LINES) : lineno - 1]
        ]
        result["post_context"] = [_clip(x) for x in lines[lineno : lineno + CONTEXT_LINES]]
        colno = _colno(tb, line)
        if colno is not None:
            result["colno"] = colno
    return result


def _source(filename: str, module_globals: dict[str, Any]) -> list[str]:
    try:
        linecache.checkcache(filename)  # a file changed since it was cached (a deploy, a reload)
        lines = linecache.getlines(filename, module_globals)
    except Exception:  # a loader's get_source() may raise anything
        return []
    return lines if isinstance(lines, list) else []


def _clip(line: str) -> str:
    line = line.rstrip("\r\n")
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + "…"


def _colno(tb: TracebackType, line: str) -> int | None:
    """1-based column of the failing expression (Python 3.11+ only), in characters."""
    positions = getattr(tb.tb_frame.f_code, "co_positions", None)
    if positions is None or tb.tb_lasti < 0:
        return None
    try:
        position = next(itertools.islice(positions(), tb.tb_lasti // 2, None), None)
        if position is None or position[0] != tb.tb_lineno or position[2] is None:
            return None
        # The offset counts UTF-8 bytes; a column counts characters.
        prefix = line.encode("utf-8")[: position[2]]
        return len(prefix.decode("utf-8", "replace")) + 1
    except Exception:
        return None


def _abs_path(filename: str) -> str:
    if not filename or filename.startswith("<"):
        return filename  # "<string>", "<frozen importlib._bootstrap>", ...
    try:
        return os.path.abspath(filename)
    except Exception:
        return filename


def _short_filename(filename: str, module: str | None) -> str:
    """A path that does not depend on where the code is installed: ``pkg/mod.py`` for module
    ``pkg.mod``, when the file's path agrees with the module name; else the path as given."""
    if not module or not filename or filename.startswith("<"):
        return filename
    parts = os.path.normpath(filename).split(os.sep)
    if module == "__main__":
        return parts[-1]
    stem = os.path.splitext(parts[-1])[0]
    package = stem == "__init__"
    names = module.split(".")
    dotted = parts[:-1] if package else [*parts[:-1], stem]
    if dotted[-len(names) :] == names:
        return "/".join(parts[-len(names) - package :])
    return filename


# -- in-app detection -----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    roots = {_PACKAGE_DIR, os.path.normcase(os.path.realpath(_PACKAGE_DIR))}
    for name in ("stdlib", "platstdlib"):
        try:
            path = sysconfig.get_paths().get(name)
        except Exception:
            path = None
        if path:
            roots.add(os.path.normcase(os.path.realpath(path)))
            roots.add(os.path.normcase(os.path.abspath(path)))
    return tuple(sorted(roots))


@functools.lru_cache(maxsize=2048)
def in_app(abs_path: str) -> bool:
    """False for the standard library, installed packages and this SDK; True otherwise."""
    if not abs_path:
        return False
    if abs_path.startswith("<"):
        return not abs_path.startswith("<frozen")  # frozen modules are the standard library
    try:
        paths = {os.path.normcase(abs_path), os.path.normcase(os.path.realpath(abs_path))}
    except Exception:
        paths = {abs_path}
    for path in paths:
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        for root in _library_roots():
            if path == root or path.startswith(root + os.sep):
                return False
    return True
