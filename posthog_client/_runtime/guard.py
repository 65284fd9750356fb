"""The never-raise guard every public method wears.

Three kinds of failure, told apart: a call that cannot be bound to the method's signature, and a
call whose values are unusable (``InvalidCall``), are the caller's mistakes, named once at the
caller's line (``misuse``); anything else is a defect of the SDK (``internal.report``).
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from .._errors import InvalidCall
from . import internal as _internal
from . import misuse

F = TypeVar("F", bound=Callable[..., Any])
Fallback = Callable[[tuple[Any, ...], dict[str, Any]], Any]


def guard(neutral: Any, *, fallback: Fallback | None = None) -> Callable[[F], F]:
    """Make a public method log and return ``neutral`` instead of raising into the host app.

    ``fallback(args, kwargs)``, when given, computes the neutral value from the call instead (a
    ``default=`` argument, a no-op context manager).
    """

    def decorate(method: F) -> F:
        name = method.__name__

        @functools.wraps(method)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except InvalidCall as exc:
                misuse.warn(name, str(exc))
            except TypeError as exc:
                # Raised by the call itself, before the method's first line ran: the arguments do
                # not fit its signature (no frame of the method is in the traceback).
                tb = exc.__traceback__
                if tb is not None and tb.tb_next is None:
                    misuse.warn(name, misuse.binding_problem(method, args, kwargs))
                else:
                    _internal.report(exc)
            except Exception as exc:
                _internal.report(exc)
            if fallback is not None:
                with contextlib.suppress(Exception):
                    return fallback(args, kwargs)
            return copy.deepcopy(neutral)  # a fresh dict each time: callers may mutate it

        return guarded  # type: ignore[return-value]

    return decorate
