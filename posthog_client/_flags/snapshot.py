"""``FeatureFlagEvaluations``: every flag's value for one person, evaluated once
(``Client.evaluate_flags()``), then read as often as needed without another evaluation.

Pure apart from the one callback a read makes to report ``$feature_flag_called`` (through the
client's shared, deduplicated reporting), never at evaluation time.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from .._types import FlagResult, FlagValue

if TYPE_CHECKING:  # the engine is imported on first evaluation, not with the package
    from .query import Query
    from .remote import RemoteFlag

logger = logging.getLogger("posthog_client")


class Entry(NamedTuple):
    result: FlagResult
    record: RemoteFlag | None = None  # the /flags record a remote value came from
    has_experiment: bool | None = None


class Reporter(Protocol):
    def report(
        self,
        query: Query,
        result: FlagResult,
        record: RemoteFlag | None = None,
        evaluated_at: int | None = None,
        has_experiment: bool | None = None,
    ) -> None: ...


class FeatureFlagEvaluations:
    """The flags of one person at one moment, from ``Client.evaluate_flags()``.

    Branch on ``is_enabled()`` / ``get_flag()``, then pass the same object to
    ``capture(..., flags=snapshot)`` so the event carries exactly the values the code used.
    Values never change; reading one sends ``$feature_flag_called`` the first time (deduplicated
    like the getters), reading a payload sends nothing. ``explain(key)`` and ``results`` say why
    a flag has no value (``FlagResult.unresolved``/``unresolved_detail``), silently.
    """

    __slots__ = (
        "_reporter",
        "_query",
        "_values",
        "_failed",
        "_unresolved",
        "_request_id",
        "_evaluated_at",
        "_errors",
        "_remote_error",
        "_accessed",
        "_reported",
    )

    def __init__(
        self,
        reporter: Reporter | None,
        query: Query | None,
        values: Mapping[str, Entry],
        *,
        failed: Mapping[str, Entry] | None = None,
        unresolved: Mapping[str, FlagResult] | None = None,
        request_id: str | None = None,
        evaluated_at: int | None = None,
        errors: tuple[str, ...] = (),
        remote_error: str | None = None,
        accessed: Iterable[str] = (),
    ) -> None:
        """Internal: snapshots are made by ``Client.evaluate_flags()``."""
        self._reporter = reporter
        self._query = query
        self._values = MappingProxyType(dict(values))
        self._failed = MappingProxyType(dict(failed or {}))
        self._unresolved = MappingProxyType(dict(unresolved or {}))
        self._request_id = request_id
        self._evaluated_at = evaluated_at
        self._errors = errors  # every read reports these (errors_while_computing_flags, quota)
        self._remote_error = remote_error  # reported by reads of flags without a value
        self._accessed: set[str] = set(accessed)
        self._reported: dict[str, FlagResult] = {}  # what a read of each key reports

    @classmethod
    def empty(cls) -> FeatureFlagEvaluations:
        return cls(None, None, {})

    def __copy__(self) -> FeatureFlagEvaluations:
        """A snapshot never changes, so a copy shares its values (and copies what was read)."""
        return self._copy(self._values, self._failed, self._unresolved)

    def __deepcopy__(self, memo: dict[int, Any]) -> FeatureFlagEvaluations:
        return self.__copy__()

    # -- reads -----------------------------------------------------------------------------

    def is_enabled(
        self, key: str, default_value: bool = False, *, send_feature_flag_events: bool = True
    ) -> bool:
        """Whether the flag is on (any variant counts); ``default_value`` when this snapshot
        has no value for it. A flag that is off is ``False`` whatever the default."""
        entry = self._values.get(key)
        self._access(key, send_feature_flag_events)
        return default_value if entry is None else entry.result.enabled

    def get_flag(self, key: str, *, send_feature_flag_events: bool = True) -> FlagValue | None:
        """The flag's value: the variant key, ``True``, ``False``, or ``None`` when this
        snapshot has no value for it."""
        entry = self._values.get(key)
        self._access(key, send_feature_flag_events)
        return None if entry is None else entry.result.value

    def get_flag_payload(self, key: str) -> Any:
        """The decoded JSON payload of the flag's value, or None. Silent: no event, and it
        does not count as an access for ``only_accessed()``."""
        entry = self._values.get(key)
        return None if entry is None else entry.result.payload

    @property
    def keys(self) -> list[str]:
        """The keys of the flags that have a value in this snapshot."""
        return list(self._values)

    @property
    def distinct_id(self) -> str:
        """Who the flags were evaluated for (``""`` for an empty snapshot)."""
        return "" if self._query is None else self._query.distinct_id

    @property
    def unresolved_flags(self) -> Mapping[str, str]:
        """Flags local evaluation could not decide and the server did not answer, and why
        (``FlagResult.unresolved``: ``missing_property``, ``experience_continuity``, ...)."""
        return MappingProxyType(
            {key: result.unresolved or "" for key, result in self._unresolved.items()}
        )

    def explain(self, key: str) -> FlagResult:
        """The flag's full result, as a read would report it (value, payload, reason, where
        it was decided, errors, and ``unresolved``/``unresolved_detail`` when local evaluation
        could not decide). Silent: no event, not an access."""
        entry = self._values.get(key) or self._failed.get(key)
        result = entry.result if entry is not None else self._unresolved.get(key)
        if result is None:
            result = FlagResult(key, None, reason="not part of this evaluation")
        error = ",".join(self._read_errors(key)) or None
        return dataclasses.replace(result, error=error, request_id=self._request_id)

    @property
    def results(self) -> Mapping[str, FlagResult]:
        """``explain()`` of every flag this snapshot knows about, with or without a value."""
        known = {**self._unresolved, **self._failed, **self._values}
        return MappingProxyType({key: self.explain(key) for key in known})

    # -- narrowing ---------------------------------------------------------------------------

    def only_accessed(self) -> FeatureFlagEvaluations:
        """A copy with only the flags read so far with ``is_enabled()``/``get_flag()``. Empty
        when none was read yet (never all flags instead)."""
        accessed = self._accessed.copy()
        return self._narrowed(k for k in self._values if k in accessed)

    def only(self, keys: Iterable[str]) -> FeatureFlagEvaluations:
        """A copy with only these flags; keys this snapshot has no value for are left out,
        with a warning naming them."""
        wanted = list(keys)
        unknown = [k for k in wanted if k not in self._values]
        if unknown:
            logger.warning(
                "posthog_client: only(): not in this evaluation, left out: %s", ", ".join(unknown)
            )
        return self._narrowed(k for k in wanted if k in self._values)

    def _narrowed(self, keys: Iterable[str]) -> FeatureFlagEvaluations:
        kept = set(keys)
        values = {k: e for k, e in self._values.items() if k in kept}
        return self._copy(values, {k: e for k, e in self._failed.items() if k in kept}, None)

    def _copy(
        self,
        values: Mapping[str, Entry],
        failed: Mapping[str, Entry],
        unresolved: Mapping[str, FlagResult] | None,
    ) -> FeatureFlagEvaluations:
        return FeatureFlagEvaluations(
            self._reporter,
            self._query,
            values,
            failed=failed,
            unresolved=unresolved,
            request_id=self._request_id,
            evaluated_at=self._evaluated_at,
            errors=self._errors,
            remote_error=self._remote_error,
            accessed=self._accessed.copy(),  # the copy's reads do not mark the original
        )

    # -- internal ----------------------------------------------------------------------------

    def _capture_properties(self) -> dict[str, Any]:
        """``$feature/<key>`` of every flag with a value, and ``$active_feature_flags`` (sorted,
        left out when no flag is on), for ``capture(..., flags=snapshot)``."""
        props: dict[str, Any] = {f"$feature/{k}": e.result.value for k, e in self._values.items()}
        active = sorted(k for k, e in self._values.items() if e.result.enabled)
        if active:
            props["$active_feature_flags"] = active
        return props

    def _read_errors(self, key: str) -> list[str]:
        errors = list(self._errors)
        if key in self._failed:
            errors.append("evaluation_failed")
        if key in self._unresolved:
            errors.append("local_evaluation_inconclusive")
        elif key not in self._values and key not in self._failed:
            errors.append("flag_missing")
        if self._remote_error is not None and key not in self._values:
            errors.append(self._remote_error)
        return errors

    def _access(self, key: str, send_event: bool) -> None:
        self._accessed.add(key)
        reporter, query = self._reporter, self._query
        if not send_event or reporter is None or query is None:
            return
        result = self._reported.get(key)
        if result is None:
            result = self._reported[key] = self.explain(key)
        entry = self._values.get(key) or self._failed.get(key) or Entry(result)
        reporter.report(query, result, entry.record, self._evaluated_at, entry.has_experiment)

    def __repr__(self) -> str:
        values = {k: e.result.value for k, e in self._values.items()}
        return f"<FeatureFlagEvaluations distinct_id={self.distinct_id!r} flags={values!r}>"
