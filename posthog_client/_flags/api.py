"""The public flag methods of ``Client``, bound onto it in ``_client`` (thin: each validates
nothing itself and asks the client's ``FlagService``). Every one never raises: a bad call logs one
line and returns a neutral value."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .._runtime.guard import guard
from .._types import FlagResult, FlagValue
from .snapshot import FeatureFlagEvaluations

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from typing_extensions import Unpack

    from .._client import Client
    from .query import FlagOptions

logger = logging.getLogger("posthog_client")


def _default(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return kwargs.get("default")


@guard(None, fallback=_default)
def feature_enabled(
    self: Client,
    key: str,
    distinct_id: str | int | None = None,
    *,
    default: bool | None = None,
    **options: Unpack[FlagOptions],
) -> bool | None:
    """True when flag ``key`` is on (any variant counts); ``default`` when unknown.

    Options (every flag method takes them): ``groups``, ``person_properties``,
    ``group_properties``, ``only_evaluate_locally``, ``send_feature_flag_events`` (default
    True), ``device_id``, ``disable_geoip``. Local evaluation (with ``personal_api_key``) is
    tried first; the server is asked only when it cannot decide, unless
    ``only_evaluate_locally``.
    """
    value = self._flags.value(key, distinct_id, options)
    return default if value is None else value is not False


@guard(None)
def get_feature_flag(
    self: Client, key: str, distinct_id: str | int | None = None, **options: Unpack[FlagOptions]
) -> FlagValue | None:
    """The flag's value: True/False, the variant key, or None when it could not be told."""
    return self._flags.value(key, distinct_id, options)


@guard(None)
def get_feature_flag_result(
    self: Client, key: str, distinct_id: str | int | None = None, **options: Unpack[FlagOptions]
) -> FlagResult | None:
    """Value, payload, reason, and where the flag was decided; None on a bad call."""
    return self._flags.result(key, distinct_id, options)


@guard(None)
def get_feature_flag_payload(
    self: Client,
    key: str,
    distinct_id: str | int | None = None,
    *,
    match_value: FlagValue | None = None,
    **options: Unpack[FlagOptions],
) -> Any:
    """The decoded JSON payload of the flag's value for this user, or None.

    With ``match_value`` (a value you already evaluated), the payload of that value is read
    from the local definitions without evaluating again or sending an event; without
    definitions the flag is evaluated and the payload returned only if the value matches.
    """
    return self._flags.payload(key, distinct_id, match_value, options)


@guard({})
def get_all_flags(
    self: Client,
    distinct_id: str | int | None = None,
    *,
    flag_keys_to_evaluate: list[str] | None = None,
    **options: Unpack[FlagOptions],
) -> dict[str, FlagValue]:
    """Every flag's value for this user (only ``flag_keys_to_evaluate``, when given): local
    first, one remote call for the rest."""
    results = self._flags.all(distinct_id, options, flag_keys_to_evaluate)
    return {key: answer.value for key, answer in results.items()}


@guard({"featureFlags": {}, "featureFlagPayloads": {}})
def get_all_flags_and_payloads(
    self: Client,
    distinct_id: str | int | None = None,
    *,
    flag_keys_to_evaluate: list[str] | None = None,
    **options: Unpack[FlagOptions],
) -> dict[str, dict[str, Any]]:
    """``{"featureFlags": {key: value}, "featureFlagPayloads": {key: decoded payload}}``, the
    official SDK's shape (its payloads are JSON text; these are decoded)."""
    from .remote import decode_payload

    results = self._flags.all(distinct_id, options, flag_keys_to_evaluate)
    return {
        "featureFlags": {key: answer.value for key, answer in results.items()},
        "featureFlagPayloads": {
            key: decode_payload(answer.payload)
            for key, answer in results.items()
            if answer.value is not False and answer.payload is not None
        },
    }


@guard(FeatureFlagEvaluations.empty())
def evaluate_flags(
    self: Client,
    distinct_id: str | int | None = None,
    *,
    groups: Mapping[str, str | int] | None = None,
    person_properties: Mapping[str, Any] | None = None,
    group_properties: Mapping[str, Mapping[str, Any]] | None = None,
    flag_keys: Iterable[str] | None = None,
    only_evaluate_locally: bool = False,
    disable_geoip: bool | None = None,
    device_id: str | None = None,
) -> FeatureFlagEvaluations:
    """Evaluate the flags of one person once, for a whole request: a ``FeatureFlagEvaluations``
    snapshot to branch on (``is_enabled``, ``get_flag``, ``get_flag_payload``) and to pass to
    ``capture(..., flags=snapshot)``.

    Local evaluation first; then at most one ``/flags`` call (within ``flags_timeout``) for
    everything it could not decide, none when everything was decided locally or with
    ``only_evaluate_locally``. Local values win over the server's. ``flag_keys`` limits the
    evaluation (and the request) to those flags; ``[]`` evaluates nothing. Nothing is sent at
    evaluation time: each flag's ``$feature_flag_called`` goes out when it is first read.
    Inside a request context the distinct id may be left out.
    """
    options: dict[str, Any] = {
        "groups": groups,
        "person_properties": person_properties,
        "group_properties": group_properties,
        "only_evaluate_locally": only_evaluate_locally,
        "disable_geoip": disable_geoip,
        "device_id": device_id,
    }
    return self._flags.evaluate(distinct_id, options, flag_keys)


@guard({})
def explain_flags(
    self: Client, distinct_id: str | int | None = None, **options: Unpack[FlagOptions]
) -> dict[str, FlagResult]:
    """Every flag's result for this user and why: where it was decided, and for flags local
    evaluation could not decide, ``unresolved`` and ``unresolved_detail`` (what to pass or
    fix). Local first, one remote call for the rest; sends no ``$feature_flag_called``."""
    return self._flags.explain(distinct_id, options)


@guard(False)
def load_feature_flags(self: Client) -> bool:
    """Fetch flag definitions now (bounded) and keep them fresh; True when loaded.

    Needs ``personal_api_key``. Optional: the poller starts with the client anyway.
    """
    return self._flags.load()
