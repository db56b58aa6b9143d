"""The richer child facts: describe_children and describe_tree beside which_children."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from actors import Actor, NoReply, Runtime, open_runtime
from supervisor import (
    ChildKind,
    ChildSpec,
    ChildState,
    Restart,
    Strategy,
    Supervisor,
    open_tree,
)
from tests.leaks import LeakCheck
from tests.supervisor.helpers import child, crash, settle
from tests.supervisor.workers import Log, Numbered


async def test_restart_count_start_time_and_last_exit_follow_a_crash(
    runtime: Runtime, log: Log
) -> None:
    spec = Supervisor(intensity=5, children=[child(log, "a"), child(log, "b")])
    async with open_tree(spec, runtime=runtime) as root:
        before, other = await root.describe_children()
        assert (before.id, before.state, before.restarts, before.last_exit) == (
            "a",
            ChildState.RUNNING,
            0,
            None,
        )
        assert before.kind is ChildKind.WORKER
        assert before.placement == "task"
        assert before.started_at is not None
        assert before.pid is None
        await crash(root.child("a"))
        after, other_after = await root.describe_children()
        assert after.restarts == 1
        assert after.ref not in (None, before.ref)
        assert after.started_at is not None
        assert after.started_at > before.started_at
        assert after.last_exit is not None
        assert "a crashed on request" in after.last_exit
        assert other_after.restarts == 0
        assert other_after.ref == other.ref
        assert [info.id for info in await root.which_children()] == ["a", "b"]  # OTP's shape


async def test_a_stopped_child_and_a_temporary_one(runtime: Runtime, log: Log) -> None:
    spec = Supervisor(children=[child(log, "a"), child(log, "t", restart=Restart.TEMPORARY)])
    async with open_tree(spec, runtime=runtime) as root:
        await root.terminate_child("a")
        (a, t) = await root.describe_children()
        assert a.state is ChildState.STOPPED
        assert a.ref is None
        assert a.degraded
        assert a.last_exit == "shutdown"
        assert t.state is ChildState.RUNNING
        assert not t.degraded
        tree = await root.describe_tree()
        assert tree.degraded
        assert tree.path == "/"


class Blocking(Actor):
    """Handles its first cast by waiting for the gate: what comes after it waits in line."""

    async def init(self, gate: trio.Event) -> None:
        self.gate = gate

    async def handle_cast(self, message: object) -> NoReply:
        await self.gate.wait()
        return NoReply()


async def test_mailbox_depth_of_a_busy_child(runtime: Runtime) -> None:
    gate = trio.Event()
    spec = Supervisor(children=[ChildSpec("a", Blocking, args=(gate,))])
    async with open_tree(spec, runtime=runtime) as root:
        address = root.child("a")
        for n in range(4):
            await address.cast(n)
        await settle()
        (a,) = await root.describe_children()
        assert a.mailbox_depth == 3
        gate.set()
        await settle()
        (a,) = await root.describe_children()
        assert a.mailbox_depth == 0


async def test_the_tree_walk_nests_supervisors_and_names_dynamic_children(
    runtime: Runtime, log: Log
) -> None:
    pool = Supervisor(
        strategy=Strategy.SIMPLE_ONE_FOR_ONE,
        children=[ChildSpec("n", Numbered, args=(log, None), restart=Restart.TRANSIENT)],
    )
    inner = Supervisor(children=[child(log, "leaf")])
    spec = Supervisor(
        children=[ChildSpec("inner", inner), ChildSpec("pool", pool), child(log, "top")]
    )
    async with open_tree(spec, runtime=runtime) as root:
        ref = await root.supervisor("pool").start_child("one")
        assert ref is not None
        tree = await root.describe_tree()
        assert [c.id for c in tree.children] == ["inner", "pool", "top"]
        inner_status = tree.children[0].supervisor
        assert inner_status is not None
        assert inner_status.path == "/inner"
        assert [(c.id, c.path) for c in inner_status.children] == [("leaf", "inner/leaf")]
        pool_status = tree.children[1].supervisor
        assert pool_status is not None
        (dynamic,) = pool_status.children
        assert dynamic.id == f"{ref.node}.{ref.id}"
        assert dynamic.path == f"pool/{dynamic.id}"
        assert [c.path for c in tree.walk()] == [
            "inner",
            "inner/leaf",
            "pool",
            dynamic.path,
            "top",
        ]
        assert not tree.degraded
        assert tree.children[0].supervisor is not None
        assert (await root.describe_children())[0].supervisor is None  # one level only


@pytest.fixture
async def process_runtime(leaks: LeakCheck) -> AsyncIterator[Runtime]:
    async with open_runtime() as rt:
        yield rt


async def test_pid_of_a_process_child_is_its_worker(
    process_runtime: Runtime, leaks: LeakCheck
) -> None:
    spec = Supervisor(children=[ChildSpec("p", Actor, placement="process")])
    async with open_tree(spec, runtime=process_runtime) as root:
        (p,) = await root.describe_children()
        assert p.ref is not None
        assert p.placement == "process"
        assert p.pid is not None
        assert p.pid == process_runtime.pid(p.ref)
        leaks.watch(p.pid)
        assert p.mailbox_depth == 0
