"""The opt-in durable spool (``Client(spool_path=...)``): batches PostHog could not take yet,
in a SQLite file, so an outage that outlives the process loses nothing.

Spill, not write-ahead: with a healthy PostHog nothing touches the disk. A batch is written when
it fails and would wait for a retry, while PostHog is failing, when memory is full, and at
shutdown. Each row holds the events exactly as they are sent (uuids and timestamps included, so
a replay is deduplicated by PostHog), never the API key. Rows are leased before they are sent,
so several processes (workers, a restarted process) can share one file; a forked child opens its
own connection. Only the consumer thread (and ``shutdown`` at its deadline) use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("posthog_client")

SCHEMA = "posthog-client-spool/1"
_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    written REAL NOT NULL,
    protocol TEXT NOT NULL,
    request_id TEXT,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    not_before REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,
    lease_owner TEXT,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    uuids TEXT NOT NULL,
    events BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS due ON batches (not_before, id);
"""


@dataclass
class Row:
    """A spooled batch: its events (as sent), their uuids, and its retry state."""

    id: int
    protocol: str
    request_id: str | None
    created_at: str
    attempts: int
    events: list[bytes]
    uuids: list[str]


def default_path(host: str, api_key: str) -> Path:
    """``spool_path=True``: one file per project and host in the user's cache directory."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "posthog-client" / f"spool-{fingerprint(host, api_key)[:16]}.sqlite3"


def fingerprint(host: str, api_key: str) -> str:
    """Rows are sent with the current client's key: a file written for another project or host
    must never be replayed with it."""
    return hashlib.sha256(f"{host}\n{api_key}".encode()).hexdigest()


def _wal(conn: sqlite3.Connection, deadline: float) -> None:
    """Switch to write-ahead logging. The switch needs the file to itself for a moment and
    SQLite does not apply the busy timeout to it, so when other processes open the file at the
    same time (workers starting together) it is tried again until ``deadline``."""
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class Spool:
    def __init__(self, path: Path, owner_fingerprint: str, lease_seconds: float) -> None:
        self.path = path
        self._fingerprint = owner_fingerprint
        self._lease_seconds = lease_seconds
        self._owner = uuid.uuid4().hex  # this process's leases
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self.moved_aside: list[Path] = []

    # -- the file ------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # a forked child: its own connection and leases
            self._conn, self._pid, self._owner = None, os.getpid(), uuid.uuid4().hex
            self._lock = threading.Lock()
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            return self._open_checked()
        except sqlite3.OperationalError:  # locked or busy, an I/O error: the file may be fine
            raise
        except sqlite3.DatabaseError as exc:  # not SQLite, truncated, or another program's
            aside = self.path.with_name(f"{self.path.name}.bad-{int(time.time())}")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
                self.moved_aside.append(aside)
            logger.warning(
                "posthog_client: the spool %s was unusable (%s); moved it to %s and started a "
                "new one",
                self.path,
                exc,
                aside,
            )
            return self._open_checked()

    def _open_checked(self) -> sqlite3.Connection:
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # 0600 from the first byte
        conn = sqlite3.connect(self.path, timeout=2.0, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 2000")
            _wal(conn, deadline=time.monotonic() + 2.0)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_TABLES)
            # Claimed in one statement each, ignored when present: processes that create the
            # file at the same moment all agree on it (a read-then-insert let the second one
            # fail on the key and move a good spool aside).
            with conn:
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA,))
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('owner', ?)", (self._fingerprint,))
            found = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if found.get("schema") != SCHEMA or found.get("owner") != self._fingerprint:
                raise sqlite3.DatabaseError("written by another project, host or version")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            with conn:
                yield conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
            self._conn = None

    # -- rows ----------------------------------------------------------------------------------

    def write(
        self,
        protocol: str,
        request_id: str | None,
        created_at: str,
        attempts: int,
        events: list[bytes],
        uuids: list[str],
        not_before: float,
    ) -> int:
        """Store a batch; raises ``sqlite3.Error`` or ``OSError`` (disk full, say)."""
        body = _pack(events)
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT INTO batches (written, protocol, request_id, created_at, attempts, "
                "not_before, count, bytes, uuids, events) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    time.time(),
                    protocol,
                    request_id,
                    created_at,
                    attempts,
                    not_before,
                    len(events),
                    len(body),
                    json.dumps(uuids),
                    body,
                ),
            )
            return int(cursor.lastrowid or 0)

    def _absent(self) -> bool:
        """No file yet: reads find nothing, and only a write creates it (a healthy PostHog
        never touches the disk)."""
        return self._conn is None and not self.path.exists()

    def lease(self, now: float) -> Row | None:
        """Take the oldest due row no other process holds, for one send."""
        if self._absent():
            return None
        with self._tx() as conn:
            # One statement takes the row, so two processes can never both lease it.
            found = conn.execute(
                "UPDATE batches SET lease_until = ?, lease_owner = ? WHERE id = ("
                "SELECT id FROM batches WHERE not_before <= ? AND lease_until < ? "
                "ORDER BY id LIMIT 1) "
                "RETURNING id, protocol, request_id, created_at, attempts, uuids, events",
                (now + self._lease_seconds, self._owner, now, now),
            ).fetchone()
            if found is None:
                return None
        row_id, protocol, request_id, created_at, attempts, uuids, events = found
        try:
            ids = [str(u) for u in json.loads(uuids)]
        except (ValueError, TypeError):
            ids = []
        unpacked = _unpack(events)
        if len(unpacked) != len(ids):  # damaged: nothing in it can be trusted
            unpacked, ids = [], []
        return Row(row_id, protocol, request_id, created_at, attempts, unpacked, ids)

    def done(self, row_id: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM batches WHERE id = ? AND lease_owner = ?", (row_id, self._owner)
            )

    def retry_later(
        self, row_id: int, events: list[bytes], uuids: list[str], attempts: int, not_before: float
    ) -> None:
        """Keep what is left of a row (a partial answer may have settled some events)."""
        body = _pack(events)
        with self._tx() as conn:
            conn.execute(
                "UPDATE batches SET events = ?, uuids = ?, count = ?, bytes = ?, attempts = ?, "
                "not_before = ?, lease_until = 0, lease_owner = NULL "
                "WHERE id = ? AND lease_owner = ?",
                (
                    body,
                    json.dumps(uuids),
                    len(uuids),
                    len(body),
                    attempts,
                    not_before,
                    row_id,
                    self._owner,
                ),
            )

    def next_due(self) -> float | None:
        """When the next row (not leased by anyone) may be sent (wall clock), if there is one."""
        if self._absent():
            return None
        with self._tx() as conn:
            found = conn.execute("SELECT MIN(MAX(not_before, lease_until)) FROM batches").fetchone()
        return None if found is None or found[0] is None else float(found[0])

    def prune(self, max_bytes: int, max_age: float, now: float) -> list[tuple[str, list[bytes]]]:
        """Remove what the bounds force out, oldest first: (reason, events) per removed row."""
        removed: list[tuple[str, list[bytes]]] = []
        if self._absent():
            return removed
        with self._tx() as conn:
            old = conn.execute(
                "SELECT id, events FROM batches WHERE written < ? ORDER BY id", (now - max_age,)
            ).fetchall()
            for row_id, events in old:
                removed.append(("spool_expired", _unpack(events)))
                conn.execute("DELETE FROM batches WHERE id = ?", (row_id,))
            total = conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM batches").fetchone()[0]
            while total > max_bytes:
                oldest = conn.execute(
                    "SELECT id, events, bytes FROM batches ORDER BY id LIMIT 1"
                ).fetchone()
                if oldest is None:
                    break
                removed.append(("spool_full", _unpack(oldest[1])))
                conn.execute("DELETE FROM batches WHERE id = ?", (oldest[0],))
                total -= oldest[2]
        return removed

    def size(self) -> tuple[int, int]:
        """(events, bytes) spooled now, in every process's rows."""
        if self._absent():
            return 0, 0
        with self._tx() as conn:
            found = conn.execute(
                "SELECT COALESCE(SUM(count), 0), COALESCE(SUM(bytes), 0) FROM batches"
            ).fetchone()
        return int(found[0]), int(found[1])


def _pack(events: list[bytes]) -> bytes:
    """Events as stored: each one's exact bytes, length-prefixed (a replay sends the same)."""
    return b"".join(struct.pack(">I", len(event)) + event for event in events)


def _unpack(body: bytes) -> list[bytes]:
    events: list[bytes] = []
    at = 0
    while at + 4 <= len(body):
        (length,) = struct.unpack_from(">I", body, at)
        events.append(bytes(body[at + 4 : at + 4 + length]))
        at += 4 + length
    return events if at == len(body) else []
