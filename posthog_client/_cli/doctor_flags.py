"""``doctor``'s flag checks: the personal key, the definitions it loads, and which flags can
never be evaluated locally (whatever a call passes)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._config import check_key
from .._delivery.transport import DEFINITIONS_PATH, Transport
from .._errors import ConfigError, redact
from .._flags.evaluation import evaluate_flags
from .._flags.model import Decided, Definitions, EvalContext
from .._flags.parse import DefinitionsError, parse_definitions
from .common import DOCTOR_ID, REFUSED, UNREACHABLE, Check

if TYPE_CHECKING:
    from .common import Settings

SERVER_ONLY = frozenset(
    (
        "experience_continuity",
        "static_cohort",
        "unsupported_definition",
        "unresolved_dependency",
        "unknown_group_type",
    )
)


def personal_key(
    settings: Settings, transport: Transport, state: str, secrets: tuple[str, ...]
) -> Iterator[Check]:
    key = settings.personal_api_key
    if not key:
        yield Check(
            "info",
            "No POSTHOG_PERSONAL_API_KEY: every flag check asks the server (one request each).",
            "To evaluate flags locally in microseconds, create a personal API key with "
            "feature flag read access (Settings → Personal API keys) and set "
            "POSTHOG_PERSONAL_API_KEY.",
        )
        return
    try:
        check_key("POSTHOG_PERSONAL_API_KEY", key)
    except ConfigError as exc:
        yield Check("fail", f"POSTHOG_PERSONAL_API_KEY is not a usable key: {exc}.")
        return
    if key.startswith("phc_"):
        yield Check(
            "fail",
            "POSTHOG_PERSONAL_API_KEY is a project key (phc_...), not a personal API key.",
            "Create a personal API key (Settings → Personal API keys; they start with phx_).",
        )
        return
    if state == UNREACHABLE:
        yield Check("skip", "Personal API key not checked: the host cannot be reached.")
        return
    started = time.monotonic()
    result = transport.get(
        DEFINITIONS_PATH,
        params={"token": settings.api_key, "send_cohorts": ""},
        headers={"Authorization": f"Bearer {key}"},
        deadline=settings.timeout,
    )
    elapsed = (time.monotonic() - started) * 1000
    detail = redact(result.describe(), secrets)
    if result.status in (401, 403):
        yield Check(
            "fail",
            f"The personal API key was refused ({result.status}) by {DEFINITIONS_PATH}: flags "
            "cannot be evaluated locally, every check goes to the server.",
            (
                "Fix the project API key first: the definitions are asked for its project. "
                if state == REFUSED
                else ""
            )
            + "Check that the key is current (not revoked), has feature flag read access, and "
            "belongs to the organization that owns the project of POSTHOG_API_KEY.",
        )
        return
    if result.status == 402:
        yield Check(
            "fail",
            "Flag definitions are over quota (402): local evaluation is off.",
            "See Billing in PostHog.",
        )
        return
    if not result.ok:
        yield Check(
            "fail",
            f"Flag definitions could not be loaded: {detail}.",
            "Try again; a self-hosted PostHog may need an upgrade to serve /flags/definitions.",
        )
        return
    try:
        defs = parse_definitions(json.loads(result.body))
    except (ValueError, DefinitionsError) as exc:
        yield Check("fail", f"Flag definitions were malformed: {exc}.")
        return
    yield Check(
        "ok",
        f"The personal API key was accepted: {len(defs.flags)} flag definition(s) loaded "
        f"in {elapsed:.0f} ms.",
    )
    yield from _local_coverage(defs)


def _local_coverage(defs: Definitions) -> Iterator[Check]:
    """Which flags can never be evaluated locally, and which need properties from the call."""
    now = dt.datetime.now(dt.timezone.utc)
    outcomes = evaluate_flags(defs, EvalContext(DOCTOR_ID), now)
    server_only: list[str] = []
    needs_input = 0
    for key, outcome in outcomes.items():
        if isinstance(outcome, Decided):
            continue
        if outcome.reason.value in SERVER_ONLY:
            server_only.append(f"{key} ({outcome.detail})")
        else:
            needs_input += 1
    if server_only:
        listed = "; ".join(server_only[:10]) + ("; …" if len(server_only) > 10 else "")
        yield Check(
            "info",
            f"{len(server_only)} flag(s) can never be evaluated locally and always cost a "
            f"request to the server: {listed}.",
        )
    if needs_input:
        yield Check(
            "info",
            f"{needs_input} flag(s) are evaluated locally only when the call passes the person "
            "or group properties (or device_id) their conditions use.",
        )
    if defs.problems:
        yield Check(
            "warn",
            f"{len(defs.problems)} part(s) of the definitions cannot be used locally: "
            + "; ".join(defs.problems[:5]),
            "Upgrade posthog-client if the definitions use newer features.",
        )
