"""Run the whole test suite: pytest, ruff (lint and format) and mypy strict on the package."""

from __future__ import annotations

import os
import subprocess
import sys

from _bootstrap import ROOT, ensure_venv


ARGS = sys.argv[1:]
WORKERS = max(2, min(4, 2 * (os.cpu_count() or 1)))


def main() -> int:
    python = str(ensure_venv())
    steps = [
        # Two workers per core, at most 4: many tests wait on sockets and child processes (the
        # real-server tests start processes of their own). 2 cores: 66 s against 85 s with 2.
        ("pytest", [python, "-m", "pytest", "-q", "-n", str(WORKERS), *ARGS]),
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
