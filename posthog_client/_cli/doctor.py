"""``python -m posthog_client doctor``: check a setup and say in plain words what to fix.

Two harmless requests, each with the ``--timeout`` deadline: ``POST /flags/?v=2`` for a made-up
user (is the host PostHog, is the project key accepted) and, with a personal key,
``GET /flags/definitions`` (is the personal key accepted, what can be evaluated locally).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import json
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._config import check_key, normalize_host
from .._delivery.transport import DEFINITIONS_PATH, FLAGS_PATH, HTTPResult, Transport
from .._errors import ConfigError, redact
from .._flags.evaluation import evaluate_flags
from .._flags.model import Decided, Definitions, EvalContext
from .._flags.parse import DefinitionsError, parse_definitions
from .._flags.remote import parse_response, request_body

if TYPE_CHECKING:
    from .common import Settings

DOCTOR_ID = "posthog-client-doctor"
UNREACHABLE, REFUSED, ANSWERED = "unreachable", "refused", "answered"
MAX_CLOCK_SKEW = 60.0
# Why a flag can never be decided locally, whatever the call passes (else: a missing input).
SERVER_ONLY = frozenset(
    (
        "experience_continuity",
        "static_cohort",
        "unsupported_definition",
        "unresolved_dependency",
        "unknown_group_type",
    )
)
_MARKS = {"ok": "[ok]  ", "info": "[info]", "warn": "[warn]", "fail": "[FAIL]", "skip": "[skip]"}


@dataclasses.dataclass(frozen=True)
class Check:
    status: str  # ok, info, warn, fail, skip
    message: str
    fix: str | None = None


def doctor(settings: Settings) -> int:
    checks = list(_checks(settings))
    failures = sum(c.status == "fail" for c in checks)
    warnings = sum(c.status == "warn" for c in checks)
    if settings.json:
        settings.dump({"ok": failures == 0, "checks": [dataclasses.asdict(c) for c in checks]})
    else:
        for check in checks:
            settings.emit(f"{_MARKS.get(check.status, check.status)} {check.message}")
            if check.fix:
                label = "Fix" if check.status in ("fail", "warn") else "Tip"
                settings.emit(f"       {label}: {check.fix}")
        if failures or warnings:
            settings.emit(f"\n{failures} problem(s), {warnings} warning(s).")
        else:
            settings.emit("\nAll good.")
    return 1 if failures else 0


def _checks(settings: Settings) -> Iterator[Check]:
    key_check = _api_key(settings.api_key)
    yield key_check
    try:
        host = normalize_host(settings.host)
    except ConfigError as exc:
        yield Check("fail", f"The host {settings.host!r} is not usable: {exc}.", _HOST_FIX)
        return
    yield from _host(settings.host, host)
    transport = Transport(host, settings.session)
    secrets = (settings.api_key, settings.personal_api_key)
    try:
        state = yield from _flags_endpoint(settings, transport, host, key_check, secrets)
        yield from _personal_key(settings, transport, state, secrets)
    finally:
        transport.close()


_HOST_FIX = (
    "Set POSTHOG_HOST (or --host) to your PostHog host: https://us.i.posthog.com (US cloud), "
    "https://eu.i.posthog.com (EU cloud), or your own instance or proxy URL."
)


# What to do about a connection that failed, by the kind of failure the transport names.
_UNREACHABLE_FIXES = {
    "dns": "The host name does not resolve: check its spelling (POSTHOG_HOST or --host) and "
    "this machine's DNS.",
    "refused": "Nothing accepts connections there: check the port, and that the host (or your "
    "proxy) is running.",
    "tls": "The TLS handshake failed: check the URL's scheme and port, the host's certificate, "
    "and REQUESTS_CA_BUNDLE if a proxy re-signs traffic.",
    "timeout": "No answer in time: check any firewall or proxy between this machine and the "
    "host, or raise --timeout.",
}


def _unreachable_fix(detail: str) -> str:
    kind = detail.partition(":")[0]
    generic = (
        "Check the host name (POSTHOG_HOST or --host), DNS, and any proxy or firewall "
        "between this machine and the host."
    )
    return _UNREACHABLE_FIXES.get(kind, generic) + " " + _HOST_FIX


def _masked(key: str) -> str:
    return f"{key[:4]}…, {len(key)} characters"


def _api_key(key: str) -> Check:
    where = "Copy it from PostHog: Project settings → Project API key (it starts with phc_)."
    if not key:
        return Check("fail", "POSTHOG_API_KEY is not set.", f"Set it. {where}")
    try:
        check_key("POSTHOG_API_KEY", key)
    except ConfigError as exc:
        return Check("fail", f"POSTHOG_API_KEY is not a usable key: {exc}.", where)
    if key.startswith("phx_"):
        return Check(
            "fail",
            "POSTHOG_API_KEY is a personal API key (phx_...), not a project key.",
            f"Move it to POSTHOG_PERSONAL_API_KEY and set POSTHOG_API_KEY to the project key. "
            f"{where}",
        )
    if not key.startswith("phc_"):
        return Check(
            "warn",
            f"POSTHOG_API_KEY does not start with phc_ ({_masked(key)}).",
            "Project API keys start with phc_. If the host accepts it below, this is fine.",
        )
    return Check("ok", f"Project API key is set ({_masked(key)}).")


def _host(raw: str, host: str) -> Iterator[Check]:
    given = urlsplit(raw.strip() if "://" in raw else "https://" + raw.strip())
    final = urlsplit(host)
    if (given.hostname or "").lower() != final.hostname:
        yield Check(
            "info",
            f"{given.hostname} is PostHog's app (UI) host; events and flags go to its "
            f"ingestion host {final.hostname} instead (the SDK maps it automatically).",
            f"Set POSTHOG_HOST={host} to say so explicitly.",
        )
    loopback = final.hostname in ("localhost", "127.0.0.1", "::1")
    if final.scheme == "http" and not loopback:
        yield Check(
            "warn",
            f"{host} is plain http: keys and events travel unencrypted.",
            "Use https:// unless this is a proxy on a private network.",
        )
    yield Check("ok", f"Host: {host}")


def _flags_endpoint(
    settings: Settings,
    transport: Transport,
    host: str,
    key_check: Check,
    secrets: tuple[str, ...],
) -> Generator[Check, None, str]:
    """Yields checks; returns UNREACHABLE, REFUSED (the project key) or ANSWERED."""
    body = request_body(
        settings.api_key,
        DOCTOR_ID,
        groups={},
        person_properties={},
        group_properties={},
        geoip_disable=True,
        flag_keys=None,
        device_id=None,
    )
    started = time.monotonic()
    result = transport.post_json(FLAGS_PATH, body, deadline=settings.timeout)
    elapsed = (time.monotonic() - started) * 1000
    detail = redact(result.describe(), secrets)
    if result.status is None:
        yield Check("fail", f"Cannot reach {host}: {detail}.", _unreachable_fix(detail))
        return UNREACHABLE
    status = result.status
    if 300 <= status < 400:
        location = result.headers.get("Location", "another URL")
        yield Check(
            "fail",
            f"{host} redirects to {location}.",
            "Set POSTHOG_HOST to the final URL: the SDK never follows redirects, so that your "
            "keys are never re-sent to another host.",
        )
        return ANSWERED
    if status in (404, 405):
        yield Check(
            "fail",
            f"{host} answered {status} to {FLAGS_PATH}: it does not look like PostHog.",
            "Point POSTHOG_HOST at PostHog itself or at the path where your proxy forwards to "
            "it (a path prefix such as https://example.com/ingest is kept). " + _HOST_FIX,
        )
        return ANSWERED
    if status in (401, 403):
        if key_check.status != "fail":
            yield Check(
                "fail",
                f"The project API key was refused ({status}).",
                "Copy the project API key again (Project settings → Project API key), and "
                "check the host is your project's region: a US key is unknown to the EU "
                "cloud and the other way round.",
            )
        return REFUSED
    if status == 402:
        yield Check("warn", "Feature flags are over quota (402).", "See Billing in PostHog.")
        return ANSWERED
    if status == 429:
        yield Check("warn", f"{host} rate-limited the check (429).", "Try again in a minute.")
        return ANSWERED
    if not result.ok:
        yield Check(
            "fail",
            f"{host} answered {detail}.",
            "A server error: try again; if it stays, check PostHog's status page or your proxy.",
        )
        return ANSWERED
    try:
        answer = parse_response(json.loads(result.body))
    except ValueError:
        answer = None
    if answer is None:
        yield Check(
            "fail",
            f"{host} answered {status}, but not like PostHog ({detail}).",
            "Something other than PostHog answers at this URL (a proxy page, a captive portal). "
            + _HOST_FIX,
        )
        return ANSWERED
    yield Check("ok", f"{host} answered like PostHog in {elapsed:.0f} ms.")
    if key_check.status != "fail":
        yield Check("ok", "The project API key was accepted.")
    if answer.quota_limited:
        yield Check(
            "warn",
            "Feature flags are over quota: flags evaluate to nothing until the quota resets.",
            "See Billing in PostHog.",
        )
    yield from _clock(result)
    return ANSWERED


def _clock(result: HTTPResult) -> Iterator[Check]:
    date = result.headers.get("Date")
    if not date:
        return
    try:
        server = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return
    if server.tzinfo is None:
        return
    skew = (dt.datetime.now(dt.timezone.utc) - server).total_seconds()
    if abs(skew) > MAX_CLOCK_SKEW:
        yield Check(
            "warn",
            f"This machine's clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} "
            "the server's.",
            "Enable NTP: event timestamps come from this clock.",
        )


def _personal_key(
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
