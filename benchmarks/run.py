"""Run the benchmark suite: posthog_client against the official ``posthog`` package.

    .venv/bin/python benchmarks/run.py [--quick] [--only NAME ...] [--json out.json] [--markdown]
                                       [--ours-only]

Every measurement runs in a fresh interpreter (``python -m benchmarks.scenarios.<name>``); the
two SDKs run interleaved, alternating which goes first, and each metric is the median of its
runs. Ratios are ours / official, measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "RESULT "
CHILD_TIMEOUT_S = 300.0
SCENARIOS = ("capture", "e2e", "flags", "import", "memory", "burst", "plugin", "fleet")


@dataclass
class Row:
    scenario: str
    metric: str
    ours: float | None
    theirs: float | None
    higher_is_better: bool
    target: float | None = None  # ratio ours/theirs: at least (higher better) or at most
    note: str = ""
    compared: bool = True  # False: informational row, no ratio
    bound: float | None = None  # an absolute target for ours (at most, or at least if higher)
    ours_range: tuple[float, float] | None = None  # min and max over the runs
    theirs_range: tuple[float, float] | None = None
    # ours/official of each repeat, the two SDKs run back to back: the ratio is their median,
    # so one SDK's quiet (or busy) spell on a shared machine cannot decide it alone
    paired: tuple[float, ...] = ()

    @property
    def ratio(self) -> float | None:
        if not self.compared or self.ours is None or self.theirs is None or self.theirs == 0:
            return None
        if self.paired:
            return statistics.median(self.paired)
        return self.ours / self.theirs

    @property
    def verdict(self) -> str:
        if self.bound is not None:
            if self.ours is None:
                return "n/a"
            ok = self.ours >= self.bound if self.higher_is_better else self.ours <= self.bound
            return "PASS" if ok else "MISS"
        if self.target is None:
            return ""
        ratio = self.ratio
        if ratio is None:
            return "n/a"
        met = ratio >= self.target if self.higher_is_better else ratio <= self.target
        return "PASS" if met else "MISS"

    def target_text(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        if self.bound is not None:
            return f"{sign} {self.bound:g}"
        if self.target is None:
            return ""
        return f"{sign} {self.target:g}x"

    def range_text(self) -> str:
        parts = []
        if len(self.paired) > 1:
            parts.append(f"ratio {min(self.paired):.2f}-{max(self.paired):.2f}x")
        for name, span in (("ours", self.ours_range), ("official", self.theirs_range)):
            if span is not None and span[0] != span[1]:
                parts.append(f"{name} {_number(span[0])}-{_number(span[1])}")
        return "; ".join(parts)


@dataclass
class Settings:
    quick: bool
    have_theirs: bool
    raw: dict[str, list[dict[str, Any]]]


# -- running children ---------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG")}


def _child(module: str, *args: str) -> dict[str, Any]:
    """Run one scenario process and return its RESULT object (or an ``error``)."""
    command = [sys.executable, "-m", f"benchmarks.scenarios.{module}", *args]
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT_S:g} s"}
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
    return {"error": f"exit {done.returncode}: " + " | ".join(tail)}


def _sdks(settings: Settings, rep: int) -> list[str]:
    if not settings.have_theirs:
        return ["ours"]
    return ["ours", "theirs"] if rep % 2 == 0 else ["theirs", "ours"]


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _repeat(
    settings: Settings,
    label: str,
    reps: int,
    run: Callable[[str], dict[str, Any]],
    show: Callable[[dict[str, Any]], str],
) -> dict[str, list[dict[str, Any]]]:
    """Run ``run(sdk)`` ``reps`` times per SDK, interleaved; keep the good results by SDK."""
    results: dict[str, list[dict[str, Any]]] = {"ours": [], "theirs": []}
    for rep in range(reps):
        for sdk in _sdks(settings, rep):
            result = run(sdk)
            settings.raw.setdefault(label, []).append({"sdk": sdk, "rep": rep, **result})
            if "error" in result:
                _log(f"  {label:<16} {sdk:<6} run {rep + 1}/{reps}: ERROR {result['error']}")
                continue
            _log(f"  {label:<16} {sdk:<6} run {rep + 1}/{reps}: {show(result)}")
            results[sdk].append({**result, "_rep": rep})
    return results


def _paired(
    settings: Settings,
    label: str,
    reps: int,
    run: Callable[[str], dict[str, Any]],
    show: Callable[[dict[str, Any]], str],
) -> list[dict[str, Any]]:
    """Run ``run(first)`` ``reps`` times, a child holding both SDKs, each SDK going first in
    turn; keep the good results (no error, and nothing undelivered where that is reported)."""
    results: list[dict[str, Any]] = []
    for rep in range(reps):
        first = "ours" if rep % 2 == 0 else "theirs"
        result = run(first)
        settings.raw.setdefault(label, []).append({"first": first, **result})
        if "error" in result or result.get("complete") is False:
            _log(f"  {label:<16} {first:<6} run {rep + 1}/{reps}: ERROR {result}")
            continue
        _log(f"  {label:<16} {first:<6} run {rep + 1}/{reps}: {show(result)}")
        results.append(result)
    return results


def _median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if isinstance(r.get(key), (int, float))]
    return statistics.median(values) if values else None


def _span(results: list[dict[str, Any]], key: str) -> tuple[float, float] | None:
    values = [r[key] for r in results if isinstance(r.get(key), (int, float))]
    return (min(values), max(values)) if values else None


def _row(
    scenario: str,
    metric: str,
    results: dict[str, list[dict[str, Any]]],
    key: str,
    higher_is_better: bool,
    target: float | None = None,
    **extra: Any,
) -> Row:
    """A compared row: the median of each SDK's runs, with their ranges."""
    return Row(
        scenario,
        metric,
        _median(results["ours"], key),
        _median(results["theirs"], key),
        higher_is_better=higher_is_better,
        target=target,
        ours_range=_span(results["ours"], key),
        theirs_range=_span(results["theirs"], key),
        paired=_pairs(results, key),
        **extra,
    )


