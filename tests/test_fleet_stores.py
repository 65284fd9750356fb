"""The definitions stores, one contract for all (memory, file, Redis with its Lua scripts), the
snapshot envelope, the store URLs, and the adapter for the official SDK's cache providers."""

from __future__ import annotations

import asyncio
import pathlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from posthog_client import Client, ConfigError, ConfigTypeError
from posthog_client._flags import envelope
from posthog_client._flags.envelope import SnapshotError
from posthog_client._flags.store_url import open_store
from posthog_client.stores import FileStore, MemoryStore, ProviderStore

Factory = Callable[..., Any]  # a handle on one shared store (ttl=...); each call a new handle


@pytest.fixture(params=["memory", "file", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def handles(kind: str, tmp_path: pathlib.Path, request: pytest.FixtureRequest) -> Iterator[Factory]:
    """Handles on one store: the same object for memory (it lives in this process), a new
    object per call for file and Redis, as separate processes would have."""
    made: list[Any] = []
    namespace = uuid.uuid4().hex[:12]
    memory: dict[float, MemoryStore] = {}

    def make(ttl: float = 3600.0) -> Any:
        if kind == "memory":
            store = memory.setdefault(ttl, MemoryStore(ttl=ttl))
        elif kind == "file":
            store = FileStore(tmp_path, namespace=namespace, ttl=ttl)
        else:
            from posthog_client.stores import RedisStore

            port = request.getfixturevalue("redis_port")
            store = RedisStore(f"redis://127.0.0.1:{port}/0", namespace=namespace, ttl=ttl)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def snapshot(body: bytes = b'{"flags": []}', fence: int = 1) -> bytes:
    return envelope.encode(body, etag='"e1"', fence=fence, project="p")[0]


def test_the_fence_grows_with_every_acquisition(handles: Factory) -> None:
    a, b = handles(), handles()
    first = a.poll("a", 5.0)
    assert first.fence == 1 and first.version is None
    held = b.poll("b", 5.0)
    assert held.fence is None  # a holds it
    a.release("a", 1)
    assert b.poll("b", 5.0).fence == 2
    b.release("b", 2)
    assert a.poll("a", 5.0).fence == 3
    assert a.poll(None, 5.0).fence is None  # reading never takes the lease


def test_renew_and_release_check_the_owner_and_the_fence(handles: Factory) -> None:
    a, b = handles(), handles()
    fence = a.poll("a", 5.0).fence
    assert fence is not None
    assert not b.renew("b", fence, 5.0)
    assert not a.renew("a", fence + 1, 5.0)
    b.release("b", fence)  # not b's: nothing happens
    assert b.poll("b", 5.0).fence is None
    assert a.renew("a", fence, 5.0)


def test_a_stale_writer_is_refused_by_the_fence(handles: Factory) -> None:
    old, new = handles(), handles()
    stale = old.poll("old", 5.0).fence
    assert stale is not None and old.write(stale, snapshot(b"old"), f"{stale}:old:1")
    old.release("old", stale)
    fresh = new.poll("new", 5.0).fence
    assert fresh is not None and fresh > stale
    assert new.write(fresh, snapshot(b"new"), f"{fresh}:new:2")
    assert old.write(stale, snapshot(b"late"), f"{stale}:late:3") is False  # a paused ex-leader
    assert old.touch(stale, f"{stale}:late:4") is False
    assert new.poll(None, 5.0).version == f"{fresh}:new:2"
    assert envelope.decode(new.read(), "p").body == b"new"


def test_touch_refreshes_the_version_and_needs_a_snapshot(handles: Factory) -> None:
    store = handles()
    fence = store.poll("a", 5.0).fence
    assert store.touch(fence, "1:x:5") is None  # nothing stored yet: the leader downloads
    assert store.write(fence, snapshot(), "1:x:5")
    assert store.touch(fence, "1:x:9") is True
    assert store.poll(None, 5.0).version == "1:x:9"


def test_a_snapshot_expires_unless_touched(handles: Factory) -> None:
    store = handles(ttl=0.4)
    fence = store.poll("a", 30.0).fence
    assert store.write(fence, snapshot(), "1:x:1")
    for _ in range(3):  # 304s keep it alive past its expiry
        time.sleep(0.2)
        assert store.touch(fence, "1:x:2") is True
    assert store.read() is not None
    time.sleep(0.5)
    assert store.read() is None and store.poll(None, 1.0).version is None


@pytest.mark.parametrize("kind", ["memory", "redis"])  # a file lease is an flock: it ends
def test_a_lease_runs_out_when_not_renewed(handles: Factory) -> None:  # with its process
    a, b = handles(), handles()
    assert a.poll("a", 0.15).fence == 1
    held = b.poll("b", 0.15)
    assert held.fence is None and held.lease_left is not None and 0 < held.lease_left <= 0.15
    time.sleep(0.2)
    assert b.poll("b", 0.15).fence == 2


def test_every_shipped_lua_script_is_used() -> None:
    from posthog_client._flags import redis_store

    folder = pathlib.Path(redis_store.__file__).parent / "lua"
    assert {p.stem for p in folder.glob("*.lua")} == set(redis_store._SCRIPTS)
    for name in redis_store._SCRIPTS:
        assert "redis.call" in redis_store.script_source(name)


def test_the_redis_scripts_are_loaded_once_and_survive_script_flush(redis_port: int) -> None:
    import redis

    from posthog_client.stores import RedisStore

    store = RedisStore(f"redis://127.0.0.1:{redis_port}/0", namespace=uuid.uuid4().hex)
    assert store.poll("a", 5.0).fence == 1
    redis.Redis(port=redis_port).script_flush()  # a restarted server forgets scripts
    assert store.renew("a", 1, 5.0)  # EVALSHA falls back to EVAL
    assert repr(store) == f"redis://127.0.0.1:{redis_port}/0"
    store.close()


def test_closing_a_redis_store_ends_a_wait_for_change_at_once(redis_port: int) -> None:
    """``close()`` (the client's shutdown) from another thread ends a follower's wait, even when
    it lands just before the wait reaches the socket: redis-py then waits to be subscribed
    again, for the whole timeout (a shut-down follower's thread lived on for 30 s)."""
    from posthog_client.stores import RedisStore

    store = RedisStore(f"redis://127.0.0.1:{redis_port}/0", namespace=uuid.uuid4().hex, wake=True)
    assert store.wait_for_change(0.01) is False  # subscribed now
    pubsub = store._pubsub
    wait = pubsub.get_message

    def closed_first(**kwargs: Any) -> Any:
        store.close()  # the shutdown lands between two waits
        return wait(**kwargs)

    pubsub.get_message = closed_first
    started = time.monotonic()
    assert store.wait_for_change(30) is False
    assert time.monotonic() - started < 2


# -- the snapshot envelope ------------------------------------------------------------------------


def test_an_envelope_round_trips() -> None:
    data, content = envelope.encode(b'{"flags": [1]}', etag='"abc"', fence=7, project="p")
    stored = envelope.decode(data, "p")
    assert stored == (b'{"flags": [1]}', '"abc"', 7, "ok", content)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d[:-5], "truncated"),
        (lambda d: d[:-3] + bytes([d[-3] ^ 1]) + d[-2:], "checksum"),
        (lambda d: b"PK\x03\x04 a zip file", "foreign"),
        (lambda d: b"", "foreign"),
        (lambda d: d.replace(b'"schema":1', b'"schema":2'), "schema"),
        (lambda d: d.replace(b'"project":"p"', b'"project":"q"'), "another project"),
        (lambda d: d.replace(b'"fence":7', b'"fence":"7"'), "corrupt header"),
        (lambda d: d.split(b"\n")[0], "truncated"),
    ],
)
def test_a_damaged_or_foreign_snapshot_is_rejected(
    damage: Callable[[bytes], bytes], reason: str
) -> None:
    data, _ = envelope.encode(b'{"flags": []}' * 50, etag=None, fence=7, project="p")
    with pytest.raises(SnapshotError, match=reason):
        envelope.decode(damage(data), "p")


