"""Flag resolution: local evaluation first, the remote ``/flags`` endpoint only when local
evaluation cannot decide, and ``$feature_flag_called`` events deduplicated in a bounded LRU."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .._config import Config
from .._delivery.transport import FLAGS_PATH, HTTPResult, Transport
from .._runtime import lifecycle as _lifecycle
from .._runtime.logs import RateLimitedLog
from .._types import FlagResult, FlagValue
from . import remote as _remote
from .evaluation import evaluate_flag, evaluate_flags
from .model import EMPTY_DEFINITIONS, Decided, Definitions, Undecided
from .poller import DefinitionsPoller
from .query import Query

logger = logging.getLogger("posthog_client")

_RETRY_DELAY = 0.3
_DEDUP_SIZE = 50_000

Emit = Callable[[str, dict[str, Any], Mapping[str, str] | None, bool], None]


class FlagResolver:
    def __init__(
        self, config: Config, transport: Transport, poller: DefinitionsPoller | None, emit: Emit
    ) -> None:
        self._config = config
        self._transport = transport
        self._poller = poller
        self._emit = emit
        self._reported: dict[tuple[Any, ...], None] = {}
        # What the last remote answers said about minimal $feature_flag_called events.
        self._remote_minimal = False
        self._remote_experiments: dict[str, bool] = {}
        self._reported_lock = threading.Lock()
        self._log = RateLimitedLog()
        _lifecycle.on_fork(self)

    def reset_after_fork(self) -> None:
        """A lock another thread held at fork would never be released in the child."""
        self._reported_lock = threading.Lock()
        self._log = RateLimitedLog()

    # -- definitions -----------------------------------------------------------------------------

    def definitions(self, wait: bool = True) -> Definitions:
        """The current snapshot; before the first load, wait for it at most ``flags_timeout``
        (``wait=False``: never wait)."""
        poller = self._poller
        if poller is None:
            return EMPTY_DEFINITIONS
        snapshot = poller.snapshot
        if not snapshot.loaded and wait:
            poller.wait_for_first_load(self._config.flags_timeout)
            snapshot = poller.snapshot
        return snapshot

    # -- one flag ----------------------------------------------------------------------------------

    def value(self, key: str, query: Query, send_event: bool) -> FlagValue | None:
        """The flag's value only: the hot path of ``feature_enabled``/``get_feature_flag``,
        which builds no result object when the flag is decided locally."""
        outcome = evaluate_flag(self.definitions(), key, query.ctx, _now())
        if isinstance(outcome, Decided):
            if send_event:
                self._report_local(outcome, query)
            return outcome.value
        result = self._undecided(key, query, outcome)
        if send_event:
            self._report(result, query)
        return result.value

    def resolve(self, key: str, query: Query, send_event: bool) -> FlagResult:
        outcome = evaluate_flag(self.definitions(), key, query.ctx, _now())
        if isinstance(outcome, Decided):
            result = _local_result(outcome)
        else:
            result = self._undecided(key, query, outcome)
        if send_event:
            self._report(result, query)
        return result

    def _undecided(self, key: str, query: Query, outcome: Undecided) -> FlagResult:
        logger.debug(
            "posthog_client: flag %r not decided locally (%s: %s)%s",
            key,
            outcome.reason.value,
            outcome.detail,
            "" if query.only_evaluate_locally else "; asking the server",
        )
        if query.only_evaluate_locally:
            return FlagResult(
                key,
                None,
                reason=f"not evaluated locally: {outcome.detail}",
                unresolved=outcome.reason.value,
            )
        return self._remote_one(key, query, outcome.reason.value)

    def _remote_one(self, key: str, query: Query, unresolved: str | None) -> FlagResult:
        remote, error = self.fetch_remote(query, [key])
        if remote is None:
            return FlagResult(key, None, reason=error, error=error, unresolved=unresolved)
        record = remote.flags.get(key)
        errors = ["errors_while_computing_flags"] if remote.errors_while_computing else []
        if record is None:
            errors.append("flag_missing")
            return FlagResult(
                key,
                None,
                reason="not in the server's answer",
                request_id=remote.request_id,
                error=",".join(errors),
                unresolved=unresolved,
            )
        return _remote_result(key, record, remote.request_id, ",".join(errors) or None, unresolved)

    # -- all flags ---------------------------------------------------------------------------------

    def resolve_all(self, query: Query) -> dict[str, tuple[FlagValue, str | None]]:
        """Every flag's (value, raw JSON payload): local first, then at most one remote call
        for the flags local evaluation could not decide."""
        defs = self.definitions()
        results: dict[str, tuple[FlagValue, str | None]] = {}
        undecided: list[str] = []
        if defs.loaded:
            for key, outcome in evaluate_flags(defs, query.ctx, _now()).items():
                if isinstance(outcome, Decided):
                    results[key] = (outcome.value, outcome.payload)
                else:
                    undecided.append(key)
        if query.only_evaluate_locally or (defs.loaded and not undecided):
            return results
        logger.debug(
            "posthog_client: asking the server for %s",
            f"{len(undecided)} flag(s) not decided locally"
            if defs.loaded
            else "every flag (no local definitions)",
        )
        remote, _error = self.fetch_remote(query, undecided if defs.loaded else None)
        if remote is None:
            return results  # what could be decided locally
        for key, record in remote.flags.items():
            results.setdefault(key, (record.value, record.payload))
        return results

    # -- remote ------------------------------------------------------------------------------------

    def fetch_remote(
        self, query: Query, keys: list[str] | None
    ) -> tuple[_remote.RemoteFlags | None, str | None]:
        """One ``/flags`` call: a single retry after 0.3 s on connection errors, timeouts, 502
        and 504, all within one ``flags_timeout`` deadline. Returns (answer, error code)."""
        config = self._config
        geoip = config.disable_geoip if query.disable_geoip is None else query.disable_geoip
        body = _remote.request_body(
            config.api_key,
            query.distinct_id,
            groups=query.groups,
            person_properties=query.ctx.person_properties,
            group_properties=query.ctx.group_properties,
            geoip_disable=geoip,
            flag_keys=keys,
            device_id=query.ctx.device_id,
        )
        deadline = time.monotonic() + config.flags_timeout
        result = self._transport.post_json(FLAGS_PATH, body, deadline=config.flags_timeout)
        if _worth_retry(result):
            left = deadline - time.monotonic() - _RETRY_DELAY
            if left > 0.05:
                time.sleep(_RETRY_DELAY)
                result = self._transport.post_json(FLAGS_PATH, body, deadline=left)
        error = _error_code(result)
        if error is not None:
            self._log.warning("remote", "remote flag evaluation failed (%s)", error)
            return None, error
        try:
            parsed = _remote.parse_response(json.loads(result.body))
        except ValueError:
            parsed = None
        if parsed is None:
            self._log.warning("remote", "remote flag evaluation gave an unreadable answer")
            return None, "unknown_error"
        if parsed.quota_limited:
            self._log.warning("quota", "feature flags are over quota; remote flags are off")
            return None, "quota_limited"
        self._remote_minimal = parsed.minimal_flag_called_events
        for key, record in parsed.flags.items():
            if record.has_experiment is not None and len(self._remote_experiments) < 10_000:
                self._remote_experiments[key] = record.has_experiment
        return parsed, None

    # -- $feature_flag_called --------------------------------------------------------------------

    def _is_new(self, query: Query, key: str, value: FlagValue | None) -> bool:
        """True the first time this (person, flag, value, groups) is seen; bounded memory.

        The read is lock-free (a dict lookup is atomic); only the insert takes the lock.
        """
        groups = query.ctx.groups
        marker = (
            query.ctx.distinct_id,
            key,
            value,
            type(value) is bool,  # True and "true" are different responses
            tuple(sorted(groups.items())) if groups else (),
        )
        if marker in self._reported:
            return False
        with self._reported_lock:
            if marker in self._reported:
                return False
            self._reported[marker] = None
            if len(self._reported) > _DEDUP_SIZE:
                del self._reported[next(iter(self._reported))]  # the oldest
        return True

    def _report_local(self, outcome: Decided, query: Query) -> None:
        if self._is_new(query, outcome.key, outcome.value):
            self._emit_called(query, _local_result(outcome))

    def report(self, result: FlagResult, query: Query) -> None:
        """Send ``$feature_flag_called`` for ``result`` (once per person, flag, value, groups)."""
        if self._is_new(query, result.key, result.value):
            self._emit_called(query, result)

    _report = report

    def _minimal(self, key: str) -> bool:
        """Whether the server asked for minimal exposure events, and ``key`` is known not to
        be part of an experiment (experiments always get the full event)."""
        poller = self._poller
        defs = poller.snapshot if poller is not None else EMPTY_DEFINITIONS
        if not (defs.minimal_flag_called_events or self._remote_minimal):
            return False
        flag = defs.flags.get(key)
        if flag is not None:
            return not flag.has_experiment
        return self._remote_experiments.get(key) is False

    def _emit_called(self, query: Query, result: FlagResult) -> None:
        minimal = self._minimal(result.key)
        props: dict[str, Any] = {
            "$feature_flag": result.key,
            "$feature_flag_response": result.value,
            "locally_evaluated": result.locally_evaluated,
        }
        if not minimal:
            props[f"$feature/{result.key}"] = result.value
        optional = {
            "$feature_flag_payload": result.payload,
            "$feature_flag_reason": result.reason,
            "$feature_flag_id": result.flag_id,
            "$feature_flag_version": result.flag_version,
            "$feature_flag_request_id": result.request_id,
            "$feature_flag_error": result.error,
        }
        props.update((k, v) for k, v in optional.items() if v is not None)
        self._emit(query.distinct_id, props, query.groups or None, minimal)

    def forget_reported(self) -> None:
        with self._reported_lock:
            self._reported.clear()

    # -- enrichment of ordinary events, and explaining every flag -------------------------------

    def enrichment(self, query: Query, wait: bool = True) -> dict[str, Any] | None:
        """``$feature/<key>`` and ``$active_feature_flags`` for ``send_feature_flags=True``:
        local only when definitions are loaded (undecided flags are left out); one remote call
        otherwise, unless ``wait`` is False, when None means "not known without waiting"."""
        defs = self.definitions(wait=wait)
        values: dict[str, FlagValue] = {}
        if defs.loaded:
            for key, outcome in evaluate_flags(defs, query.ctx, _now()).items():
                if isinstance(outcome, Decided):
                    values[key] = outcome.value
        elif not wait:
            return None
        elif not query.only_evaluate_locally:
            remote, _error = self.fetch_remote(query, None)
            if remote is not None:
                values = {key: record.value for key, record in remote.flags.items()}
        props: dict[str, Any] = {f"$feature/{key}": value for key, value in values.items()}
        props["$active_feature_flags"] = sorted(k for k, v in values.items() if v is not False)
        return props

    def explain(self, query: Query) -> dict[str, FlagResult]:
        """Every flag's result and why: local first, then one remote call for the undecided
        ones (unless only local). Sends no ``$feature_flag_called`` events."""
        defs = self.definitions()
        results: dict[str, FlagResult] = {}
        undecided: dict[str, Undecided] = {}
        for key, outcome in evaluate_flags(defs, query.ctx, _now()).items():
            if isinstance(outcome, Decided):
                results[key] = _local_result(outcome)
            else:
                undecided[key] = outcome
                results[key] = _unresolved_result(outcome)
        if query.only_evaluate_locally or (defs.loaded and not undecided):
            return results
        remote, error = self.fetch_remote(query, list(undecided) if defs.loaded else None)
        keys = undecided if defs.loaded else (remote.flags if remote is not None else {})
        for key in keys:
            why = undecided.get(key)
            record = remote.flags.get(key) if remote is not None else None
            if record is None:
                missing = "flag_missing" if remote is not None else error
                results[key] = _unresolved_result(why, key, missing)
            else:
                results[key] = _remote_result(key, record, remote.request_id if remote else None)
                if why is not None:
                    results[key] = _with_unresolved(results[key], why)
        return results


def _local_result(outcome: Decided) -> FlagResult:
    return FlagResult(
        outcome.key,
        outcome.value,
        payload=_remote.decode_payload(outcome.payload),
        reason=outcome.reason,
        locally_evaluated=True,
        flag_id=outcome.flag_id,
        flag_version=outcome.flag_version,
    )


def _unresolved_result(
    why: Undecided | None, key: str = "", error: str | None = None
) -> FlagResult:
    if why is None:
        return FlagResult(key, None, reason=error, error=error, unresolved="no_definitions")
    return FlagResult(
        why.key,
        None,
        reason=error or f"not evaluated locally: {why.detail}",
        error=error,
        unresolved=why.reason.value,
        unresolved_detail=why.detail,
    )


def _with_unresolved(result: FlagResult, why: Undecided) -> FlagResult:
    return dataclasses.replace(result, unresolved=why.reason.value, unresolved_detail=why.detail)


def _remote_result(
    key: str,
    record: _remote.RemoteFlag,
    request_id: str | None,
    error: str | None = None,
    unresolved: str | None = None,
) -> FlagResult:
    return FlagResult(
        key,
        record.value,
        payload=_remote.decode_payload(record.payload),
        reason=record.reason,
        flag_id=record.flag_id,
        flag_version=record.version,
        request_id=request_id,
        error=error,
        unresolved=unresolved,
    )


def _worth_retry(result: HTTPResult) -> bool:
    return result.status is None or result.status in (502, 504)


def _error_code(result: HTTPResult) -> str | None:
    if result.ok:
        return None
    if result.status is None:  # the transport's errors start with their kind ("timeout: ...")
        return "timeout" if (result.error or "").startswith("timeout") else "connection_error"
    if result.status == 402:
        return "quota_limited"
    return f"api_error_{result.status}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