def _pairs(results: dict[str, list[dict[str, Any]]], key: str) -> tuple[float, ...]:
    theirs = {r.get("_rep"): r.get(key) for r in results["theirs"]}
    pairs = []
    for mine in results["ours"]:
        official = theirs.get(mine.get("_rep"))
        value = mine.get(key)
        if isinstance(value, (int, float)) and isinstance(official, (int, float)) and official:
            pairs.append(value / official)
    return tuple(pairs)


@contextlib.contextmanager
def _sink() -> Iterator[str]:
    sys.path.insert(0, str(ROOT))
    from benchmarks.sink import sink_process

    with sink_process() as url:
        yield url


# -- scenarios ----------------------------------------------------------------------------------


def bench_capture(settings: Settings) -> list[Row]:
    reps_mean, reps_latency = (1, 1) if settings.quick else (5, 3)
    rows: list[Row] = []
    with _sink() as sink:
        mean = _repeat(
            settings,
            "capture-mean",
            reps_mean,
            lambda sdk: _child("capture", "--sdk", sdk, "--mode", "mean", "--sink", sink),
            lambda r: f"{r['mean_us']:.2f} us/call, delivered {r['delivered']}",
        )
        latency = _repeat(
            settings,
            "capture-latency",
            reps_latency,
            lambda sdk: _child("capture", "--sdk", sdk, "--mode", "latency", "--sink", sink),
            lambda r: f"p50 {r['p50_us']:.2f} p99 {r['p99_us']:.2f} max {r['max_us']:.0f} us",
        )
    rows.append(_row("1 capture()", "mean us/call, 20k-call loop", mean, "mean_us", False))
    rows += _capture_paired(settings, reps_mean)
    ours_mean, ours_json = _median(mean["ours"], "mean_us"), _median(mean["ours"], "json_dumps_us")
    rows.append(
        Row(
            "1 capture()",
            "json.dumps of the same event, us (reference)",
            ours_json,
            _median(mean["theirs"], "json_dumps_us"),
            higher_is_better=False,
            compared=False,
        )
    )
    if ours_mean is not None and ours_json:
        rows.append(
            Row(
                "1 capture()",
                "ours: capture() mean / json.dumps",
                ours_mean / ours_json,
                None,
                higher_is_better=False,
                compared=False,
                bound=2.0,
            )
        )
    for key, name in (("p50_us", "p50"), ("p99_us", "p99"), ("max_us", "max")):
        rows.append(_row("1 capture()", f"{name} us/call (timed each)", latency, key, False))
    # A small difference between two noisy loops: more pairs than the other rows.
    rows += _capture_with_spool(settings, reps_mean if settings.quick else 7)
    return rows


