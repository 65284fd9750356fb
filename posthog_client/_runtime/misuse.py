"""Misuse of the public API, named once, at the caller's line.

A call that cannot be bound (an unknown keyword, a missing argument) or whose values cannot be
used (an empty distinct id, an event name that is not a string) is a mistake in the calling code,
not a defect of the SDK: it gets one WARNING naming the method, the problem and the caller's
``file:line``, and no traceback. A call site that keeps making the mistake is logged at most once
per ``INTERVAL`` seconds, with the number of calls not logged since.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from types import FrameType
from typing import Any

from .._events.calls import unknown_keyword

logger = logging.getLogger("posthog_client")

INTERVAL = 60.0  # seconds between two warnings for the same call site
MAX_SITES = 1024  # call sites remembered (the oldest is forgotten first)
# Frames of these modules are not the caller's: the SDK itself, and the standard library's
# plumbing between a ``with`` block or a decorator and the SDK.
_SKIPPED = ("posthog_client", "contextlib", "functools", "asyncio")

_lock = threading.Lock()
_sites: OrderedDict[tuple[str, str], list[float]] = OrderedDict()  # -> [last logged, suppressed]


def _is_ours(frame: FrameType) -> bool:
    name = frame.f_globals.get("__name__")
    return isinstance(name, str) and name.partition(".")[0] in _SKIPPED


def call_site() -> str:
    """``file:line`` of the first frame up the stack that is not the SDK's (the caller)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and _is_ours(frame):
        frame = frame.f_back
    if frame is None:
        return "an unknown line"
    return f"{_short_path(frame.f_code.co_filename)}:{frame.f_lineno}"


def _short_path(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if relative.startswith("..") else relative


def warn(method: str, problem: str, consequence: str = "the call is ignored") -> None:
    """Log ``method() at file:line: problem; consequence``, rate-limited per call site."""
    site = call_site()
    now = time.monotonic()
    key = (method, site)
    with _lock:
        entry = _sites.get(key)
        if entry is not None and now - entry[0] < INTERVAL:
            entry[1] += 1
            return
        suppressed = 0 if entry is None else int(entry[1])
        _sites[key] = [now, 0]
        _sites.move_to_end(key)
        while len(_sites) > MAX_SITES:
            _sites.popitem(last=False)
    more = f" ({suppressed} more such calls here since the last warning)" if suppressed else ""
    logger.warning("posthog_client: %s() at %s: %s; %s%s", method, site, problem, consequence, more)


def reset() -> None:
    """Forget every call site (tests)."""
    with _lock:
        _sites.clear()


_PREFIX = re.compile(r"^[\w.<>]*\(\)\s*")


def binding_problem(function: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> str:
    """Why ``function(*args, **kwargs)`` cannot be bound, in the caller's terms."""
    try:
        signature = inspect.signature(function)
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        text = _PREFIX.sub("", str(exc))
        match = re.search(r"unexpected keyword argument '(\w+)'", text)
        if match:
            known = [p.name for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
            return unknown_keyword(match.group(1), known)
        return text.replace("missing a required argument", "missing the argument")
    except ValueError:  # no signature to read
        pass
    return "the arguments do not match the method's signature"
