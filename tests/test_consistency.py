"""Every PostHog SDK must reproduce these 2,000 hash-derived flag values (see the file's about)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_client._flags.evaluation import evaluate_flag
from posthog_client._flags.hashing import bucket_hash, holdout_hash
from posthog_client._flags.model import Decided, EvalContext
from posthog_client._flags.parse import parse_definitions

_HERE = Path(__file__).resolve().parent
# Prefer the copy in the repo, so a fresh clone without shared/ still runs the vectors.
_CANDIDATES = (
    _HERE / "cases" / "consistency.json",
    Path(__file__).resolve().parents[1].parent / "shared" / "flag-vectors" / "consistency.json",
)
_NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _load() -> list[dict[str, Any]]:
    for path in _CANDIDATES:
        if path.exists():
            cases: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cases"]
            return cases
    raise FileNotFoundError("consistency.json not found in tests/cases or shared/flag-vectors")


CASES = _load()


def test_vectors_are_complete() -> None:
    assert sum(len(case["expected"]) for case in CASES) == 2000


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_consistency_vectors(case: dict[str, Any]) -> None:
    flag = case["flag"]
    defs = parse_definitions({"flags": [flag], "group_type_mapping": {}, "cohorts": {}})
    mismatches = []
    for i, expected in enumerate(case["expected"]):
        distinct_id = case["distinct_id_format"].format(i=i)
        result = evaluate_flag(defs, flag["key"], EvalContext(distinct_id), _NOW)
        if not isinstance(result, Decided) or result.value != expected:
            mismatches.append((distinct_id, expected, result))
    assert mismatches == []


@given(st.text(max_size=40), st.text(max_size=40), st.sampled_from(["", "variant"]))
def test_hashes_are_the_first_15_hex_digits_of_the_sha1(key: str, value: str, salt: str) -> None:
    # PostHog's formula, spelled as the SDKs spell it; the hashing module reads the same 60 bits
    # from the digest's bytes.
    def reference(text: str) -> float:
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
        return int(digest[:15], 16) / float(0xFFFFFFFFFFFFFFF)

    assert bucket_hash(key, value, salt) == reference(f"{key}.{value}{salt}")
    assert holdout_hash(value, salt) == reference(f"holdout-{value}{salt}")
