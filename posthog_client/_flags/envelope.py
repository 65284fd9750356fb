"""The shared snapshot's wire format, and the tiny version string followers read each interval.

Pure: no I/O, no clock (times are passed in). A stored snapshot is::

    b"posthog-flag-definitions " + header JSON + b"\\n" + payload

where the payload is the definitions body exactly as PostHog sent it, zlib-compressed, and the
header carries the schema version, the project it belongs to, the writer's fence, the ETag, the
payload's length and SHA-256, and the uncompressed size. ``decode`` checks all of them before a
byte is parsed: a corrupt, truncated, foreign (another project, another program) or future
(schema) snapshot raises ``SnapshotError`` and the reader keeps what it has.

The version string (``"<fence>:<content id>:<fetched at, ms>"``) changes on every write and
every 304; followers download the snapshot only when its content id changed.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import NamedTuple

SCHEMA = 1
MAGIC = b"posthog-flag-definitions "
_MAX_HEADER = 4096
# A definitions body larger than this is refused (the largest real ones are a few MiB).
MAX_BODY = 256 * 1024 * 1024
STATES = ("ok", "quota_limited")


class SnapshotError(ValueError):
    """The stored snapshot cannot be used (the reason is the message)."""


class Envelope(NamedTuple):
    body: bytes  # the definitions JSON as PostHog sent it (empty when state != "ok")
    etag: str | None
    fence: int
    state: str
    content_id: str


class Version(NamedTuple):
    fence: int
    content_id: str
    fetched_at_ms: int


def project_id(api_key: str) -> str:
    """A short, stable name for a project (its key's hash): snapshots and store keys carry it,
    so two projects sharing a store never read each other's definitions."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:16]


def content_id(body: bytes, etag: str | None, state: str) -> str:
    digest = hashlib.sha256(state.encode() + b"\0" + (etag or "").encode() + b"\0" + body)
    return digest.hexdigest()[:16]


def encode(
    body: bytes, *, etag: str | None, fence: int, project: str, state: str = "ok"
) -> tuple[bytes, str]:
    """The stored form of ``body`` and its content id."""
    if state not in STATES:
        raise ValueError(f"unknown snapshot state {state!r}")
    payload = zlib.compress(body, 6)
    header = {
        "schema": SCHEMA,
        "project": project,
        "fence": fence,
        "etag": etag,
        "state": state,
        "encoding": "zlib",
        "size": len(body),
        "length": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("ascii")
    return MAGIC + head + b"\n" + payload, content_id(body, etag, state)


def decode(data: bytes, project: str) -> Envelope:
    """Check and unpack a stored snapshot; ``SnapshotError`` says why it cannot be used."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SnapshotError(f"not bytes but {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(MAGIC):
        raise SnapshotError("foreign data (not a posthog_client snapshot)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if end < 0:
        raise SnapshotError("truncated or corrupt header")
    try:
        header = json.loads(data[len(MAGIC) : end])
    except ValueError:
        raise SnapshotError("corrupt header") from None
    if not isinstance(header, dict):
        raise SnapshotError("corrupt header")
    schema = header.get("schema")
    if schema != SCHEMA:
        raise SnapshotError(f"schema {schema!r} is not supported (this version reads {SCHEMA})")
    if header.get("project") != project:
        raise SnapshotError("the snapshot belongs to another project")
    fence, etag, state = header.get("fence"), header.get("etag"), header.get("state")
    size, length, digest = header.get("size"), header.get("length"), header.get("sha256")
    if (
        not isinstance(fence, int)
        or not isinstance(size, int)
        or not isinstance(length, int)
        or min(fence, size, length) < 0
        or isinstance(fence, bool)
        or not isinstance(digest, str)
        or (etag is not None and not isinstance(etag, str))
        or state not in STATES
        or header.get("encoding") != "zlib"
    ):
        raise SnapshotError("corrupt header")
    payload = data[end + 1 :]
    if len(payload) != length:
        raise SnapshotError(f"truncated: {len(payload)} of {length} bytes")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise SnapshotError("checksum mismatch (corrupt)")
    if size > MAX_BODY:
        raise SnapshotError(f"too large ({size} bytes)")
    try:
        inflater = zlib.decompressobj()
        body = inflater.decompress(payload, size + 1)
    except zlib.error:
        raise SnapshotError("corrupt payload") from None
    if len(body) != size or not inflater.eof:
        raise SnapshotError("corrupt payload (size mismatch)")
    return Envelope(body, etag, fence, state, content_id(body, etag, state))


def make_version(fence: int, content: str, fetched_at_ms: int) -> str:
    return f"{fence}:{content}:{fetched_at_ms}"


def parse_version(text: object) -> Version | None:
    """The version string read from a store (bytes or str), or None when absent or malformed."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(text, str):
        return None
    parts = text.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit() or not parts[1]:
        return None
    return Version(int(parts[0]), parts[1], int(parts[2]))
