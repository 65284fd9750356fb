"""Deterministic feature-flag definitions and users for the local-evaluation scenario.

50 flags cycling through the kinds of targeting PostHog projects use: plain rollouts,
person-property filters (exact, icontains, gt, regex, is_date_before with absolute and relative
dates), multivariate flags with and without variant overrides, group flags
(``aggregation_group_type_index``), a cohort reference (cohorts as ``send_cohorts`` returns
them), multi-condition flags and a few inactive ones. 400 users carry the person properties the
filters read, and each belongs to one of 20 companies with group properties.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

FLAG_COUNT = 50
USER_COUNT = 400
COMPANY_COUNT = 20
PLANS = ("free", "pro", "team", "enterprise")
COUNTRIES = ("DE", "US", "FR", "GB", "BR", "JP")
DOMAINS = ("example.com", "acme.io", "gmail.com", "corp.example.org")


def _person(key: str, operator: str, value: Any) -> dict[str, Any]:
    return {"key": key, "operator": operator, "value": value, "type": "person"}


def _variants(count: int) -> dict[str, Any]:
    names = ("control", "test", "test-2", "test-3")[:count]
    share = 100 // count
    shares = [share] * (count - 1) + [100 - share * (count - 1)]
    return {
        "variants": [
            {"key": name, "name": name.title(), "rollout_percentage": pct}
            for name, pct in zip(names, shares, strict=True)
        ]
    }


def _filters(index: int, rng: random.Random) -> dict[str, Any]:
    kind = index % 12
    rollout = rng.choice((10, 25, 50, 75, 90, 100))
    if kind == 0:  # plain rollout
        return {"groups": [{"properties": [], "rollout_percentage": rollout}]}
    if kind == 1:  # exact on a list of values
        plans = list(rng.sample(PLANS, 2))
        return {
            "groups": [{"properties": [_person("plan", "exact", plans)], "rollout_percentage": 100}]
        }
    if kind == 2:  # icontains
        domain = rng.choice(DOMAINS)
        return {
            "groups": [
                {
                    "properties": [_person("email", "icontains", f"@{domain}")],
                    "rollout_percentage": rollout,
                }
            ]
        }
    if kind == 3:  # numeric gt and exact
        return {
            "groups": [
                {
                    "properties": [
                        _person("age", "gt", rng.choice((21, 30, 40))),
                        _person("country", "exact", [rng.choice(COUNTRIES)]),
                    ],
                    "rollout_percentage": 100,
                }
            ]
        }
    if kind == 4:  # regex
        return {
            "groups": [
                {
                    "properties": [_person("email", "regex", rf"^user-\d*{rng.randint(0, 9)}@")],
                    "rollout_percentage": rollout,
                }
            ]
        }
    if kind == 5:  # relative date
        days = rng.choice((30, 90, 180))
        return {
            "groups": [
                {
                    "properties": [_person("signup_date", "is_date_before", f"-{days}d")],
                    "rollout_percentage": 100,
                }
            ]
        }
    if kind == 6:  # absolute date
        return {
            "groups": [
                {
                    "properties": [
                        _person("signup_date", "is_date_before", "2026-06-01T00:00:00Z")
                    ],
                    "rollout_percentage": rollout,
                }
            ]
        }
    if kind == 7:  # multivariate, targeted
        return {
            "groups": [
                {
                    "properties": [_person("plan", "exact", ["pro", "team"])],
                    "rollout_percentage": 100,
                }
            ],
            "multivariate": _variants(rng.choice((2, 3, 4))),
            "payloads": {"control": '{"color": "blue"}', "test": '{"color": "green"}'},
        }
    if kind == 8:  # group flag
        return {
            "aggregation_group_type_index": 0,
            "groups": [
                {
                    "properties": [
                        {
                            "key": "employees",
                            "operator": "gt",
                            "value": rng.choice((50, 200, 1000)),
                            "type": "group",
                            "group_type_index": 0,
                        }
                    ],
                    "rollout_percentage": rollout,
                }
            ],
        }
    if kind == 9:  # cohort
        return {
            "groups": [
                {
                    "properties": [
                        {"key": "id", "value": rng.choice((101, 102)), "type": "cohort"}
                    ],
                    "rollout_percentage": rollout,
                }
            ]
        }
    if kind == 10:  # several conditions, a variant override, a payload
        return {
            "groups": [
                {
                    "properties": [_person("country", "exact", ["DE"])],
                    "rollout_percentage": 100,
                    "variant": "test",
                },
                {"properties": [_person("plan", "exact", ["free"])], "rollout_percentage": 30},
                {"properties": [_person("is_beta", "exact", ["true"])], "rollout_percentage": 100},
            ],
            "multivariate": _variants(2),
            "payloads": {"test": '"override"'},
        }
    # kind 11: multivariate rollout for everyone
    return {
        "groups": [{"properties": [], "rollout_percentage": rollout}],
        "multivariate": _variants(3),
    }


def definitions(seed: int = 7) -> dict[str, Any]:
    """The ``/flags/definitions`` answer: ``{"flags", "group_type_mapping", "cohorts"}``."""
    rng = random.Random(seed)
    flags = []
    for index in range(FLAG_COUNT):
        flags.append(
            {
                "id": 1000 + index,
                "key": f"flag-{index:02d}",
                "name": f"Benchmark flag {index}",
                "active": index % 17 != 16,  # flags 16, 33: inactive
                "deleted": False,
                "ensure_experience_continuity": False,
                "version": 1 + index % 3,
                "filters": _filters(index, rng),
            }
        )
    cohorts = {
        "101": {
            "type": "OR",
            "values": [
                {
                    "type": "AND",
                    "values": [
                        _person("email", "icontains", "@example.com"),
                        _person("age", "gt", 25),
                    ],
                },
                {"type": "AND", "values": [_person("plan", "exact", ["enterprise"])]},
            ],
        },
        "102": {
            "type": "AND",
            "values": [
                {
                    "type": "OR",
                    "values": [
                        _person("country", "exact", ["US", "GB"]),
                        _person("signup_date", "is_date_before", "-365d"),
                    ],
                }
            ],
        },
    }
    return {
        "flags": flags,
        "group_type_mapping": {"0": "company", "1": "project"},
        "cohorts": cohorts,
    }


def users(count: int = USER_COUNT, seed: int = 11) -> list[dict[str, Any]]:
    """``count`` users: distinct_id, person_properties, groups, group_properties."""
    rng = random.Random(seed)
    today = dt.date.today()
    companies = {
        f"company-{i:02d}": {"employees": rng.choice((5, 40, 120, 600, 5000)), "industry": "saas"}
        for i in range(COMPANY_COUNT)
    }
    out = []
    for i in range(count):
        company = f"company-{i % COMPANY_COUNT:02d}"
        signup = today - dt.timedelta(days=rng.randint(0, 720))
        out.append(
            {
                "distinct_id": f"user-{i}",
                "person_properties": {
                    "email": f"user-{i}@{rng.choice(DOMAINS)}",
                    "plan": rng.choice(PLANS),
                    "age": rng.randint(18, 70),
                    "country": rng.choice(COUNTRIES),
                    "signup_date": signup.isoformat(),
                    "is_beta": rng.random() < 0.2,
                },
                "groups": {"company": company},
                "group_properties": {"company": companies[company]},
            }
        )
    return out
