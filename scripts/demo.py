"""Run the demo (examples/demo.py): against the embedded fake PostHog, or against a real PostHog
when POSTHOG_API_KEY (and optionally POSTHOG_HOST, POSTHOG_PERSONAL_API_KEY) are set."""

from __future__ import annotations

import subprocess
import sys

from _bootstrap import ROOT, ensure_venv

if __name__ == "__main__":
    python = str(ensure_venv())
    sys.exit(subprocess.run([python, str(ROOT / "examples" / "demo.py"), *sys.argv[1:]]).returncode)
