"""Importing the SDK never imports a web framework; each integration imports only its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

FRAMEWORKS = ("django", "flask", "starlette", "fastapi", "celery")


def imported_after(statement: str) -> set[str]:
    code = (
        f"import sys\n{statement}\nprint(' '.join(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split())


def test_the_sdk_imports_no_framework() -> None:
    assert imported_after("import posthog_client, posthog_client.integrations") == set()


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("django", {"django"}),
        ("flask", {"flask"}),
        ("asgi", set()),  # pure ASGI: no framework at all
        # kombu's JSON encoder imports django.utils.functional when Django is installed
        ("celery", {"celery", "django"}),
    ],
)
def test_each_integration_imports_only_its_framework(module: str, expected: set[str]) -> None:
    found = imported_after(f"import posthog_client.integrations.{module}")
    assert module == "asgi" or module in found
    assert found <= expected
