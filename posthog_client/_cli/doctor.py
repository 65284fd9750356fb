"""``python -m posthog_client doctor``: check a setup and say in plain words what to fix.

Two harmless requests, each with the ``--timeout`` deadline: ``POST /flags/?v=2`` for a made-up
user (is the host PostHog, is the project key accepted) and, with a personal key,
``GET /flags/definitions`` (is the personal key accepted, what can be evaluated locally). With
``--store`` (or ``POSTHOG_DEFINITIONS_STORE``), the definitions store is read (never written).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email.utils
import json
import os
import sqlite3
import stat
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._config import check_key, normalize_host
from .._delivery.encoding import encode
from .._delivery.sender import SDK_INFO
from .._delivery.spool import SCHEMA
from .._delivery.transport import (
    CAPTURE_V1_PATH,
    FLAGS_PATH,
    HTTPResult,
    Transport,
)
from .._delivery.wire import new_request_id, v1_headers
from .._errors import ConfigError, redact
from .._flags.remote import parse_response, request_body
from .common import ANSWERED, DOCTOR_ID, REFUSED, UNREACHABLE, Check
from .doctor_flags import personal_key

if TYPE_CHECKING:
    from .common import Settings

MAX_CLOCK_SKEW = 60.0
# Why a flag can never be decided locally, whatever the call passes (else: a missing input).
_MARKS = {"ok": "[ok]  ", "info": "[info]", "warn": "[warn]", "fail": "[FAIL]", "skip": "[skip]"}


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
    if settings.spool:
        yield _spool(settings.spool)
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
        if state == ANSWERED:
            yield _capture_endpoint(settings, transport, host)
        yield from personal_key(settings, transport, state, secrets)
    finally:
        transport.close()
    from .store_check import store_checks

    for status, message, fix in store_checks(settings):
        yield Check(status, message, fix)


def _spool(path: str) -> Check:
    """A spool file: readable, private, and what it holds (never modified here)."""
    if not os.path.exists(path):
        return Check("ok", f"Spool {path}: no file (nothing was ever spooled, or all was sent).")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            schema = dict(conn.execute("SELECT key, value FROM meta").fetchall()).get("schema")
            count, size, oldest = conn.execute(
                "SELECT COALESCE(SUM(count), 0), COALESCE(SUM(bytes), 0), MIN(written) FROM batches"
            ).fetchone()
    except sqlite3.Error as exc:
        return Check(
            "fail",
            f"Spool {path} cannot be read as a spool ({exc}).",
            "The SDK moves such a file aside and starts a new one; remove it if it is not "
            "posthog-client's.",
        )
    if schema != SCHEMA:
        return Check("warn", f"Spool {path} was written by another version ({schema}).")
    age = f", the oldest {time.time() - oldest:.0f} s old" if oldest else ""
    message = f"Spool {path}: {count} event(s), {size} bytes waiting{age}."
    if mode & 0o077:
        return Check("warn", message + f" Its mode is {mode:o}.", f"chmod 600 {path}")
    return Check("ok" if count == 0 else "info", message)


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


def _capture_endpoint(settings: Settings, transport: Transport, host: str) -> Check:
    """Does the host speak capture v1 (the default)? An empty batch tells without sending any
    event: PostHog refuses it (400) where the endpoint exists, 404s where it does not."""
    body = {"created_at": dt.datetime.now(dt.timezone.utc).isoformat(), "batch": []}
    headers = v1_headers(settings.api_key, SDK_INFO, 1, new_request_id(), time.time())
    result = transport.post(
        CAPTURE_V1_PATH, encode(body), deadline=settings.timeout, headers=headers
    )
    if result.status in (404, 405):
        return Check(
            "warn",
            f"{host} has no capture v1 endpoint ({CAPTURE_V1_PATH} answered {result.status}): "
            "an older self-hosted PostHog, or a proxy that does not forward it.",
            'Pass capture_mode="v0" to Client (events then go to /batch/), or forward '
            f"{CAPTURE_V1_PATH} in your proxy.",
        )
    if result.status is None:
        return Check("warn", f"Could not check capture v1 at {host}: {result.error}.")
    return Check("ok", f"{host} speaks capture v1 ({CAPTURE_V1_PATH}), the SDK's default.")


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
