"""Persistent actors placed in a worker process: the root keeps the store (docs/persistence.md).

The worker restores the state before init and commits through the root; strict
mode's promise holds across the boundary. Real time with generous deadlines (a
worker computes outside any mock clock); the leak check makes sure no worker,
zombie or fd outlives a test.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
import trio
import trio.testing

from actors import (
    ActorRef,
    Crash,
    Placement,
    RootStateError,
    Runtime,
    SharedWorker,
    SnapshotError,
    StateError,
    open_runtime,
)
from actors import _frames as frames
from actors._remote_state import StateService
from actors._wire import LentErrors
from supervisor import GatedStore, MemoryStore, Snapshot, StaleGeneration, StoreFull, read_state
from tests.actors.persistent_actors import Counter
from tests.leaks import LeakCheck

LONG = 60.0
#: A state whose snapshot is over the frame limit (16 MiB less 64 KiB), not over a string's.
TOO_BIG = 16 * 1024 * 1024 - 32 * 1024


async def spawn_through(
    store: GatedStore, runtime: Runtime, key: str, placement: Placement = "process"
) -> ActorRef:
    """Spawn a Counter in a worker: its init commit passes the gate, which closes again."""
    spawned: list[ActorRef] = []

    async def spawn() -> None:
        spawned.append(await runtime.spawn(Counter, key=key, placement=placement))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(spawn)
        await store.wait_blocked(1)  # the new generation's claim, at the root's store
        store.release()
    store.hold()
    return spawned[0]


async def test_a_strict_call_in_a_worker_is_answered_only_after_the_root_committed(
    leaks: LeakCheck,
) -> None:
    store = GatedStore()
    async with open_runtime(store=store) as runtime:
        counter = await spawn_through(store, runtime, "c")
        pid = runtime.pid(counter)
        assert pid is not None
        leaks.watch(pid)
        answers: list[int] = []

        async def call(request: object) -> None:
            answers.append(await counter.call(request, timeout=LONG))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, "add")
            await store.wait_blocked(1)  # the worker's PUT reached the root's store
            # A reply sent before the PUT would have arrived before it, on the same link.
            await trio.testing.wait_all_tasks_blocked()
            assert answers == []
            store.release()
        assert answers == [1]
        stored = await read_state(store, "c")
        assert stored is not None
        assert stored.value == {"value": 1, "log": []}
        await runtime.stop(counter)


async def test_a_deferred_reply_and_the_next_message_wait_for_the_commit_of_a_cast(
    leaks: LeakCheck,
) -> None:
    store = GatedStore()
    async with open_runtime(store=store) as runtime:
        counter = await spawn_through(store, runtime, "c")
        leaks.watch(runtime.pid(counter) or 0)
        answers: list[tuple[str, int]] = []

        async def call(request: str) -> None:
            answers.append((request, await counter.call(request, timeout=LONG)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, "later")  # answered by the next cast, NoReply now
            assert await counter.call("get", timeout=LONG) == 0  # a read: no commit to wait for
            await counter.cast("add")
            await store.wait_blocked(1)
            nursery.start_soon(call, "get")  # handled only once the cast's change committed
            await trio.testing.wait_all_tasks_blocked()
            assert answers == []
            store.release()
        assert sorted(answers) == [("get", 1), ("later", 1)]
        await runtime.stop(counter)


async def test_a_store_error_reaches_the_strict_caller_and_is_the_crash_reason_as_itself(
    leaks: LeakCheck,
) -> None:
    store = MemoryStore(max_bytes=500)
    async with open_runtime(store=store) as runtime:
        counter = await runtime.spawn(Counter, key="c", placement="process")
        leaks.watch(runtime.pid(counter) or 0)
        assert await counter.call("add", timeout=LONG) == 1
        watch = runtime.watch(counter)
        with pytest.raises(StoreFull) as failed:  # the root store's own error, not a box
            await counter.call(("grow", 1000), timeout=LONG)
        assert isinstance(failed.value, StateError)
        reason = await watch.wait()
        assert isinstance(reason, Crash)
        assert isinstance(reason.exc, StoreFull)
        stored = await read_state(store, "c")
        assert stored is not None
        assert stored.value == {"value": 1, "log": []}  # memory never ran ahead of the store


async def test_a_snapshot_over_the_frame_limit_is_a_snapshot_error_and_commits_nothing(
    leaks: LeakCheck,
) -> None:
    store = MemoryStore()
    async with open_runtime(store=store) as runtime:
        counter = await runtime.spawn(Counter, key="c", placement="process")
        leaks.watch(runtime.pid(counter) or 0)
        assert await counter.call("add", timeout=LONG) == 1
        watch = runtime.watch(counter)
        with pytest.raises(SnapshotError, match=r"'c'.*frame limit"):
            await counter.call(("grow", TOO_BIG), timeout=LONG)
        reason = await watch.wait()
        assert isinstance(reason, Crash)
        assert isinstance(reason.exc, SnapshotError)
        stored = await read_state(store, "c")
        assert stored is not None
        assert stored.value == {"value": 1, "log": []}


async def test_persistent_actors_in_a_shared_worker_restore_after_its_kill(
    leaks: LeakCheck,
) -> None:
    store = MemoryStore()
    shared = SharedWorker("w")
    async with open_runtime(store=store) as runtime:
        first = [await runtime.spawn(Counter, key=k, placement=shared) for k in "ab"]
        pid = runtime.pid(first[0])
        assert pid is not None
        assert pid == runtime.pid(first[1])
        leaks.watch(pid)
        for n, counter in enumerate(first, 1):
            for _ in range(n):
                await counter.call("add", timeout=LONG)
        watches = [runtime.watch(counter) for counter in first]
        os.kill(pid, signal.SIGKILL)
        for watch in watches:
            await watch.wait()
        generations = [(await store.get(k)).generation for k in "ab"]  # type: ignore[union-attr]
        again = [await runtime.spawn(Counter, key=k, placement=shared) for k in "ab"]
        leaks.watch(runtime.pid(again[0]) or 0)
        assert [await c.call("get", timeout=LONG) for c in again] == [1, 2]
        snapshots: list[Any] = [await store.get(k) for k in "ab"]
        assert [s.generation for s in snapshots] == [g + 1 for g in generations]
        for counter in again:
            await runtime.stop(counter)


class _Wire:
    """What the root's state service sends, kept."""

    node = "root"

    def __init__(self) -> None:
        self.sent: list[list[Any]] = []

    def post(self, frame: list[Any]) -> None:
        self.sent.append(frame)


async def test_the_root_refuses_a_put_of_an_exited_incarnation_and_a_stale_generation() -> None:
    store, wire, lent = MemoryStore(), _Wire(), LentErrors("root")

    async def put(request: int, generation: int) -> Exception | None:
        service.put_requested("n1", frames.put("root", "n1", request, "k", generation, 1, b"v"))
        await trio.testing.wait_all_tasks_blocked()
        answer, error = frames.read_committed(wire.sent[-1])
        assert answer == request
        return error if error is None else lent.returned(error)  # type: ignore[arg-type]

    async with trio.open_nursery() as nursery:
        service = StateService(store, wire, nursery, lent)  # type: ignore[arg-type]
        service.placed("n1", "k")
        assert await put(1, 2) is None
        with pytest.raises(StaleGeneration):  # the store's own error, as lent and returned
            raise await put(2, 1) or AssertionError("accepted")
        service.removed("n1", "k")  # its actor exited: a late put is refused
        refused = await put(3, 2)
        assert isinstance(refused, StateError)
        assert isinstance(wire.sent[-1][-1], RootStateError)  # what the worker gets
        assert "holds no actor with the state key 'k'" in str(refused)
    assert await store.get("k") == Snapshot(2, 1, b"v")
