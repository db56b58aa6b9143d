"""What every state store does, whatever keeps it (docs/persistence.md)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from supervisor import MemoryStore, Snapshot, StaleGeneration, StateStore, StoreFull

from .conftest import OpenStore


async def test_put_get_delete_keys(open_store: OpenStore) -> None:
    async with open_store() as store:
        assert isinstance(store, StateStore)
        assert await store.get("tree/a") is None
        await store.put("tree/a", 1, 1, b"\x01")
        await store.put("tree/b", 1, 7, b"\x02")
        await store.put("other", 3, 1, b"")
        assert await store.get("tree/a") == Snapshot(1, 1, b"\x01")
        assert await store.keys() == ["other", "tree/a", "tree/b"]
        assert await store.keys("tree/") == ["tree/a", "tree/b"]
        assert await store.keys("tree/a") == ["tree/a"]
        assert await store.keys("nothing") == []
        assert await store.delete("tree/a") is True
        assert await store.delete("tree/a") is False
        assert await store.get("tree/a") is None
        assert await store.keys() == ["other", "tree/b"]


async def test_a_lower_generation_is_refused_an_equal_or_higher_one_replaces(
    open_store: OpenStore,
) -> None:
    async with open_store() as store:
        await store.put("k", 5, 1, b"five")
        with pytest.raises(StaleGeneration, match=r"key 'k': generation 4 .* stored generation 5"):
            await store.put("k", 4, 9, b"four")
        assert await store.get("k") == Snapshot(5, 1, b"five")
        await store.put("k", 5, 2, b"five again")
        assert await store.get("k") == Snapshot(5, 2, b"five again")
        await store.put("k", 6, 1, b"six")
        assert await store.get("k") == Snapshot(6, 1, b"six")
        await store.delete("k")
        await store.put("k", 1, 1, b"after delete")  # a deleted key keeps no generation
        assert await store.get("k") == Snapshot(1, 1, b"after delete")


async def test_concurrent_puts_share_transactions_and_return_once_committed(
    open_store: OpenStore,
) -> None:
    async with open_store() as store:
        before = store.statistics()
        seen: dict[str, Snapshot | None] = {}

        async def writer(n: int) -> None:
            await store.put(f"w{n}", 1, n, n.to_bytes(2, "big"))
            seen[f"w{n}"] = await store.get(f"w{n}")

        async with trio.open_nursery() as nursery:
            for n in range(100):
                nursery.start_soon(writer, n)
        after = store.statistics()
        assert after.writes - before.writes == 100
        # The first put commits alone; the 99 that queued meanwhile share the next one.
        assert after.transactions - before.transactions == 2
        assert seen == {f"w{n}": Snapshot(1, n, n.to_bytes(2, "big")) for n in range(100)}


async def test_a_stale_put_fails_alone_in_its_transaction(open_store: OpenStore) -> None:
    async with open_store() as store:
        await store.put("k", 2, 1, b"2")
        results: dict[str, str] = {}

        async def writer(key: str, generation: int) -> None:
            try:
                await store.put(key, generation, 1, b"new")
                results[key] = "ok"
            except StaleGeneration:
                results[key] = "stale"

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer, "first", 1)
            await trio.lowlevel.checkpoint()
            nursery.start_soon(writer, "k", 1)
            nursery.start_soon(writer, "other", 1)
        assert results == {"first": "ok", "k": "stale", "other": "ok"}
        assert await store.get("k") == Snapshot(2, 1, b"2")
        assert await store.get("other") == Snapshot(1, 1, b"new")


async def test_a_transaction_that_does_not_fit_fails_every_writer_and_keeps_the_old_values(
    open_store: OpenStore,
) -> None:
    async with open_store(small=True) as store:
        await store.put("kept", 1, 1, b"k" * 1000)
        failed: list[str] = []

        async def writer(n: int) -> None:
            try:
                await store.put(f"big{n}", 1, 1, bytes([n]) * 4000)
            except StoreFull:
                failed.append(f"big{n}")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.put, "kept", 1, 2, b"k" * 1000)
            await trio.lowlevel.checkpoint()
            for n in range(20):
                nursery.start_soon(writer, n)
        assert sorted(failed) == sorted(f"big{n}" for n in range(20))
        assert await store.keys() == ["kept"]
        assert await store.get("kept") == Snapshot(1, 2, b"k" * 1000)
        await store.put("after", 1, 1, b"a")  # the store goes on
        assert await store.keys() == ["after", "kept"]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((1, 1, 1, b""), TypeError, r"a store key must be a str, not int \(1\)"),
        (("", 1, 1, b""), ValueError, "must not be empty"),
        (("k", "1", 1, b""), TypeError, r"generation must be an int, not str \('1'\)"),
        (("k", 1, True, b""), TypeError, "version must be an int, not bool"),
        (("k", -1, 1, b""), ValueError, "generation must be between 0 and 2\\*\\*63 - 1, not -1"),
        (("k", 1, 2**63, b""), ValueError, "version must be between"),
        (("k", 1, 1, "text"), TypeError, "data must be bytes, not str"),
    ],
)
async def test_bad_arguments_are_refused_by_name(
    open_store: OpenStore, args: tuple[object, ...], error: type[Exception], message: str
) -> None:
    async with open_store() as store:
        with pytest.raises(error, match=message):
            await store.put(*args)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="a key prefix must be a str, not bytes"):
            await store.keys(b"x")  # type: ignore[arg-type]
        assert await store.keys() == []


async def test_a_closed_store_refuses_operations(open_store: OpenStore) -> None:
    async with open_store() as store:
        await store.put("k", 1, 1, b"")
    with pytest.raises(trio.ClosedResourceError, match="closed"):
        await store.put("k", 1, 2, b"")
    with pytest.raises(trio.ClosedResourceError, match="closed"):
        await store.get("k")


async def test_aclose_commits_the_queued_writes_first(open_store: OpenStore) -> None:
    returned: list[int] = []

    async def writer(store: StateStore, n: int) -> None:
        await store.put(f"k{n}", 1, 1, b"")
        returned.append(n)

    async with open_store() as store:
        async with trio.open_nursery() as nursery:
            for n in range(10):
                nursery.start_soon(writer, store, n)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(store.aclose)
        assert sorted(returned) == list(range(10))
        assert store.statistics().writes == 10


@pytest.mark.parametrize("bad", [-1, True, 1.5, "10"])
def test_memory_store_refuses_a_bad_max_bytes(bad: object) -> None:
    with pytest.raises(
        ValueError, match=f"max_bytes must be a non-negative int or None, not {bad!r}$"
    ):
        MemoryStore(max_bytes=bad)  # type: ignore[arg-type]
