"""Scenario 8: what the pytest plugin costs every test run of a project that installs the SDK.

The package registers ``posthog_client.testing.pytest_plugin`` as a pytest entry point, so pytest
loads it in every run, whether a test uses the fixtures or not. This scenario runs
``python -m pytest -q -p no:cacheprovider test_one.py`` (one trivial test, in a scratch directory)
``--runs`` times with the plugin and as many times with ``-p no:posthog_client``, interleaved
after one untimed warm-up of each, and reports the median of the per-pair differences (each run
with the plugin minus the run without it next to it: a pair shares the machine's state of the
moment). On these machines a whole run's noise is still far larger than the plugin (pairs
spread over ±300 ms), so the bounded number is the second one: what pytest does with the
plugin at start-up, timed inside one fresh interpreter that has pytest loaded (import the
module, register it with pytest's plugin manager), median of several processes.
posthog_client only: the official package registers no pytest plugin.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks._common import base_parser, emit

_TEST = "def test_one():\n    assert True\n"
# What pytest does with an entry-point plugin at start-up, timed inside one fresh interpreter
# that has already loaded pytest and its built-in plugins: import the module, register it.
_IMPORT = (
    "import time, pytest\n"
    "from _pytest.config import get_config\n"
    "manager = get_config().pluginmanager\n"
    "began = time.perf_counter()\n"
    "import posthog_client.testing.pytest_plugin as plugin\n"
    "manager.register(plugin, 'posthog_client')\n"
    "print(time.perf_counter() - began)\n"
)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("POSTHOG", "PYTHON"))}


def _pytest_once(cwd: str, plugin: bool) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_one.py"]
    if not plugin:
        command[3:3] = ["-p", "no:posthog_client"]
    began = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=_env(), check=True, timeout=120, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        with open(os.path.join(scratch, "test_one.py"), "w", encoding="utf-8") as test:
            test.write(_TEST)
        _pytest_once(scratch, True)  # warm-up: bytecode caches
        _pytest_once(scratch, False)
        with_plugin: list[float] = []
        without: list[float] = []
        for run in range(args.runs):
            for plugin in (True, False) if run % 2 == 0 else (False, True):
                (with_plugin if plugin else without).append(_pytest_once(scratch, plugin))
        pairs = [(w - wo) * 1000 for w, wo in zip(with_plugin, without, strict=True)]
        imports = []
        for _ in range(max(3, args.runs // 2)):
            done = subprocess.run(
                [sys.executable, "-c", _IMPORT],
                cwd=scratch,
                env=_env(),
                check=True,
                timeout=60,
                capture_output=True,
                text=True,
            )
            imports.append(float(done.stdout.strip()))
    emit(
        {
            "with_ms": statistics.median(with_plugin) * 1000,
            "without_ms": statistics.median(without) * 1000,
            "added_ms": statistics.median(pairs),
            "pair_ms": pairs,
            "plugin_import_ms": statistics.median(imports) * 1000,
        }
    )


if __name__ == "__main__":
    main()