def _capture_paired(settings: Settings, reps: int) -> list[Row]:
    """Scenario 1b: both SDKs in one process taking turns (the target's row: the CPU speed a
    process gets drifts too much between two processes for the ratio of their means)."""
    if not settings.have_theirs:
        return []
    with _sink() as sink:
        results = _paired(
            settings,
            "capture-paired",
            reps,
            lambda first: _child("capture_paired", "--sdk", first, "--sink", sink),
            lambda r: (
                f"{r['ratio']:.3f}x ({r['mean_us']:.2f} vs {r['theirs_mean_us']:.1f} us/call)"
            ),
        )
    return [
        Row(
            "1b capture()",
            "mean us/call, one process, turns of 2,000 calls",
            _median(results, "mean_us"),
            _median(results, "theirs_mean_us"),
            higher_is_better=False,
            target=0.15,
            ours_range=_span(results, "mean_us"),
            theirs_range=_span(results, "theirs_mean_us"),
            paired=tuple(r["ratio"] for r in results),
        )
    ]


def _capture_with_spool(settings: Settings, reps: int) -> list[Row]:
    """Ours only: the caller's cost with ``spool_path`` set and PostHog healthy (the spool is
    written only while PostHog fails), interleaved with runs without it. Two loops' times differ
    by +-30% on a shared machine from run to run, so the bound is on a count instead: the
    function calls a capture() makes on the caller's thread, the same with a spool or without
    (within 5%: whether a call wakes the consumer depends on how far it has got)."""
    ours_only = Settings(settings.quick, False, settings.raw)
    results: dict[str, list[dict[str, Any]]] = {"plain": [], "spool": []}
    counts: dict[str, list[dict[str, Any]]] = {"plain": [], "spool": []}

    def one(sink: str, mode: str, measure: str, show: Callable[[dict[str, Any]], str]) -> Any:
        extra = ["--spool"] if mode == "spool" else []
        runs = _repeat(
            ours_only,
            f"capture-{measure}-{mode}",
            1,
            lambda sdk: _child("capture", "--sdk", sdk, "--mode", measure, "--sink", sink, *extra),
            show,
        )
        return runs["ours"]

    with _sink() as sink:
        for rep in range(reps):
            for mode in ("plain", "spool") if rep % 2 == 0 else ("spool", "plain"):
                results[mode] += one(
                    sink,
                    mode,
                    "mean",
                    lambda r: f"{r['mean_us']:.2f} us/call, spool file: {r.get('spool_written')}",
                )
        for mode in ("plain", "spool"):
            counts[mode] += one(
                sink, mode, "calls", lambda r: f"{r['calls_per_capture']:.1f} calls/capture()"
            )
    spool = _median(results["spool"], "mean_us")
    written = any(r.get("spool_written") for r in results["spool"] + counts["spool"])
    # The median of the per-pair ratios (each pair ran back to back), as for the other ratios.
    pairs = sorted(
        s["mean_us"] / p["mean_us"]
        for s, p in zip(results["spool"], results["plain"], strict=False)
        if s.get("mean_us") and p.get("mean_us")
    )
    calls_plain = _median(counts["plain"], "calls_per_capture")
    calls_spool = _median(counts["spool"], "calls_per_capture")
    note = " (SPOOL WRITTEN)" if written else ""
    return [
        Row(
            "1 capture()",
            "ours: mean us/call with spool_path set (healthy PostHog)",
            spool,
            None,
            higher_is_better=False,
            compared=False,
            ours_range=_span(results["spool"], "mean_us"),
        ),
        Row(
            "1 capture()",
            "ours: mean with spool / without, per pair (noise: see range)" + note,
            statistics.median(pairs) if pairs else None,
            None,
            higher_is_better=False,
            compared=False,
            ours_range=(pairs[0], pairs[-1]) if pairs else None,
        ),
        Row(
            "1 capture()",
            "ours: function calls per capture(), with spool / without" + note,
            calls_spool / calls_plain if calls_spool and calls_plain else None,
            None,
            higher_is_better=False,
            compared=False,
            bound=1.05,
        ),
    ]


