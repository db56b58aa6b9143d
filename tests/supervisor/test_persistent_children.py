"""Persistent children in a tree: keys by path, the store check, delete_child, the gate.

See docs/persistence.md ("Persistent actors", "Keys").
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import Periodic, open_runtime
from supervisor import (
    AlreadyStarted,
    ChildSpec,
    GatedStore,
    InvalidSpec,
    MemoryStore,
    Strategy,
    Supervisor,
    drop_state,
    open_tree,
    read_state,
)
from tests.actors.persistent_actors import Counter

from .workers import Worker

TREE = Supervisor(
    children=[
        ChildSpec("counter", Counter),
        ChildSpec("sub", Supervisor(children=[ChildSpec("inner", Counter, args=(10,))])),
    ]
)
SESSIONS = Supervisor(strategy=Strategy.SIMPLE_ONE_FOR_ONE, children=[ChildSpec("s", Counter)])


async def test_children_keep_their_state_under_their_path_across_restarts() -> None:
    store = MemoryStore()
    async with open_tree(TREE, store=store) as root:
        counter = root.child("counter")
        for _ in range(3):
            await counter.call("add")
        await root.child("sub/inner").call("add")
        first = counter.whereis()
        assert first is not None
        with pytest.raises(Exception, match="boom"):
            await counter.call("boom")
        assert await counter.call("get") == 3  # restarted, restored
        assert counter.whereis() != first
    assert await store.keys() == ["counter", "sub/inner"]
    found = await read_state(store, "sub/inner")
    assert found is not None
    assert found.value == {"value": 11, "log": []}
    assert found.version == Counter.state_version


async def test_a_persistent_child_needs_a_store_and_a_mode_needs_a_persistent_child() -> None:
    nested = Supervisor(children=[TREE.children[1]])
    with pytest.raises(InvalidSpec, match="'sub/inner': start: Counter is Persistent"):
        async with open_tree(nested):
            pass
    plain = Supervisor(children=[ChildSpec("p", Worker, durability=Periodic(messages=2))])
    with pytest.raises(InvalidSpec, match="'p': durability"):
        async with open_tree(plain, store=MemoryStore()):
            pass
    in_process = Supervisor(children=[ChildSpec("c", Counter, placement="process")])
    with pytest.raises(InvalidSpec, match="'c': start: Counter is Persistent"):
        async with open_tree(in_process):  # in a process too: the root keeps the store
            pass
    with pytest.raises(InvalidSpec, match="durability"):
        async with open_tree(Supervisor(children=[ChildSpec("c", Counter, durability=3)])):  # type: ignore[arg-type]
            pass


async def test_dynamic_children_persist_by_key() -> None:
    store = MemoryStore()
    async with open_runtime(store=store) as runtime, open_tree(SESSIONS, runtime=runtime) as root:
        with pytest.raises(InvalidSpec, match="key="):
            await root.start_child()
        alice = await root.start_child(key="alice")
        assert alice is not None
        with pytest.raises(AlreadyStarted):
            await root.start_child(key="alice")
        await alice.call("add")
        await alice.call("add")
        await root.terminate_child(alice)
        again = await root.start_child(key="alice")
        assert again is not None
        assert await again.call("get") == 2  # a child with that key starts from its state
    assert await store.keys() == ["alice"]


async def test_delete_child_and_drop_state_forget_the_state() -> None:
    store = MemoryStore()
    async with open_tree(TREE, store=store) as root:
        await root.child("counter").call("add")
        await root.terminate_child("counter")
        await root.delete_child("counter")
        assert await store.keys() == ["sub/inner"]
        assert await drop_state(store, "sub/inner")
        assert await read_state(store, "sub/inner") is None
        await root.supervisor("sub").terminate_child("inner")
        await root.supervisor("sub").restart_child("inner")
        assert await root.child("sub/inner").call("get") == 10  # started afresh


async def test_neither_a_call_nor_a_deferred_reply_returns_before_the_commit() -> None:
    store = GatedStore()
    store.release()  # let the children start (their first commit claims a generation)
    async with open_tree(TREE, store=store) as root:
        counter = root.child("counter")
        store.hold()
        answers: list[object] = []

        async def call(request: str) -> None:
            answers.append((request, await counter.call(request)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, "later")
            await trio.testing.wait_all_tasks_blocked()
            await counter.cast("bump")  # answers "later" with its new value
            nursery.start_soon(call, "add")
            await store.wait_blocked(1)
            await trio.testing.wait_all_tasks_blocked()
            assert answers == []
            assert (await read_state(store, "counter")).value == {"value": 0, "log": []}  # type: ignore[union-attr]
            store.release()
        assert answers == [("later", 1), ("add", 2)]
