"""The flags file of the standalone fake server: a short format, or PostHog's own definitions.

The short format is a JSON object of flag key to what the flag does::

    {
      "beta": true,                                  // on for everyone
      "old-thing": false,                            // inactive
      "new-checkout": 50,                            // rolled out to 50% of users
      "pricing": {"variants": {"control": 50, "test": 50},
                  "payload": {"test": {"price": 9}}},
      "banner": {"rollout": 100, "payload": {"text": "hi"}},
      "company-beta": {"rollout": 100, "group_type": "company"}
    }

An object takes ``rollout`` (0 to 100, default 100), ``variants`` (variant key to percentage),
``payload`` (the payload of ``true``, or variant key to payload), ``active`` and ``group_type``,
as ``FakePostHog.set_flag`` does. A file whose ``flags`` is a list is PostHog's definitions
(what ``GET /flags/definitions`` answers) and is served as it is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._flags.parse import parse_definitions

if TYPE_CHECKING:
    from ._fake import FakePostHog

_FIELDS = frozenset(("rollout", "variants", "payload", "active", "group_type"))
_KNOWN = ", ".join(sorted(_FIELDS))


class FlagFileError(ValueError):
    """The flags file cannot be used; the message is one line that says why."""


def load(path: str) -> Any:
    """The parsed JSON of ``path``; ``FlagFileError`` when it cannot be read or parsed."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise FlagFileError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise FlagFileError(f"{path}: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FlagFileError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def apply(fake: FakePostHog, data: Any, path: str = "flags file") -> tuple[int, tuple[str, ...]]:
    """Give ``fake`` the flags of ``data`` (either format). Returns how many flags, and what
    in PostHog's definitions cannot be evaluated (served anyway, as PostHog would)."""
    if not isinstance(data, Mapping):
        raise FlagFileError(f"{path}: expected a JSON object of flag key to flag")
    if isinstance(data.get("flags"), list):
        try:
            problems = parse_definitions(json.loads(json.dumps(data))).problems
        except (ValueError, TypeError) as exc:
            raise FlagFileError(f"{path}: not usable flag definitions: {exc}") from None
        fake.set_definitions(data)
        return len(data["flags"]), problems
    for key, spec in data.items():
        fake.set_flag(key, **_options(key, spec, path))
    return len(data), ()


def _options(key: object, spec: object, path: str) -> dict[str, Any]:
    where = f"{path}: flag {key!r}"
    if not isinstance(key, str) or not key:
        raise FlagFileError(f"{where}: a flag key must be a non-empty string")
    if isinstance(spec, bool):
        return {"active": spec}
    if isinstance(spec, (int, float)):
        return {"rollout": _percentage(spec, where)}
    if not isinstance(spec, Mapping):
        raise FlagFileError(
            f"{where}: expected true, false, a rollout percentage or an object, got {spec!r:.40}"
        )
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise FlagFileError(f"{where}: unknown field {unknown[0]!r} (known: {_KNOWN})")
    options: dict[str, Any] = {"rollout": _percentage(spec.get("rollout", 100), where)}
    variants = spec.get("variants")
    if variants is not None:
        if not isinstance(variants, Mapping) or not variants:
            raise FlagFileError(f"{where}: variants must be an object of variant to percentage")
        options["variants"] = {str(k): _percentage(v, where) for k, v in variants.items()}
    if "payload" in spec:
        options["payload"] = spec["payload"]
    if "active" in spec:
        if not isinstance(spec["active"], bool):
            raise FlagFileError(f"{where}: active must be true or false")
        options["active"] = spec["active"]
    if "group_type" in spec:
        if not isinstance(spec["group_type"], str) or not spec["group_type"]:
            raise FlagFileError(f"{where}: group_type must be a non-empty string")
        options["group_type"] = spec["group_type"]
    return options


def _percentage(value: object, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 100
    ):
        raise FlagFileError(f"{where}: a percentage must be a number from 0 to 100, got {value!r}")
    return float(value)
