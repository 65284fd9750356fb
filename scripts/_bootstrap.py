"""Create ``.venv`` with the project and its dev tools installed (again only when pyproject.toml
changed), using nothing but the Python that runs this file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
MARKER = VENV / ".installed-from"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(extras: str = "dev") -> Path:
    if sys.version_info < (3, 10):
        sys.exit("posthog_client needs Python 3.10 or newer")
    python = venv_python()
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if python.exists() and MARKER.exists() and MARKER.read_text() == wanted:
        return python
    if not python.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print(f"installing posthog-client[{extras}] into .venv ...", flush=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-e", f".[{extras}]"], cwd=ROOT, check=True)
    MARKER.write_text(wanted)
    return python
