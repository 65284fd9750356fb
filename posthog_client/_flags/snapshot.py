"""``evaluate_flags()``'s result: every flag of one person, evaluated once, read many times.

The official SDK's ``FeatureFlagEvaluations``, in this SDK's terms: reading a flag
(``is_enabled``, ``get_flag``) records the access and sends its ``$feature_flag_called`` event
(deduplicated as every flag check is); ``get_flag_payload`` is silent. ``capture(...,
flags=snapshot)`` attaches ``$feature/<key>`` and ``$active_feature_flags`` without asking the
server again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from .._types import FlagResult, FlagValue

Report = Callable[[FlagResult], None]


class FlagEvaluations:
    """The flags of one person at one moment (see ``Client.evaluate_flags``)."""

    __slots__ = ("_results", "_report", "_accessed")

    def __init__(
        self,
        results: Mapping[str, FlagResult],
        report: Report | None = None,
        accessed: Iterable[str] = (),
    ) -> None:
        self._results = MappingProxyType(
            {key: result for key, result in results.items() if result.value is not None}
        )
        self._report = report
        self._accessed = set(accessed)

    def __repr__(self) -> str:
        return f"<FlagEvaluations {len(self._results)} flag(s)>"

    @property
    def keys(self) -> list[str]:
        """The flags that have a value (a property, as in the official SDK)."""
        return list(self._results)

    def is_enabled(
        self, key: str, default_value: bool = False, *, send_feature_flag_events: bool = True
    ) -> bool:
        """True when the flag is on (any variant counts); ``default_value`` when unknown."""
        result = self._access(key, send_feature_flag_events)
        return default_value if result is None else result.enabled

    def get_flag(self, key: str, *, send_feature_flag_events: bool = True) -> FlagValue | None:
        """The flag's value (True/False or the variant key); None when unknown."""
        result = self._access(key, send_feature_flag_events)
        return None if result is None else result.value

    def get_flag_payload(self, key: str) -> Any:
        """The decoded payload of the flag's value, or None; records nothing, sends nothing."""
        result = self._results.get(key)
        return None if result is None else result.payload

    def result(self, key: str) -> FlagResult | None:
        """The whole ``FlagResult`` (reason, where it was decided, ...); records nothing."""
        return self._results.get(key)

    def only_accessed(self) -> FlagEvaluations:
        """The flags read so far (none read: an empty snapshot)."""
        kept = {k: r for k, r in self._results.items() if k in self._accessed}
        return FlagEvaluations(kept, self._report, self._accessed)

    def only(self, keys: Iterable[str]) -> FlagEvaluations:
        """These flags only (unknown keys are left out)."""
        wanted = set(keys)
        kept = {k: r for k, r in self._results.items() if k in wanted}
        return FlagEvaluations(kept, self._report, self._accessed & wanted)

    def _access(self, key: str, send: bool) -> FlagResult | None:
        self._accessed.add(key)
        result = self._results.get(key)
        if send and self._report is not None:
            self._report(FlagResult(key, None, error="flag_missing") if result is None else result)
        return result

    def _capture_properties(self) -> dict[str, Any]:
        """What ``capture(..., flags=snapshot)`` attaches (under the caller's properties)."""
        props: dict[str, Any] = {f"$feature/{k}": r.value for k, r in self._results.items()}
        active = sorted(k for k, r in self._results.items() if r.enabled)
        if active:
            props["$active_feature_flags"] = active
        return props
