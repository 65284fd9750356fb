"""``python -m posthog_client flags``: every flag's value for a user, where it was decided, and
why local evaluation could not decide when it could not (``Client.explain_flags``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from .._types import FlagResult
from .common import EXIT_FAILURE, EXIT_OK, Settings, UsageError, make_client

# -- flags -------------------------------------------------------------------------------------


@dataclasses.dataclass
class FlagRow:
    key: str
    value: Any = None
    payload: Any = None
    evaluated: str | None = None  # "locally", "remotely", or None: no value
    reason: str | None = None
    unresolved: str | None = None  # why local evaluation could not decide
    unresolved_detail: str | None = None


def flags(
    settings: Settings,
    distinct_id: str,
    person_properties: dict[str, Any],
    groups: dict[str, Any],
    local_only: bool,
) -> int:
    if local_only and not settings.personal_api_key:
        raise UsageError("--local-only needs POSTHOG_PERSONAL_API_KEY (a personal API key)")
    if not distinct_id.strip():
        raise UsageError("DISTINCT_ID is empty")
    client = make_client(
        settings, personal_api_key=settings.personal_api_key or None, poll_interval=3600.0
    )
    try:
        loaded = bool(settings.personal_api_key) and client.load_feature_flags()
        results = client.explain_flags(
            distinct_id,
            groups=groups,
            person_properties=person_properties,
            only_evaluate_locally=local_only,
        )
    finally:
        client.shutdown(timeout=1.0)
    rows = [_row(result) for result in results.values()]
    error = next((r.error for r in results.values() if r.error and r.value is None), None)
    if error is None and not results and not loaded and not local_only:
        error = "no answer (see the log above)"
    if settings.json:
        settings.dump(
            {
                "distinct_id": distinct_id,
                "definitions_loaded": loaded,
                "remote_error": error,
                "flags": [dataclasses.asdict(row) for row in rows],
            }
        )
    else:
        _print_flags(settings, rows, loaded, error)
    return EXIT_FAILURE if error else EXIT_OK


def _row(result: FlagResult) -> FlagRow:
    evaluated = None
    if result.value is not None:
        evaluated = "locally" if result.locally_evaluated else "remotely"
    unresolved = result.unresolved if result.unresolved != "no_definitions" else None
    return FlagRow(
        result.key,
        result.value,
        result.payload,
        evaluated,
        result.reason if evaluated else None,
        result.unresolved,
        result.unresolved_detail if unresolved else None,
    )


def _print_flags(settings: Settings, rows: list[FlagRow], loaded: bool, error: str | None) -> None:
    if settings.personal_api_key and not loaded:
        settings.emit(
            "Flag definitions could not be loaded, so every flag was asked of the server "
            "(run `python -m posthog_client doctor` to see why)."
        )
    elif not settings.personal_api_key:
        settings.emit(
            "No POSTHOG_PERSONAL_API_KEY: every flag is evaluated by the server. "
            "Set one to evaluate flags locally."
        )
    if error:
        settings.emit(f"The server could not evaluate flags: {error}.")
    if not rows:
        settings.emit("No feature flags.")
        return
    table = [("FLAG", "VALUE", "PAYLOAD", "EVALUATED", "REASON")]
    for row in rows:
        shown = "-" if row.value is None else json.dumps(row.value)
        payload = "-" if row.payload is None else _clip(json.dumps(row.payload, default=str), 30)
        reason = row.reason or ("not evaluated" if row.evaluated is None else "-")
        table.append((row.key, shown, payload, row.evaluated or "-", reason))
    settings.emit(render_table(table))
    pending = [row for row in rows if row.unresolved and row.unresolved != "no_definitions"]
    if pending:
        settings.emit("")
        settings.emit("Not decided locally:")
        for row in pending:
            settings.emit(f"  {row.key}: {row.unresolved} - {row.unresolved_detail}")


def render_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
