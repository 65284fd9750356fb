"""The file definitions store (``file:///dir``): the processes of one host, with no Redis.

In ``<dir>/<project>/``:

- ``lease``    held with ``flock(LOCK_EX)`` by the leader for as long as it leads; the kernel
               lets go when the process dies, however it dies. Its text names the holder.
- ``fence``    the fence counter, increased on every acquisition
- ``version``  ``"<fence>:<content id>:<fetched at ms>"``; its mtime is the snapshot's refresh
- ``snapshot`` the snapshot (``envelope``)
- ``.lock``    a short ``flock`` serialising writers, so the fence check and the write are one

Writes go to a temporary file that is renamed over the old one: a reader sees the old file or
the new one, never half of one. A snapshot whose version was not refreshed for ``ttl`` seconds
is treated as absent. After a fork the child closes its copy of the lease descriptor without
unlocking it, so the parent keeps the lease.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .._runtime import lifecycle as _lifecycle
from .store import DEFAULT_TTL, PollResult


class FileStore:
    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        namespace: str = "default",
        ttl: float = DEFAULT_TTL,
    ) -> None:
        self.directory = Path(directory) / namespace
        self.ttl = ttl
        self._lease_fd: int | None = None
        self._lease: tuple[str, int] | None = None
        _lifecycle.on_fork(self)

    def __repr__(self) -> str:
        return f"file://{self.directory}"

    def reset_after_fork(self) -> None:
        """The child must not hold (or unlock) the parent's lease: close its copy only."""
        if self._lease_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lease_fd)
        self._lease_fd = self._lease = None

    def _path(self, name: str) -> Path:
        return self.directory / name

    def _open(self, name: str) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        return os.open(self._path(name), os.O_RDWR | os.O_CREAT, 0o644)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        fd = self._open(".lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the only descriptor releases the lock

    def _replace(self, name: str, data: bytes) -> None:
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temp, self._path(name))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def _fence(self) -> int:
        try:
            # bytes, then decode: ``read_text("ascii")`` would import a codec module on the
            # poller's thread (a fork during that import breaks the child's imports)
            return int(self._path("fence").read_bytes().decode("ascii").strip() or 0)
        except FileNotFoundError:
            return 0

    def _fresh(self, name: str) -> bool:
        try:
            return time.time() - self._path(name).stat().st_mtime < self.ttl
        except FileNotFoundError:
            return False

    def _read(self, name: str) -> bytes | None:
        """A file's bytes, while the version was refreshed within ``ttl`` (else None)."""
        if not self._fresh("version"):
            return None
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            return None

    def poll(self, owner: str | None, lease: float) -> PollResult:
        fence = None
        if owner is not None and self._lease_fd is None:
            fd = self._open("lease")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held by another process (or another store object)
                os.close(fd)
            else:
                with self._writing():
                    fence = self._fence() + 1
                    self._replace("fence", str(fence).encode())
                self._lease_fd, self._lease = fd, (owner, fence)
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{owner} {fence}\n".encode(), 0)
        version = self._read("version")
        text = None if version is None else version.decode("ascii", "replace").strip()
        return PollResult(text or None, fence, None)

    def renew(self, owner: str, fence: int, lease: float) -> bool:
        return self._lease_fd is not None and self._lease == (owner, fence)

    def release(self, owner: str, fence: int) -> None:
        if self._lease_fd is not None and self._lease == (owner, fence):
            fd, self._lease_fd, self._lease = self._lease_fd, None, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def write(self, fence: int, snapshot: bytes, version: str) -> bool:
        with self._writing():
            if fence < self._fence():
                return False
            if fence > self._fence():  # see write.lua
                self._replace("fence", str(fence).encode())
            self._replace("snapshot", bytes(snapshot))
            self._replace("version", version.encode("ascii"))
            return True

    def touch(self, fence: int, version: str) -> bool | None:
        with self._writing():
            if fence < self._fence():
                return False
            if not self._fresh("version") or not self._path("snapshot").exists():
                return None
            self._replace("version", version.encode("ascii"))
            return True

    def read(self) -> bytes | None:
        return self._read("snapshot")

    def lease_holder(self) -> str | None:
        """``"<owner> <fence>"`` of the current leader, if any (``doctor`` shows it)."""
        try:
            fd = os.open(self._path("lease"), os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:  # locked: someone leads; the text says who
            return os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
        finally:
            os.close(fd)
        return None

    def close(self) -> None:
        if self._lease is not None:
            self.release(*self._lease)
