"""Run the whole test suite: pytest, ruff (lint and format) and mypy strict on the package."""

from __future__ import annotations

import subprocess
import sys

from _bootstrap import ROOT, ensure_venv


ARGS = sys.argv[1:]


def main() -> int:
    python = str(ensure_venv())
    steps = [
        # One worker per core (at most 4: the real-server tests start processes of their own).
        ("pytest", [python, "-m", "pytest", "-q", "-n", "auto", "--maxprocesses", "4", *ARGS]),
        ("ruff check", [python, "-m", "ruff", "check", "posthog_client", "tests", "examples"]),
        (
            "ruff format",
            [
                python,
                "-m",
                "ruff",
                "format",
                "--check",
                "-q",
                "posthog_client",
                "tests",
                "examples",
            ],
        ),
        ("mypy", [python, "-m", "mypy", "posthog_client"]),
    ]
    failed = []
    for name, command in steps:
        print(f"== {name}", flush=True)
        if subprocess.run(command, cwd=ROOT).returncode != 0:
            failed.append(name)
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