def test_version_strings() -> None:
    assert envelope.parse_version(b"3:abc:17") == (3, "abc", 17)
    for bad in (None, "", "3:abc", "x:abc:1", b"\xff", "3::1", 5):
        assert envelope.parse_version(bad) is None


# -- URLs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:notaport/0",
        "redis://:6379/0",
        "redis://localhost/zero",
        "redis://localhost:0",
        "http://localhost:6379",
        "ftp://x/y",
        "file://otherhost/tmp/x",
        "file:relative/dir",
        "redis://localhost/0?ttl=-1",
        "redis://localhost/0?ttl=abc",
        "redis://localhost/0?bogus=1",
        "redis://localhost/0?prefix={x}",
        "file:///tmp/x?timeout=3",
        "",
        "not a url",
    ],
)
def test_an_unusable_store_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        Client("phc_x", definitions_store=url)


def test_a_store_of_the_wrong_type_is_a_config_type_error() -> None:
    with pytest.raises(ConfigTypeError):
        Client("phc_x", definitions_store=42)


def test_store_urls_build_namespaced_stores_without_connecting(tmp_path: pathlib.Path) -> None:
    store = open_store(f"file://{tmp_path}?ttl=60", "proj")
    assert isinstance(store, FileStore) and store.directory == tmp_path / "proj"
    assert store.ttl == 60 and not (tmp_path / "proj").exists()  # nothing touched yet
    secret = open_store("redis://user:s3cret@127.0.0.1:1/2?prefix=app:flags&timeout=0.5", "proj")
    assert repr(secret) == "redis://127.0.0.1:1/2" and "s3cret" not in repr(secret)
    assert secret.keys["lease"] == "app:flags:{proj}:lease"  # type: ignore[attr-defined]
    secret.close()


