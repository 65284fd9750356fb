"""Definitions stores for ``Client(definitions_store=...)``: one flag-definitions poll per fleet.

A URL is usually all you need (``"redis://host:6379/0"``, ``"file:///var/run/posthog-flags"``);
these classes are for building a store yourself (an existing Redis client, a custom prefix) or
writing your own (implement ``DefinitionsStore``). ``RedisStore`` needs the ``redis`` package
(``pip install 'posthog-client[redis]'``) and is imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._flags.file_store import FileStore
from ._flags.provider_store import ProviderStore
from ._flags.store import DefinitionsStore, MemoryStore, PollResult

if TYPE_CHECKING:
    from ._flags.redis_store import RedisStore

__all__ = [
    "DefinitionsStore",
    "FileStore",
    "MemoryStore",
    "PollResult",
    "ProviderStore",
    "RedisStore",
]


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        from ._flags.redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
