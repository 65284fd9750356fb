"""Local evaluation agrees with the (fake) server's remote answer on a broad generated set.

The fake answers ``/flags`` with the same evaluator over the same definitions, so this pins the
whole path: parsing, HTTP, both response paths, payload decoding and value mapping.
"""

from __future__ import annotations

import json
import random
from typing import Any

from posthog_client.testing import FakePostHog

OPERATORS = [
    ("exact", lambda r: r.choice(["pro", "free", ["pro", "team"]])),
    ("is_not", lambda r: r.choice(["pro", "free"])),
    ("icontains", lambda r: r.choice(["@example", "EXAMPLE", "x"])),
    ("not_icontains", lambda r: "spam"),
    ("regex", lambda r: r.choice([r"^user-\d+$", r"@example\.com$", "["])),
    ("gt", lambda r: r.choice([5, "10", 2.5])),
    ("lte", lambda r: r.choice([50, "3"])),
    ("is_set", lambda r: "is_set"),
    ("is_date_before", lambda r: r.choice(["-30d", "2026-01-01", "-1y"])),
    ("semver_gte", lambda r: r.choice(["1.2.0", "2.0.0"])),
    ("starts_with", lambda r: "user"),
]
KEYS = {"plan": "exact", "email": "icontains", "age": "gt", "version": "semver_gte"}


def _property(rng: random.Random) -> dict[str, Any]:
    operator, make = rng.choice(OPERATORS)
    key = rng.choice(["plan", "email", "age", "signup", "version", "name"])
    return {"key": key, "operator": operator, "value": make(rng), "type": "person"}


def _definitions(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    flags = []
    for i in range(60):
        groups = [
            {
                "properties": [_property(rng) for _ in range(rng.randint(0, 2))],
                "rollout_percentage": rng.choice([None, 0, 30, 50, 100]),
            }
            for _ in range(rng.randint(1, 3))
        ]
        filters: dict[str, Any] = {"groups": groups, "payloads": {}}
        if rng.random() < 0.3:
            filters["multivariate"] = {
                "variants": [
                    {"key": "control", "rollout_percentage": 50},
                    {"key": "Test", "rollout_percentage": 50},
                ]
            }
            filters["payloads"] = {"control": json.dumps({"c": i}), "Test": '"t"'}
            if rng.random() < 0.5:
                groups[0]["variant"] = rng.choice(["control", "Test", "missing"])
        else:
            filters["payloads"] = {"true": json.dumps([i])}
        if rng.random() < 0.15:
            filters["aggregation_group_type_index"] = 0
        flags.append(
            {"id": i + 1, "key": f"flag-{i}", "active": rng.random() > 0.1, "filters": filters}
        )
    return {"flags": flags, "group_type_mapping": {"0": "company"}, "cohorts": {}}


def _person(rng: random.Random, i: int) -> dict[str, Any]:
    props: dict[str, Any] = {}
    choices = {
        "plan": ["pro", "free", "team"],
        "email": [f"u{i}@example.com", f"u{i}@other.org"],
        "age": [3, 12, "40", 60],
        "signup": ["2025-06-01T00:00:00Z", "2026-11-01", "not a date"],
        "version": ["1.0.0", "1.5.3", "2.1.0", "01.2.3"],
        "name": [f"user-{i}", "admin"],
    }
    for key, values in choices.items():
        if rng.random() < 0.8:
            props[key] = rng.choice(values)
    return props


def test_local_equals_remote_for_every_decidable_case() -> None:
    rng = random.Random(7)
    with FakePostHog() as fake:
        fake.set_definitions(_definitions(seed=11))
        local = fake.client()
        remote = fake.client(personal_api_key=None)
        compared = undecided = 0
        for i in range(40):
            distinct_id = f"user-{i}"
            person = _person(rng, i)
            groups = {"company": f"co-{i % 5}"} if i % 3 else {}
            for j in range(60):
                key = f"flag-{j}"
                args: dict[str, Any] = {
                    "person_properties": person,
                    "groups": groups,
                    "send_feature_flag_events": False,
                }
                mine = local.get_feature_flag_result(
                    key, distinct_id, only_evaluate_locally=True, **args
                )
                assert mine is not None
                if mine.value is None:
                    undecided += 1
                    continue
                theirs = remote.get_feature_flag_result(key, distinct_id, **args)
                assert theirs is not None
                assert (mine.value, mine.payload) == (theirs.value, theirs.payload), (key, person)
                compared += 1
        assert compared > 1_200 and undecided > 25  # both paths were really exercised
