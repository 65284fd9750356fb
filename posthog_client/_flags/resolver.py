"""Flag resolution: local evaluation first, the remote ``/flags`` endpoint only when local
evaluation cannot decide (one call at most per method call), and the reads reported through
``FlagEvents`` (``$feature_flag_called``, ``$experiment_exposure``)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any, Protocol, cast

from .._config import Config
from .._delivery.transport import HTTPResult, Transport
from .._runtime import lifecycle as _lifecycle
from .._runtime.logs import RateLimitedLog
from .._types import FlagResult, FlagValue
from . import remote as _remote
from .evaluation import evaluate_flag, evaluate_flags
from .model import EMPTY_DEFINITIONS, Decided, Definitions, Undecided
from .poller import DefinitionsPoller
from .query import Query
from .reporting import Emit, FlagEvents
from .results import assemble, local_result, remote_result, unresolved_result, with_unresolved
from .snapshot import Entry, FeatureFlagEvaluations

logger = logging.getLogger("posthog_client")

_RETRY_DELAY = 0.3


class Answer(Protocol):
    """A flag's answer for ``get_all_flags``: a local ``Decided`` or the server's record."""

    @property
    def value(self) -> FlagValue: ...

    @property
    def payload(self) -> str | None: ...


class FlagResolver:
    def __init__(
        self, config: Config, transport: Transport, poller: DefinitionsPoller | None, emit: Emit
    ) -> None:
        self._config = config
        self._transport = transport
        self._poller = poller
        self.events = FlagEvents(emit, lambda: self.definitions(wait=False))
        self._log = RateLimitedLog()
        _lifecycle.on_fork(self)

    def reset_after_fork(self) -> None:
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
        which builds no result object when the flag is decided locally (and reads the snapshot
        without a call while it is loaded). benchmarks: get_feature_flag evals/s"""
        poller = self._poller
        defs = poller.snapshot if poller is not None else EMPTY_DEFINITIONS
        if not defs.loaded:  # not loaded yet: wait for it (bounded) as everywhere else
            defs = self.definitions()
        outcome = evaluate_flag(defs, key, query.ctx, _now)
        if isinstance(outcome, Decided):
            if send_event:
                self.events.report_local(outcome, query)
            return outcome.value
        result, record, evaluated_at = self._undecided(key, query, outcome)
        if send_event:
            self.events.report(query, result, record, evaluated_at)
        return result.value

    def resolve(self, key: str, query: Query, send_event: bool) -> FlagResult | None:
        """The flag's result; None for a flag that exists nowhere (PostHog's sdk-specs
        `get-feature-flag-result.feature`), with the diagnosis in the debug log."""
        defs = self.definitions()
        outcome = evaluate_flag(defs, key, query.ctx, _now)
        if isinstance(outcome, Decided):
            result = local_result(outcome)
            if send_event:
                self.events.report(query, result)
        else:
            result, record, evaluated_at = self._undecided(key, query, outcome)
            if send_event:
                self.events.report(query, result, record, evaluated_at)
        if result.value is None and _missing_everywhere(result, outcome):
            logger.debug("posthog_client: flag %r: %s", key, result.reason)
            return None
        return result

    def _undecided(
        self, key: str, query: Query, outcome: Undecided
    ) -> tuple[FlagResult, _remote.RemoteFlag | None, int | None]:
        """The server's answer for a flag local evaluation left undecided, the record it came
        from, and when the server evaluated it."""
        unresolved = outcome.reason.value
        logger.debug(
            "posthog_client: flag %r not decided locally (%s: %s)%s",
            key,
            outcome.reason.value,
            outcome.detail,
            "" if query.only_evaluate_locally else "; asking the server",
        )
        if query.only_evaluate_locally:
            reason = f"not evaluated locally: {outcome.detail}"
            return FlagResult(key, None, reason=reason, unresolved=unresolved), None, None
        remote, error = self.fetch_remote(query, [key])
        if remote is None:
            result = FlagResult(key, None, reason=error, error=error, unresolved=unresolved)
            return result, None, None
        record = remote.flags.get(key)
        errors = ["errors_while_computing_flags"] if remote.errors_while_computing else []
        if record is None:
            errors.append("flag_missing")
            result = FlagResult(
                key,
                None,
                reason="not in the server's answer",
                request_id=remote.request_id,
                error=",".join(errors),
                unresolved=unresolved,
            )
            return result, None, remote.evaluated_at
        error = ",".join(errors) or None
        result = remote_result(key, record, remote.request_id, error, unresolved)
        return result, record, remote.evaluated_at

    # -- all flags ---------------------------------------------------------------------------------

    def resolve_all(self, query: Query) -> dict[str, Answer]:
        """Every flag's answer (its ``value`` and raw JSON ``payload``): local first, then at
        most one remote call for the flags local evaluation could not decide."""
        defs = self.definitions()
        results: dict[str, Answer] = {}
        undecided: list[str] = []
        if defs.loaded:
            outcomes = evaluate_flags(defs, query.ctx, _now)
            undecided = [key for key, outcome in outcomes.items() if type(outcome) is Undecided]
            if undecided:
                results = {k: o for k, o in outcomes.items() if isinstance(o, Decided)}
            else:  # every outcome is a Decided: the outcomes are the answers, as they are
                results = cast("dict[str, Answer]", outcomes)  # benchmarks: get_all_flags
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
            if not record.failed:
                results.setdefault(key, record)
        return results

    def evaluate(self, query: Query, flag_keys: list[str] | None) -> FeatureFlagEvaluations:
        """One snapshot (``evaluate_flags``): local first; then, unless only local, one
        ``/flags`` call scoped to ``flag_keys`` (None: all flags) when a flag is undecided, a
        requested key has no local definition, or there are no definitions. No events."""
        defs = self.definitions()
        local: dict[str, Entry] = {}
        undecided: dict[str, Undecided] = {}
        if defs.loaded or flag_keys is not None:
            for key, outcome in evaluate_flags(defs, query.ctx, _now, flag_keys).items():
                if isinstance(outcome, Decided):
                    local[key] = Entry(local_result(outcome))
                else:
                    undecided[key] = outcome
        remote, error = None, None
        if not query.only_evaluate_locally and (undecided or not defs.loaded):
            remote, error = self.fetch_remote(query, flag_keys)
        return assemble(self.events, query, flag_keys, local, undecided, remote, error)

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
        path = _remote.FLAGS_REQUEST_PATH
        result = self._transport.post_json(path, body, deadline=config.flags_timeout)
        if _worth_retry(result):
            left = deadline - time.monotonic() - _RETRY_DELAY
            if left > 0.05:
                time.sleep(_RETRY_DELAY)
                result = self._transport.post_json(path, body, deadline=left)
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
        self.events.note_answer(parsed)
        return parsed, None

    # -- enrichment of ordinary events, and explaining every flag -------------------------------

    def enrichment(self, query: Query, wait: bool = True) -> dict[str, Any] | None:
        """``$feature/<key>`` and ``$active_feature_flags`` for ``send_feature_flags=True``:
        local only when definitions are loaded (undecided flags are left out); one remote call
        otherwise, unless ``wait`` is False, when None means "not known without waiting"."""
        defs = self.definitions(wait=wait)
        values: dict[str, FlagValue] = {}
        if defs.loaded:
            for key, outcome in evaluate_flags(defs, query.ctx, _now).items():
                if isinstance(outcome, Decided):
                    values[key] = outcome.value
        elif not wait:
            return None
        elif not query.only_evaluate_locally:
            remote, _error = self.fetch_remote(query, None)
            if remote is not None:
                values = {k: r.value for k, r in remote.flags.items() if not r.failed}
        props: dict[str, Any] = {f"$feature/{key}": value for key, value in values.items()}
        props["$active_feature_flags"] = sorted(k for k, v in values.items() if v is not False)
        return props

    def explain(self, query: Query) -> dict[str, FlagResult]:
        """Every flag's result and why: local first, then one remote call for the undecided
        ones (unless only local). Sends no ``$feature_flag_called`` events."""
        defs = self.definitions()
        results: dict[str, FlagResult] = {}
        undecided: dict[str, Undecided] = {}
        for key, outcome in evaluate_flags(defs, query.ctx, _now).items():
            if isinstance(outcome, Decided):
                results[key] = local_result(outcome)
            else:
                undecided[key] = outcome
                results[key] = unresolved_result(outcome)
        if query.only_evaluate_locally or (defs.loaded and not undecided):
            return results
        remote, error = self.fetch_remote(query, list(undecided) if defs.loaded else None)
        keys = undecided if defs.loaded else (remote.flags if remote is not None else {})
        for key in keys:
            why = undecided.get(key)
            record = remote.flags.get(key) if remote is not None else None
            if record is None:
                missing = "flag_missing" if remote is not None else error
                results[key] = unresolved_result(why, key, missing)
            else:
                results[key] = remote_result(key, record, remote.request_id if remote else None)
                if why is not None:
                    results[key] = with_unresolved(results[key], why)
        return results


def _missing_everywhere(result: FlagResult, outcome: Decided | Undecided) -> bool:
    """Unknown locally and, when the server was asked, unknown there too."""
    if not isinstance(outcome, Undecided):
        return False
    locally_unknown = outcome.reason.value in ("flag_not_found", "no_definitions")
    return locally_unknown and (result.error is None or "flag_missing" in result.error)


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


_UTC = dt.timezone.utc


def _now() -> dt.datetime:
    """The evaluator's clock: it reads it only for a date filter."""
    return dt.datetime.now(_UTC)
