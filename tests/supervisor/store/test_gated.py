"""GatedStore (docs/persistence.md, "Testing"): writes wait until the test releases them."""

from __future__ import annotations

import trio
import trio.testing

from supervisor import GatedStore, MemoryStore, Snapshot, StateStore


async def test_writes_wait_at_the_gate_until_released_reads_pass() -> None:
    inner = MemoryStore()
    store = GatedStore(inner)
    assert isinstance(store, StateStore)
    done: list[str] = []

    async def write(key: str) -> None:
        await store.put(key, 1, 1, key.encode())
        done.append(key)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(write, "a")
        nursery.start_soon(write, "b")
        await store.wait_blocked(2)
        await trio.testing.wait_all_tasks_blocked()
        assert done == []
        assert await store.get("a") is None
        assert await inner.keys() == []
        store.release()
    assert sorted(done) == ["a", "b"]
    assert await store.get("a") == Snapshot(1, 1, b"a")
    assert store.blocked == 0

    store.hold()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.delete, "a")
        await store.wait_blocked(1)
        assert await store.keys() == ["a", "b"]
        store.release()
    assert await store.keys() == ["b"]
    await store.aclose()


async def test_a_write_cancelled_at_the_gate_writes_nothing(autojump_clock: trio.abc.Clock) -> None:
    store = GatedStore()
    with trio.move_on_after(1) as scope:
        await store.put("k", 1, 1, b"")
    assert scope.cancelled_caught
    assert store.blocked == 0
    store.release()
    assert await store.get("k") is None
