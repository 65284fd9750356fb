"""Pure: ``$exception`` event properties from a Python exception (placeholder, being written)."""

from __future__ import annotations

from typing import Any


def exception_properties(exc: BaseException, *, handled: bool, mechanism: str) -> dict[str, Any]:
    return {
        "$exception_list": [
            {
                "type": type(exc).__name__,
                "value": str(exc),
                "mechanism": {"handled": handled, "type": mechanism},
            }
        ]
    }
