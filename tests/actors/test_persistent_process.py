"""Persistent actors placed in a worker process: the root keeps the store (docs/persistence.md).

The worker restores the state before init and commits through the root; strict
mode's promise holds across the boundary. Real time with generous deadlines (a
worker computes outside any mock clock); the leak check makes sure no worker,
zombie or fd outlives a test.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from actors import (
    ActorRef,
    Crash,
    RootStateError,
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


@asynccontextmanager
async def gated_counter(leaks: LeakCheck) -> AsyncIterator[tuple[GatedStore, ActorRef]]:
    """A Counter (key "c") in a worker, committing to a GatedStore: its init commit passes
    the gate, which then closes again. It is stopped at the end."""
    store = GatedStore()
    async with open_runtime(store=store) as runtime:
        spawned: list[ActorRef] = []

        async def spawn() -> None:
            spawned.append(await runtime.spawn(Counter, key="c", placement="process"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(spawn)
            await store.wait_blocked(1)  # the new generation's claim, at the root's store
            store.release()
        store.hold()
        [counter] = spawned
        pid = runtime.pid(counter)
        assert pid is not None
        leaks.watch(pid)
        yield store, counter
        store.release()
        await runtime.stop(counter)


async def call(counter: ActorRef, request: str, answers: list[tuple[str, int]]) -> None:
    answers.append((request, await counter.call(request, timeout=LONG)))


async def test_a_strict_call_in_a_worker_is_answered_only_after_the_root_committed(
    leaks: LeakCheck,
) -> None:
    async with gated_counter(leaks) as (store, counter):
        answers: list[tuple[str, int]] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, counter, "add", answers)
            await store.wait_blocked(1)  # the worker's PUT reached the root's store
            # A reply sent before the PUT would have arrived before it, on the same link.
            await trio.testing.wait_all_tasks_blocked()
            assert answers == []
            store.release()
        assert answers == [("add", 1)]
        stored = await read_state(store, "c")
        assert stored is not None
        assert stored.value == {"value": 1, "log": []}


async def test_a_deferred_reply_and_the_next_message_wait_for_the_commit_of_a_cast(
    leaks: LeakCheck,
) -> None:
    async with gated_counter(leaks) as (store, counter):
        answers: list[tuple[str, int]] = []
        async with trio.open_nursery() as nursery:
            # Answered by the next cast (NoReply now); a read waits for no commit.
            nursery.start_soon(call, counter, "later", answers)
            assert await counter.call("get", timeout=LONG) == 0
            await counter.cast("add")
            await store.wait_blocked(1)
            # Handled only once the cast's change committed.
            nursery.start_soon(call, counter, "get", answers)
            await trio.testing.wait_all_tasks_blocked()
            assert answers == []
            store.release()
        assert sorted(answers) == [("get", 1), ("later", 1)]


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