def bench_e2e(settings: Settings) -> list[Row]:
    reps = 1 if settings.quick else 3
    events = "10000" if settings.quick else "50000"
    rows: list[Row] = []
    with _sink() as sink:
        for protocol, mode in (("v1", "plain"), ("v1", "gzip"), ("v0", "plain"), ("v0", "gzip")):
            flags = ["--events", events, "--sink", sink, "--capture-mode", protocol]
            flags += ["--gzip"] if mode == "gzip" else []

            def run(sdk: str, flags: list[str] = flags) -> dict[str, Any]:
                return _child("end_to_end", "--sdk", sdk, *flags)

            results = _repeat(
                settings,
                f"e2e-{protocol}-{mode}",
                reps,
                run,
                lambda r: (
                    f"{r['events_per_s']:.0f} ev/s, {r['cpu_us_per_event']:.1f} us CPU/ev, "
                    f"{r['delivered']}/{r['events']} delivered"
                ),
            )
            scenario = f"2 end to end ({protocol}, {mode})"
            target = 4.0 if protocol == "v1" else None  # the default path carries the target
            rows.append(
                _row(
                    scenario,
                    f"events/s, {int(events) // 1000}k events",
                    results,
                    "events_per_s",
                    True,
                    target=target,
                )
            )
            rows.append(_row(scenario, "SDK CPU us/event", results, "cpu_us_per_event", False))
    return rows


