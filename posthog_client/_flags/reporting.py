"""The flag events of a read: ``$feature_flag_called`` (the exposure PostHog counts) and, for
a config version 2 experiment split, ``$experiment_exposure``. Every read that sends events
comes here (the getters and the reads of an ``evaluate_flags()`` snapshot), so both are
deduplicated alike, in one bounded LRU per client."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from .._runtime import lifecycle as _lifecycle
from .._types import FlagResult, FlagValue
from .attribution import Attribution, attribution, exposure_properties
from .model import Decided, Definitions
from .query import Query
from .remote import RemoteFlag, RemoteFlags
from .results import local_result

_DEDUP_SIZE = 50_000

# Queue a flag event: (event, distinct_id, properties, groups, minimal). ``service`` makes it.
Emit = Callable[[str, str, dict[str, Any], Mapping[str, str] | None, bool], None]


class FlagEvents:
    def __init__(self, emit: Emit, definitions: Callable[[], Definitions]) -> None:
        self._emit = emit
        self._definitions = definitions  # never waits
        self._reported: dict[tuple[Any, ...], None] = {}
        self._lock = threading.Lock()
        # What the last remote answers said about minimal $feature_flag_called events.
        self._remote_minimal = False
        self._remote_experiments: dict[str, bool] = {}
        _lifecycle.on_fork(self)

    def reset_after_fork(self) -> None:
        """A lock another thread held at fork would never be released in the child."""
        self._lock = threading.Lock()

    def note_answer(self, answer: RemoteFlags) -> None:
        """Remember what a ``/flags`` answer says about minimal events and experiments."""
        self._remote_minimal = answer.minimal_flag_called_events
        for key, record in answer.flags.items():
            if record.has_experiment is not None and len(self._remote_experiments) < 10_000:
                self._remote_experiments[key] = record.has_experiment

    def forget(self) -> None:
        with self._lock:
            self._reported.clear()

    def _is_new(self, marker: tuple[Any, ...]) -> bool:
        """True the first time ``marker`` is seen; bounded memory. The read is lock-free (a
        dict lookup is atomic); only the insert takes the lock."""
        if marker in self._reported:
            return False
        with self._lock:
            if marker in self._reported:
                return False
            self._reported[marker] = None
            if len(self._reported) > _DEDUP_SIZE:
                del self._reported[next(iter(self._reported))]  # the oldest
        return True

    def report_local(self, outcome: Decided, query: Query) -> None:
        """The getters' hot path: builds the event only when it is new."""
        if self._is_new(_marker(query, outcome.key, outcome.value)):
            self._send(query, local_result(outcome), None, None, None)

    def report(
        self,
        query: Query,
        result: FlagResult,
        record: RemoteFlag | None = None,
        evaluated_at: int | None = None,
        has_experiment: bool | None = None,
    ) -> None:
        """One read of ``result``; ``record`` is the ``/flags`` record its value came from."""
        attr = attribution(record)
        marker = _marker(query, result.key, result.value)
        if attr is not None:  # equal-valued arms, successive experiments: each is reported
            marker += (2, *attr)
        new = self._is_new(marker)
        exposes = attr is not None and attr.variant_key is not None
        if not (new or exposes):
            return
        if has_experiment is None and record is not None:
            has_experiment = record.has_experiment
        props = self._send(query, result, has_experiment, evaluated_at, attr, new)
        if attr is not None and exposes:
            # Deduplicated on its own, and sent even when $feature_flag_called was not: the
            # value and the request are not part of it, so an assignment is one exposure.
            groups = tuple(sorted(query.groups.items()))
            exposure = ("x", query.distinct_id, result.key, groups, attr.rule_id, attr.variant_key)
            if self._is_new(exposure):
                props = exposure_properties(props, attr)
                groups_or_none = query.groups or None
                self._emit("$experiment_exposure", query.distinct_id, props, groups_or_none, False)

    def _send(
        self,
        query: Query,
        result: FlagResult,
        has_experiment: bool | None,
        evaluated_at: int | None,
        attr: Attribution | None,
        send: bool = True,
    ) -> dict[str, Any]:
        """Build ``$feature_flag_called`` (and queue it when ``send``); returns its properties."""
        minimal = self._minimal(result.key, has_experiment)
        props: dict[str, Any] = {
            "$feature_flag": result.key,
            "$feature_flag_response": result.value,
            "locally_evaluated": result.locally_evaluated,
        }
        if not minimal:
            props[f"$feature/{result.key}"] = result.value
        optional = {
            "$feature_flag_payload": result.payload,
            # A config version 2 record reports its reason code instead.
            "$feature_flag_reason": result.reason if attr is None else None,
            "$feature_flag_id": result.flag_id,
            "$feature_flag_version": result.flag_version,
            "$feature_flag_request_id": result.request_id,
            "$feature_flag_evaluated_at": None if result.locally_evaluated else evaluated_at,
            "$feature_flag_has_experiment": has_experiment,
            "$feature_flag_error": result.error,
        }
        props.update((k, v) for k, v in optional.items() if v is not None)
        if attr is not None:
            props.update(attr.called_properties())
        if send:
            groups = query.groups or None
            self._emit("$feature_flag_called", query.distinct_id, props, groups, minimal)
        return props

    def _minimal(self, key: str, has_experiment: bool | None) -> bool:
        """Whether the server asked for minimal exposure events, and ``key`` is known not to
        be part of an experiment (experiments always get the full event)."""
        defs = self._definitions()
        if not (defs.minimal_flag_called_events or self._remote_minimal):
            return False
        if has_experiment is not None:
            return not has_experiment
        flag = defs.flags.get(key)
        if flag is not None:
            return not flag.has_experiment
        return self._remote_experiments.get(key) is False


def _marker(query: Query, key: str, value: FlagValue | None) -> tuple[Any, ...]:
    groups = query.ctx.groups
    return (
        query.ctx.distinct_id,
        key,
        value,
        type(value) is bool,  # True and "true" are different responses
        tuple(sorted(groups.items())) if groups else (),
    )
