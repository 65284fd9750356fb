"""Scenario 4: what importing the SDK costs a fresh interpreter.

Wall time: ``python -c "import X"`` minus ``python -c "pass"``, each run ``--runs`` times
(interleaved, after one untimed warm-up of each so bytecode caches exist), medians compared.
RSS: the child reads its own VmRSS after ``import X``, minus an empty interpreter's; the same
child also times the import statement itself (``in_process_ms``: no interpreter start or exit,
so much less noisy than the wall time).
Runs in a scratch directory so the current directory cannot shadow anything.
This module measures both SDKs itself (``--sdk`` only picks which goes first).
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from benchmarks._common import base_parser, emit

MODULES = {"ours": "posthog_client", "theirs": "posthog", "none": ""}
_RSS = (
    "import time\n"
    "began = time.perf_counter()\n"
    "{imp}\n"
    "print(time.perf_counter() - began)\n"
    "for line in open('/proc/self/status'):\n"
    "    if line.startswith('VmRSS:'):\n"
    "        print(int(line.split()[1]) * 1024)\n"
)

# What a program pays before its first event is queued: the import, a client, one capture()
# (the consumer thread starts; the host is a closed port, and os._exit skips delivery).
_FIRST = {
    "ours": (
        "import posthog_client\n"
        "client = posthog_client.Client('phc_bench', host='http://127.0.0.1:9')\n"
        "client.capture('u1', 'first', {'a': 1})\n"
    ),
    "theirs": (
        "from posthog import Posthog\n"
        "client = Posthog('phc_bench', host='http://127.0.0.1:9')\n"
        "client.capture('first', distinct_id='u1', properties={'a': 1})\n"
    ),
}
_FIRST_WRAP = (
    "import os, time\n"
    "began = time.perf_counter()\n"
    "{code}"
    "print(time.perf_counter() - began, flush=True)\n"
    "os._exit(0)\n"
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTHOG", "PYTHON"))}
    return env


def _code(module: str) -> str:
    return f"import {module}" if module else "pass"


def _time_once(module: str, cwd: str) -> float:
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", _code(module)], cwd=cwd, env=_env(), check=True, timeout=60
    )
    return time.perf_counter() - began


def _rss_once(module: str, cwd: str) -> tuple[int, float]:
    """(VmRSS after the import, seconds the import statement took inside the child)."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS.format(imp=_code(module))],
        cwd=cwd,
        env=_env(),
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    seconds, rss = done.stdout.split()
    return int(rss), float(seconds)


def _first_capture_once(sdk: str, cwd: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_WRAP.format(code=_FIRST[sdk])],
        cwd=cwd,
        env=_env(),
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.split()[0])


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--ours-only", action="store_true")
    args = parser.parse_args()
    order = ["none", "ours", "theirs"] if args.sdk == "ours" else ["none", "theirs", "ours"]
    if args.ours_only or importlib.util.find_spec(MODULES["theirs"]) is None:
        order.remove("theirs")
    times: dict[str, list[float]] = {name: [] for name in order}
    rss: dict[str, list[int]] = {name: [] for name in order}
    inside: dict[str, list[float]] = {name: [] for name in order}
    first: dict[str, list[float]] = {name: [] for name in order[1:]}
    with tempfile.TemporaryDirectory() as scratch:
        for name in order:  # warm-up: compiles and caches bytecode
            _time_once(MODULES[name], scratch)
        for run in range(args.runs):
            for name in order if run % 2 == 0 else list(reversed(order)):
                times[name].append(_time_once(MODULES[name], scratch))
                size, seconds = _rss_once(MODULES[name], scratch)
                rss[name].append(size)
                inside[name].append(seconds)
                if name != "none":
                    first[name].append(_first_capture_once(name, scratch))
    base_time = statistics.median(times["none"])
    base_rss = statistics.median(rss["none"])
    result: dict[str, Any] = {"runs": args.runs, "baseline_ms": base_time * 1000}
    for name in order[1:]:
        result[name] = {
            "import_ms": (statistics.median(times[name]) - base_time) * 1000,
            "rss_mib": (statistics.median(rss[name]) - base_rss) / 2**20,
            "in_process_ms": statistics.median(inside[name]) * 1000,
            "first_capture_ms": statistics.median(first[name]) * 1000,
            "times_ms": [t * 1000 for t in times[name]],
        }
    emit(result)


if __name__ == "__main__":
    main()
