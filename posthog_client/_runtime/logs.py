"""The SDK's logger: lines that cannot flood the host app's logs, and ``debug=True``."""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger("posthog_client")
# Ends the log lines of a refused key: the command that checks the keys and the host.
DOCTOR_HINT = "; run `python -m posthog_client doctor` to check the keys and the host"


class RateLimitedLog:
    def __init__(self, interval: float = 10.0) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += " (%d similar lines suppressed)"
            args = (*args, suppressed)
        logger.warning("posthog_client: " + message, *args)


_handler: logging.Handler | None = None  # the handler debug mode added, if it added one


def set_debug_logging(on: bool) -> None:
    """``debug=True``: log at debug level. The lines go wherever the app's logging sends them;
    only when nothing would show them (no handler on the logger or its ancestors) does the SDK
    add its own stderr handler, so a line is never printed twice."""
    global _handler
    if on:
        logger.setLevel(logging.DEBUG)
        if not logger.hasHandlers():
            _handler = logging.StreamHandler()
            _handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
            logger.addHandler(_handler)
    else:
        logger.setLevel(logging.NOTSET)
        if _handler is not None:
            logger.removeHandler(_handler)
            _handler = None
