"""Pure: the public ``FlagResult`` of a flag, from a local outcome or a ``/flags`` record, and
the snapshot of one ``evaluate_flags()`` call assembled from them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .._types import FlagResult
from .model import Decided, Undecided
from .query import Query
from .remote import RemoteFlag, RemoteFlags, decode_payload
from .snapshot import Entry, FeatureFlagEvaluations, Reporter
from .unresolved import UnresolvedReason

# Reasons that mean "no local definition": such a flag is missing, not inconclusive.
_NOT_DEFINED = (UnresolvedReason.NO_DEFINITIONS, UnresolvedReason.FLAG_NOT_FOUND)


def local_result(outcome: Decided) -> FlagResult:
    return FlagResult(
        outcome.key,
        outcome.value,
        payload=decode_payload(outcome.payload),
        reason=outcome.reason,
        locally_evaluated=True,
        flag_id=outcome.flag_id,
        flag_version=outcome.flag_version,
    )


def remote_result(
    key: str,
    record: RemoteFlag,
    request_id: str | None,
    error: str | None = None,
    unresolved: str | None = None,
) -> FlagResult:
    """A record's result; a record the server marked failed has no value (``evaluation_failed``)."""
    if record.failed:
        error = ",".join(e for e in (error, "evaluation_failed") if e)
    return FlagResult(
        key,
        None if record.failed else record.value,
        payload=decode_payload(record.payload),
        reason=record.reason,
        flag_id=record.flag_id,
        flag_version=record.version,
        request_id=request_id,
        error=error,
        unresolved=unresolved,
    )


def unresolved_result(why: Undecided | None, key: str = "", error: str | None = None) -> FlagResult:
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


def with_unresolved(result: FlagResult, why: Undecided) -> FlagResult:
    return dataclasses.replace(result, unresolved=why.reason.value, unresolved_detail=why.detail)


def assemble(
    reporter: Reporter,
    query: Query,
    flag_keys: list[str] | None,
    local: Mapping[str, Entry],
    undecided: Mapping[str, Undecided],
    remote: RemoteFlags | None,
    error: str | None,
) -> FeatureFlagEvaluations:
    """The snapshot of one evaluation: local values win; the server's answer fills the flags
    local evaluation left undecided (within ``flag_keys`` when given). ``undecided`` maps keys
    to their ``Undecided`` outcome; ``error`` is the remote call's failure, if it failed."""
    values = dict(local)
    failed: dict[str, Entry] = {}
    if remote is not None:
        for key, record in remote.flags.items():
            if key in values or (flag_keys is not None and key not in flag_keys):
                continue
            result = remote_result(key, record, remote.request_id)
            why = undecided.get(key)
            if why is not None and why.reason not in _NOT_DEFINED:
                result = with_unresolved(result, why)
            (failed if record.failed else values)[key] = Entry(result, record)
    unresolved = {
        key: unresolved_result(why)
        for key, why in undecided.items()
        if why.reason not in _NOT_DEFINED and (key not in values)
    }
    errors: list[str] = []
    if remote is not None and remote.errors_while_computing:
        errors.append("errors_while_computing_flags")
    if error == "quota_limited":
        errors.append(error)
    return FeatureFlagEvaluations(
        reporter,
        query,
        values,
        failed=failed,
        unresolved=unresolved,
        request_id=remote.request_id if remote is not None else None,
        evaluated_at=remote.evaluated_at if remote is not None else None,
        errors=tuple(errors),
        remote_error=None if error == "quota_limited" else error,
    )
