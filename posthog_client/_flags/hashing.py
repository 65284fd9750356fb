"""Deterministic bucketing hashes shared with every PostHog SDK and the server.

Pure: no I/O, no clock. The formulas must stay bit-for-bit identical to PostHog's, because a
user's bucket decides which variant they see; `tests/test_consistency.py` pins 2,000 values.
"""

from __future__ import annotations

from hashlib import sha1
from struct import Struct

# 15 hex digits = 60 bits, divided by 2**60 - 1 so that the result lies in [0, 1].
_LONG_SCALE = float(0xFFFFFFFFFFFFFFF)
# The first 15 hex digits of the digest are its first 8 bytes, big-endian, less the last 4
# bits: read as one integer, without the hex text. benchmarks: get_all_flags calls/s
_FIRST_8_BYTES = Struct(">Q").unpack_from
_UTF8 = "utf-8"
# Valid text encodes exactly as UTF-8; a lone surrogate (possible after json.loads of "\ud800")
# still hashes deterministically instead of raising on the request path.
_LONE_SURROGATES = "surrogatepass"


def bucket_hash(key: str, bucketing_value: str, salt: str = "") -> float:
    """Return the rollout/variant hash of `bucketing_value` for flag `key`, in [0, 1].

    `salt` is "" for the rollout check and "variant" for the variant pick.
    """
    digest = sha1(f"{key}.{bucketing_value}{salt}".encode(_UTF8, _LONE_SURROGATES)).digest()
    first: int = _FIRST_8_BYTES(digest)[0]
    return (first >> 4) / _LONG_SCALE


def holdout_hash(bucketing_value: str, salt: str = "") -> float:
    """Return the experiment-holdout hash of `bucketing_value`, in [0, 1].

    PostHog hashes holdouts as "holdout-<bucketing value>": a fixed prefix with a dash and no flag
    key, so one holdout group excludes the same people from every flag that shares it.
    """
    digest = sha1(f"holdout-{bucketing_value}{salt}".encode(_UTF8, _LONE_SURROGATES)).digest()
    first: int = _FIRST_8_BYTES(digest)[0]
    return (first >> 4) / _LONG_SCALE
