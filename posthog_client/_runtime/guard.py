"""The never-raise guard every public method wears."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from . import internal as _internal

F = TypeVar("F", bound=Callable[..., Any])


def guard(neutral: Any) -> Callable[[F], F]:
    """Make a public method log and return ``neutral`` instead of raising into the host app."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception as exc:
                _internal.report(exc)
                return copy.deepcopy(neutral)  # a fresh dict each time: callers may mutate it

        return guarded  # type: ignore[return-value]

    return decorate
