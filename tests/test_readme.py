"""The README's commands and snippets run, so they cannot rot."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import unittest
from pathlib import Path
from typing import Any

import pytest

import posthog_client
from posthog_client.testing import FakePostHog

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(README) if lang == language]


def test_readme_opens_with_the_two_commands() -> None:
    first = BLOCK.search(README)
    assert first is not None and first.start() < 200
    commands = [line.split("#")[0].strip() for line in first.group(2).strip().splitlines()]
    assert commands == ["python3 scripts/demo.py", "python3 scripts/test.py"]
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("python3 scripts/test.py")


def test_the_demo_command_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "event(s):" in result.stdout


def _stubs(namespace: dict[str, Any]) -> None:
    """The app functions the snippets call ("your code")."""

    def signup(client: Any, user: str) -> None:
        client.capture(user, "signed up", {"plan": "pro"})

    def handle_request(user: str) -> None:
        posthog_client.capture(user, "page viewed")

    namespace.update(signup=signup, handle_request=handle_request)


@pytest.fixture
def saved_module_settings() -> Any:
    names = (*posthog_client._SETTINGS, "disabled")
    saved = {name: getattr(posthog_client, name) for name in names}
    yield
    posthog_client.shutdown(timeout=2)
    for name, value in saved.items():
        setattr(posthog_client, name, value)


def test_python_snippets_run(saved_module_settings: Any) -> None:
    namespace: dict[str, Any] = {"__name__": "readme"}
    _stubs(namespace)
    fake = FakePostHog(api_key="phc_your_project_key", personal_api_key="phx_your_personal_key")
    fake.set_flag("new-checkout")
    fake.set_flag("pricing-test", variants={"a": 50, "b": 50}, payload={"a": 1, "b": 2})
    with fake, fake.intercept():
        for code in blocks("python"):
            if "pip install" in code:
                continue
            exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
        posthog_client.flush()
        # Clients the snippets replaced still deliver on their own schedule.
        assert len(fake.wait_for_events(13, timeout=10)) >= 13
    assert not [r for r in fake.requests if r.status >= 400]

    # The test snippets are tests: run them as such.
    with FakePostHog() as other:
        client = other.client()
        namespace["test_signup_is_tracked"](client, other)
    with FakePostHog() as other, other.patch_module():
        namespace["test_module_level_code"](other)
    cases = [
        v for v in namespace.values() if isinstance(v, type) and issubclass(v, unittest.TestCase)
    ]
    result = unittest.TextTestRunner(stream=io.StringIO()).run(
        unittest.TestSuite(unittest.defaultTestLoader.loadTestsFromTestCase(c) for c in cases)
    )
    assert result.wasSuccessful() and result.testsRun >= 1