# -- the official SDK's FlagDefinitionCacheProvider --------------------------------------------


class DictProvider:
    """A provider as users write them for the official SDK: a shared dict and a lock flag."""

    def __init__(self, shared: dict[str, Any], leader: bool) -> None:
        self.shared, self.leader, self.shut = shared, leader, False

    def get_flag_definitions(self) -> dict[str, Any] | None:
        return self.shared.get("data")

    def should_fetch_flag_definitions(self) -> bool:
        return self.leader

    def on_flag_definitions_received(self, data: dict[str, Any]) -> None:
        self.shared["data"] = data

    def shutdown(self) -> None:
        self.shut = True


class AsyncProvider(DictProvider):
    async def get_flag_definitions(self) -> dict[str, Any] | None:  # type: ignore[override]
        await asyncio.sleep(0)
        return self.shared.get("data")

    async def on_flag_definitions_received(self, data: dict[str, Any]) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.shared["data"] = data


@pytest.mark.parametrize("provider_class", [DictProvider, AsyncProvider])
def test_an_official_cache_provider_plugs_in_unchanged(fake: Any, provider_class: type) -> None:
    fake.set_flag("beta", payload={"x": 1})
    shared: dict[str, Any] = {}
    leader_provider = provider_class(shared, leader=True)
    follower_provider = provider_class(shared, leader=False)
    leader = fake.client(definitions_store=leader_provider, poll_interval=0.2)
    assert leader.get_feature_flag("beta", "u1") is True
    deadline = time.monotonic() + 5
    while "data" not in shared and time.monotonic() < deadline:  # written just after it is used
        time.sleep(0.01)
    assert set(shared["data"]) >= {"flags", "group_type_mapping", "cohorts"}
    follower = fake.client(
        personal_api_key=None, definitions_store=follower_provider, poll_interval=0.2
    )
    result = follower.get_feature_flag_result("beta", "u1")
    assert result is not None and result.locally_evaluated and result.payload == {"x": 1}
    assert follower.stats().flags.role == "follower"
    assert isinstance(follower._config.definitions_store, ProviderStore)
    fake.close()
    assert leader_provider.shut and follower_provider.shut  # shutdown() reaches the provider


def test_a_write_with_a_larger_fence_raises_the_counter(handles: Factory) -> None:
    """After a store lost its data, an old leader's larger fence wins once; fences stay
    monotonic, so the leader that came after it is refused and the next acquisition is larger."""
    store = handles()
    low = store.poll("new", 5.0).fence
    assert store.write(57, snapshot(b"old leader"), "57:old:1")
    assert store.write(low, snapshot(b"new leader"), f"{low}:new:2") is False
    store.release("new", low)
    assert store.poll("next", 5.0).fence == 58