def _agreement(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[float, int]:
    pairs = list(zip(ours["sample_values"], theirs["sample_values"], strict=False))
    for mine, official in zip(ours["sample_all"], theirs["sample_all"], strict=False):
        for key in set(mine) | set(official):
            pairs.append((mine.get(key), official.get(key)))
    same = sum(1 for a, b in pairs if a == b)
    return (100.0 * same / len(pairs) if pairs else 0.0), len(pairs)


def bench_flags(settings: Settings) -> list[Row]:
    reps = 1 if settings.quick else 5  # the noisiest scenario
    users = "100" if settings.quick else "400"

    def show(r: dict[str, Any]) -> str:
        if not r.get("available"):
            return "not available yet"
        return (
            f"{r['evals_per_s']:.0f} evals/s, p99 {r['eval_p99_us']:.1f} us, "
            f"{r['all_per_s']:.0f} get_all_flags/s"
        )

    results = _repeat(
        settings,
        "flags",
        reps,
        lambda sdk: _child("flags", "--sdk", sdk, "--users", users),
        show,
    )
    ours = [r for r in results["ours"] if r.get("available")]
    theirs = results["theirs"]
    note = "" if ours or not results["ours"] else "not available yet"
    rows = [
        _row(
            "3 local flags",
            "get_feature_flag evals/s",
            {"ours": ours, "theirs": theirs},
            "evals_per_s",
            True,
            note=note,
        ),
        _row(
            "3 local flags",
            "get_feature_flag p99 us",
            {"ours": ours, "theirs": theirs},
            "eval_p99_us",
            False,
        ),
        _row(
            "3 local flags",
            "get_all_flags calls/s (50 flags)",
            {"ours": ours, "theirs": theirs},
            "all_per_s",
            True,
        ),
    ]
    rows += _flags_paired(settings, reps, users)
    if ours and theirs:
        percent, count = _agreement(ours[0], theirs[0])
        rows.append(
            Row(
                "3 local flags",
                f"agreement with official, {count} values",
                percent,
                100.0,
                higher_is_better=True,
                compared=False,
            )
        )
    return rows


def _flags_paired(settings: Settings, reps: int, users: str) -> list[Row]:
    """Scenario 3b: both SDKs in one process taking turns chunk by chunk (the targets' rows:
    the CPU speed a process gets drifts too much between two processes for their ratio)."""
    if not settings.have_theirs:
        return []
    results = _paired(
        settings,
        "flags-paired",
        reps,
        lambda first: _child("flags_paired", "--sdk", first, "--users", users),
        lambda r: (
            f"{r['evals_ratio']:.2f}x evals ({r['evals_per_s']:.0f} vs "
            f"{r['theirs_evals_per_s']:.0f}/s), {r['all_ratio']:.2f}x get_all_flags "
            f"({r['all_per_s']:.0f} vs {r['theirs_all_per_s']:.0f}/s)"
        ),
    )
    rows = []
    for metric, key, ratio, target in (
        ("get_feature_flag evals/s, one process, turns", "evals_per_s", "evals_ratio", 3.0),
        ("get_all_flags calls/s, one process, turns", "all_per_s", "all_ratio", 4.0),
    ):
        theirs_key = "theirs_" + key
        rows.append(
            Row(
                "3b local flags",
                metric,
                _median(results, key),
                _median(results, theirs_key),
                higher_is_better=True,
                target=target,
                ours_range=_span(results, key),
                theirs_range=_span(results, theirs_key),
                paired=tuple(r[ratio] for r in results),
            )
        )
    return rows


def bench_import(settings: Settings) -> list[Row]:
    runs = "3" if settings.quick else "7"
    if not settings.have_theirs:
        _log("  import: the official package is not installed; measuring ours only")
    extra = [] if settings.have_theirs else ["--ours-only"]
    result = _child("imports", "--sdk", "ours", "--runs", runs, *extra)
    settings.raw.setdefault("import", []).append(result)
    if "error" in result:
        _log(f"  import: ERROR {result['error']}")
        return []
    theirs = result.get("theirs", {})
    for sdk, numbers in (("ours", result["ours"]), ("theirs", theirs)):
        if numbers:
            _log(
                f"  import           {sdk:<6} {numbers['import_ms']:.0f} ms, "
                f"{numbers['rss_mib']:.1f} MiB (bare python {result['baseline_ms']:.0f} ms)"
            )
    return [
        Row(
            "4 import",
            f"wall ms (median of {runs}, minus bare python)",
            result["ours"]["import_ms"],
            theirs.get("import_ms"),
            higher_is_better=False,
            target=0.2,
        ),
        Row(
            "4 import",
            "import statement ms, timed inside the child",
            result["ours"]["in_process_ms"],
            theirs.get("in_process_ms"),
            higher_is_better=False,
        ),
        Row(
            "4 import",
            "import + Client() + first capture() ms, inside the child",
            result["ours"]["first_capture_ms"],
            theirs.get("first_capture_ms"),
            higher_is_better=False,
        ),
        Row(
            "4 import",
            "RSS MiB after import (minus bare python)",
            result["ours"]["rss_mib"],
            theirs.get("rss_mib"),
            higher_is_better=False,
        ),
    ]


def bench_memory(settings: Settings) -> list[Row]:
    reps = 1 if settings.quick else 3
    events = "20000" if settings.quick else "100000"
    results = _repeat(
        settings,
        "memory",
        reps,
        lambda sdk: _child("queue_memory", "--sdk", sdk, "--events", events),
        lambda r: f"{r['bytes_per_event']:.0f} B/event, {r['queued']} queued",
    )
    return [
        _row(
            "5 queued memory",
            f"RSS bytes/queued event, {int(events) // 1000}k queued",
            results,
            "bytes_per_event",
            False,
            target=0.35,
        )
    ]


def bench_burst(settings: Settings) -> list[Row]:
    reps = 1 if settings.quick else 3
    with _sink() as host:
        results = _repeat(
            settings,
            "burst",
            reps,
            lambda sdk: _child("burst", "--sdk", sdk, "--host", host),
            lambda r: (
                f"max {r['max_ms']:.2f} ms, {r['dropped']} dropped, "
                f"{r['warning_lines']} warning lines"
            ),
        )
    worst = {sdk: max((r["max_ms"] for r in rs), default=None) for sdk, rs in results.items()}
    lines = {
        sdk: max((r["warning_lines"] for r in rs), default=None) for sdk, rs in results.items()
    }
    collections = {
        sdk: max((r.get("full_collections", 0) for r in rs), default=None)
        for sdk, rs in results.items()
    }
    return [
        Row(
            "6 burst 50k into 10k",
            "worst capture() ms over all runs",
            worst.get("ours"),
            worst.get("theirs"),
            higher_is_better=False,
            bound=5.0,
            ours_range=_span(results["ours"], "max_ms"),
            theirs_range=_span(results["theirs"], "max_ms"),
        ),
        Row(
            "6 burst 50k into 10k",
            "warning lines logged",
            lines.get("ours"),
            lines.get("theirs"),
            higher_is_better=False,
        ),
        Row(
            "6 burst 50k into 10k",
            "full garbage collections during a burst (most in a run)",
            collections.get("ours"),
            collections.get("theirs"),
            higher_is_better=False,
            compared=False,
        ),
        Row(
            "6 burst 50k into 10k",
            "queue_full drops counted (ours)",
            _median(results["ours"], "dropped"),
            None,
            higher_is_better=False,
            compared=False,
        ),
    ]


def bench_plugin(settings: Settings) -> list[Row]:
    """posthog_client only: what installing the package adds to every pytest run."""
    reps = 1 if settings.quick else 3
    runs = "5" if settings.quick else "9"
    results = _repeat(
        Settings(settings.quick, False, settings.raw),  # ours only
        "plugin",
        reps,
        lambda sdk: _child("plugin_startup", "--sdk", sdk, "--runs", runs),
        lambda r: (
            f"+{r['added_ms']:.1f} ms ({r['with_ms']:.0f} vs {r['without_ms']:.0f} ms), "
            f"plugin import {r['plugin_import_ms']:.2f} ms"
        ),
    )
    scenario = "8 pytest plugin (ours only)"
    pairs = [d for r in results["ours"] for d in r.get("pair_ms", [])]
    return [
        Row(
            scenario,
            "pytest run with the plugin minus without, ms (median of all run pairs; noise)",
            statistics.median(pairs) if pairs else None,
            None,
            higher_is_better=False,
            compared=False,
            ours_range=_span(results["ours"], "added_ms"),
        ),
        Row(
            scenario,
            "plugin start-up inside pytest (import + register), ms",
            _median(results["ours"], "plugin_import_ms"),
            None,
            higher_is_better=False,
            compared=False,
            bound=10.0,
            ours_range=_span(results["ours"], "plugin_import_ms"),
        ),
    ]


def bench_fleet(settings: Settings) -> list[Row]:
    """posthog_client only: flag checks with a Redis store, and the store's traffic."""
    intervals = "6" if settings.quick else "20"
    result = _child("fleet", "--sdk", "ours", "--intervals", intervals)
    settings.raw.setdefault("fleet", []).append(result)
    if "error" in result or not result.get("available"):
        _log(f"  fleet: skipped ({result.get('error') or result.get('reason')})")
        return []
    _log(
        f"  fleet            ours   follower {result['follower_evals_per_s']:.0f} evals/s, "
        f"standalone {result['standalone_evals_per_s']:.0f}; keyless follower "
        f"{result['keyless_bytes_up'] + result['keyless_bytes_down']:.0f} B/interval"
    )
    scenario = "7 fleet (ours only)"

    def row(metric: str, value: float | None) -> Row:
        return Row(scenario, metric, value, None, higher_is_better=False, compared=False)

    ratio = result["follower_evals_per_s"] / result["standalone_evals_per_s"]
    return [
        row("get_feature_flag evals/s, standalone (no store)", result["standalone_evals_per_s"]),
        row("get_feature_flag evals/s, Redis follower", result["follower_evals_per_s"]),
        row("follower / standalone evals/s", ratio),
        row("get_feature_flag p99 us, standalone", result["standalone_p99_us"]),
        row("get_feature_flag p99 us, Redis follower", result["follower_p99_us"]),
        row(f"store commands during {result['checks']:,} flag checks", result["store_commands"]),
        row(
            "keyless follower store bytes/interval, unchanged (sent+received)",
            result["keyless_bytes_up"] + result["keyless_bytes_down"],
        ),
        row(
            "standby (keyed) follower store bytes/interval, unchanged",
            result["standby_bytes_up"] + result["standby_bytes_down"],
        ),
        row(
            "leader store bytes/interval, unchanged (renew + 304 touch)",
            result["leader_bytes_up"] + result["leader_bytes_down"],
        ),
        row(
            f"definitions requests/interval, 1 leader + {2 * result['followers']} followers",
            result["definitions_requests_per_interval"],
        ),
    ]


BENCHES: dict[str, Callable[[Settings], list[Row]]] = {
    "capture": bench_capture,
    "e2e": bench_e2e,
    "flags": bench_flags,
    "import": bench_import,
    "memory": bench_memory,
    "burst": bench_burst,
    "plugin": bench_plugin,
    "fleet": bench_fleet,
}


# -- report -------------------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    return {
        "date": dt.date.today().isoformat(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "posthog_client": _version("posthog-client"),
        "posthog": _version("posthog"),
        "requests": _version("requests"),
        "load_average": os.getloadavg(),
    }


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def _cells(row: Row) -> list[str]:
    ratio = row.ratio
    ratio_text = "-" if ratio is None else f"{ratio:.2f}x"
    better = ("higher" if row.higher_is_better else "lower") if row.compared else ""
    theirs = _number(row.theirs)
    ours = row.note if row.ours is None and row.note else _number(row.ours)
    return [
        row.scenario,
        row.metric,
        ours,
        theirs,
        ratio_text,
        f"{better} better" if better else "",
        row.target_text(),
        row.verdict,
        row.range_text(),
    ]


HEADERS = [
    "scenario",
    "metric",
    "posthog_client",
    "posthog",
    "ratio",
    "",
    "target",
    "result",
    "range over runs",
]


def text_table(rows: list[Row]) -> str:
    cells = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]
    right = {2, 3, 4}
    out = []
    for n, line in enumerate(cells):
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(parts).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(rows: list[Row]) -> str:
    head = [
        "Scenario",
        "Metric",
        "posthog_client",
        "posthog",
        "Ratio",
        "Better",
        "Target",
        "Result",
        "Range over runs",
    ]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = _cells(row)
        cells[5] = cells[5].replace(" better", "")
        cells[7] = f"**{cells[7]}**" if cells[7] == "MISS" else cells[7]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs and events (< 1 min)")
    parser.add_argument(
        "--only", action="append", choices=SCENARIOS, help="run only this scenario (repeatable)"
    )
    parser.add_argument("--json", type=Path, help="write the results and raw runs here")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "--ours-only", action="store_true", help="skip the official package even if installed"
    )
    args = parser.parse_args()

    have_theirs = importlib.util.find_spec("posthog") is not None and not args.ours_only
    settings = Settings(quick=args.quick, have_theirs=have_theirs, raw={})
    env = environment()
    print(
        f"{env['date']}  {env['cpu']} ({env['cores']} cores)  Python {env['python']}  "
        f"posthog_client {env['posthog_client']}  posthog {env['posthog'] or 'not installed'}  "
        f"load {env['load_average'][0]:.2f}",
        flush=True,
    )
    if not have_theirs:
        print("Measuring posthog_client only (`posthog` is not installed, or --ours-only).")
    rows: list[Row] = []
    started = time.monotonic()
    for name in args.only or SCENARIOS:
        _log(f"[{name}]")
        began = time.monotonic()
        rows += BENCHES[name](settings)
        _log(f"  ({time.monotonic() - began:.0f} s)")
    env["seconds"] = round(time.monotonic() - started, 1)
    env["load_average_end"] = os.getloadavg()
    print(flush=True)
    print(text_table(rows))
    print(f"\nratio = posthog_client / posthog; total {env['seconds']:.0f} s", flush=True)
    if args.markdown:
        print()
        print(markdown_table(rows))
    if args.json:
        document = {
            "environment": env,
            "rows": [{**asdict(r), "ratio": r.ratio, "verdict": r.verdict} for r in rows],
            "raw": settings.raw,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
