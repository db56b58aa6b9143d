"""Persistent actors in the actor layer: restore before init, durability modes, failures.

See docs/persistence.md ("Persistent actors"). The store here is the synchronous
fake of tests/actors/stores.py, safe under autojump_clock.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import (
    ON_SHUTDOWN,
    ActorExited,
    Crash,
    InitError,
    NoStateStore,
    Periodic,
    SnapshotError,
    SnapshotTooNew,
    open_runtime,
)
from spawn import Codec

from .persistent_actors import Counter, CounterV1, Unencodable
from .stores import FakeStore


def stored_value(store: FakeStore, key: str) -> object:
    return Codec().decode(store.values[key].data)


async def test_strict_commits_each_change_and_a_restart_after_a_crash_restores_it() -> None:
    store = FakeStore()
    async with open_runtime(store=store) as runtime:
        ref = await runtime.spawn(Counter, 40, key="c")
        assert store.puts == [("c", 1)]  # the start claims generation 1
        assert [await ref.call("add") for _ in range(2)] == [41, 42]
        assert stored_value(store, "c") == {"value": 42, "log": []}
        assert await ref.call("get") == 42
        assert len(store.puts) == 3  # the read committed nothing
        with pytest.raises(ActorExited):
            await ref.call("boom")  # a handler that raises commits nothing
        again = await runtime.spawn(Counter, 0, key="c")
        assert await again.call("get") == 42  # restored; start's argument unused
        assert store.values["c"].generation == 2
        await runtime.stop(again)


async def test_a_deferred_reply_waits_for_the_commit_of_its_change() -> None:
    store = FakeStore()
    async with open_runtime(store=store) as runtime:
        ref = await runtime.spawn(Counter, key="c")
        answers: list[int] = []

        async def later() -> None:
            answers.append(await ref.call("later"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(later)
            await trio.testing.wait_all_tasks_blocked()
            store.gate = trio.Event()
            await ref.cast("add")
            await trio.testing.wait_all_tasks_blocked()
            assert store.waiting == 1
            assert answers == []
            store.gate.set()
            store.gate = None
        assert answers == [1]
        assert stored_value(store, "c") == {"value": 1, "log": []}
        await runtime.stop(ref)


async def test_a_failed_commit_crashes_the_actor_and_the_caller_gets_the_error() -> None:
    store = FakeStore()
    async with open_runtime(store=store) as runtime:
        ref = await runtime.spawn(Counter, key="c")
        await ref.call("add")
        watch = runtime.watch(ref)
        store.fail_with = OSError("disk full")
        with pytest.raises(OSError, match="disk full"):
            await ref.call("add")
        reason = await watch.wait()
        assert isinstance(reason, Crash)
        assert isinstance(reason.exc, OSError)
        assert stored_value(store, "c") == {"value": 1, "log": []}


async def test_an_unencodable_or_too_large_state_is_a_snapshot_error() -> None:
    store = FakeStore()
    async with open_runtime(store=store) as runtime:
        ref = await runtime.spawn(Unencodable, key="u")
        with pytest.raises(SnapshotError, match="'u' cannot be persisted"):
            await ref.call("change")
        big = await runtime.spawn(Counter, key="big")
        with pytest.raises(SnapshotError, match="frame limit"):
            await big.call(("grow", 17 * 1024 * 1024))
        assert stored_value(store, "big") == {"value": 0, "log": []}


async def test_periodic_commits_every_n_messages_and_on_a_graceful_stop() -> None:
    store = FakeStore()
    async with open_runtime(store=store) as runtime:
        ref = await runtime.spawn(Counter, key="c", durability=Periodic(messages=3))
        for _ in range(5):
            await ref.call("add")
        assert stored_value(store, "c") == {"value": 3, "log": []}
        await runtime.stop(ref)
        assert stored_value(store, "c") == {"value": 5, "log": []}
        crashing = await runtime.spawn(Counter, key="c", durability=Periodic(messages=3))
        await crashing.call("add")
        with pytest.raises(ActorExited):
            await crashing.call("boom")  # a crash commits nothing it had not committed
        assert stored_value(store, "c") == {"value": 5, "log": []}


async def test_periodic_by_time_commits_an_idle_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = FakeStore()
    async with open_runtime(store=store) as runtime:
        ref = await runtime.spawn(Counter, key="c", durability=Periodic(seconds=2.0))
        await ref.call("add")
        await trio.sleep(1.0)
        assert stored_value(store, "c") == {"value": 0, "log": []}
        await trio.sleep(1.5)
        assert stored_value(store, "c") == {"value": 1, "log": []}
        await runtime.stop(ref)


async def test_on_shutdown_commits_only_on_a_graceful_stop() -> None:
    store = FakeStore()
    async with open_runtime(store=store) as runtime:
        ref = await runtime.spawn(Counter, key="c", durability=ON_SHUTDOWN)
        await ref.call("add")
        assert await ref.call("stop") == 1
        await runtime.wait(ref)
        assert stored_value(store, "c") == {"value": 1, "log": []}
        killed = await runtime.spawn(Counter, key="c", durability=ON_SHUTDOWN)
        await killed.call("add")
        runtime.kill(killed)
        await runtime.wait(killed)
        assert stored_value(store, "c") == {"value": 1, "log": []}


async def test_a_newer_version_migrates_an_older_snapshot() -> None:
    store = FakeStore()
    async with open_runtime(store=store) as runtime:
        old = await runtime.spawn(CounterV1, key="c")
        await old.call("add")
        await runtime.stop(old)
        assert store.values["c"].version == 1
        new = await runtime.spawn(Counter, key="c")
        assert await new.call("add") == 2
        assert store.values["c"].version == 2
        await runtime.stop(new)


async def test_a_snapshot_newer_than_the_code_is_refused_and_kept() -> None:
    store = FakeStore()
    async with open_runtime(store=store) as runtime:
        new = await runtime.spawn(Counter, 7, key="c")
        await runtime.stop(new)
        kept = store.values["c"]
        with pytest.raises(InitError) as caught:
            await runtime.spawn(CounterV1, key="c")
        assert isinstance(caught.value.__cause__, SnapshotTooNew)
        assert "version 2" in str(caught.value.__cause__)
        assert store.values["c"] == kept


async def test_opting_in_needs_a_store_and_a_key() -> None:
    async with open_runtime() as runtime:
        with pytest.raises(NoStateStore, match="needs a store"):
            await runtime.spawn(Counter)
    async with open_runtime(store=FakeStore()) as runtime:
        with pytest.raises(NoStateStore, match="key="):
            await runtime.spawn(Counter)
        ref = await runtime.spawn(Counter, key="c")
        with pytest.raises(ValueError, match="held by"):
            await runtime.spawn(Counter, key="c")
        await runtime.stop(ref)
