"""The one place every unexpected exception inside the SDK ends up.

Users see a log line. Our own test suite sets ``hook`` to a function that fails the test, so a bug
can never hide behind the never-raise policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger("posthog_client")


def _log(exc: BaseException) -> None:
    logger.error("posthog_client: internal error (please report it)", exc_info=exc)


hook: Callable[[BaseException], None] = _log


def report(exc: BaseException) -> None:
    try:
        hook(exc)
    except Exception:  # a broken hook must not turn into an exception in the host app
        _log(exc)
