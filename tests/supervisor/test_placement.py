"""Supervision (docs/semantics.md §5 to §9) is the same for children in tasks, in processes
and in a shared worker.

Real time with generous deadlines (a worker process computes outside any mock
clock); outcomes and order are asserted, never speed. The leak check makes
sure no worker, zombie or fd outlives a test.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from actors import (
    KILLED,
    ActorExited,
    ActorRef,
    Placement,
    Runtime,
    SharedWorker,
    Shutdown,
    open_runtime,
)
from supervisor import ChildAddress, ChildSpec, Restart, Strategy, Supervisor, TreeExited, open_tree
from tests.actors.probe import Recorder
from tests.leaks import LeakCheck
from tests.support import eventually, pid_from_file

from .placed_workers import Gate, Gated, Reporting

PLACEMENTS: dict[str, Placement] = {
    "task": "task",
    "process": "process",
    "shared": SharedWorker("w"),
}
LONG = 60.0


@pytest.fixture(params=list(PLACEMENTS), ids=list(PLACEMENTS))
def placement(request: pytest.FixtureRequest) -> Placement:
    return PLACEMENTS[request.param]


@pytest.fixture
async def runtime(leaks: LeakCheck) -> AsyncIterator[Runtime]:
    async with open_runtime() as rt:
        yield rt


async def events_until(recorder: ActorRef, count: int) -> list[Any]:
    """The recorder's events once there are ``count`` of them (at most LONG seconds)."""

    async def enough() -> list[Any] | None:
        events: list[Any] = await recorder.call("events")
        return events if len(events) >= count else None

    return await eventually(enough, what=f"{count} events", timeout=LONG)


async def new_incarnation(address: ChildAddress, old: ActorRef | None) -> ActorRef:
    async def changed() -> ActorRef | None:
        await trio.lowlevel.checkpoint()
        ref = address.whereis()
        return None if ref in (None, old) else ref

    return await eventually(changed, what="a restart", timeout=LONG)


def specs(
    recorder: ActorRef, placement: Placement, *names: str, restart: Restart = Restart.PERMANENT
) -> list[ChildSpec]:
    return [
        ChildSpec(name, Reporting, args=(name, recorder), restart=restart, placement=placement)
        for name in names
    ]


async def test_item5_a_crashed_permanent_child_is_restarted_as_a_new_incarnation(
    runtime: Runtime, placement: Placement
) -> None:
    recorder = await runtime.spawn(Recorder)
    tree = Supervisor(intensity=5, children=specs(recorder, placement, "a"))
    async with open_tree(tree, runtime=runtime) as root:
        first = root.child("a").whereis()
        await root.child("a").cast("crash")
        events = await events_until(recorder, 3)
        assert events == [("start", "a"), ("exit", "a"), ("start", "a")]
        second = await new_incarnation(root.child("a"), first)
        assert await root.child("a").call("pid", timeout=LONG) > 0
        assert second != first


async def test_item5_transient_and_temporary_children_after_a_normal_exit(
    runtime: Runtime, placement: Placement
) -> None:
    from actors import NORMAL

    recorder = await runtime.spawn(Recorder)
    children = [
        *specs(recorder, placement, "transient", restart=Restart.TRANSIENT),
        *specs(recorder, placement, "temporary", restart=Restart.TEMPORARY),
    ]
    async with open_tree(Supervisor(children=children), runtime=runtime) as root:
        await root.child("transient").call(("stop", NORMAL), timeout=LONG)
        await root.child("temporary").call(("stop", NORMAL), timeout=LONG)
        await events_until(recorder, 4)

        async def settled() -> list[tuple[str | None, Any]] | None:
            infos = [(info.id, info.ref) for info in await root.which_children()]
            return infos if infos == [("transient", None)] else None

        await eventually(settled, what="the children settle", timeout=LONG)


async def test_item8_rest_for_one_stops_and_restarts_in_order(
    runtime: Runtime, placement: Placement
) -> None:
    recorder = await runtime.spawn(Recorder)
    tree = Supervisor(
        strategy=Strategy.REST_FOR_ONE, intensity=5, children=specs(recorder, placement, *"abc")
    )
    async with open_tree(tree, runtime=runtime) as root:
        await events_until(recorder, 3)
        await root.child("b").cast("crash")
        events = await events_until(recorder, 7)
    assert events[3:7] == [("exit", "b"), ("stop", "c"), ("start", "b"), ("start", "c")]


async def test_item6_restarts_beyond_the_intensity_escalate(
    runtime: Runtime, placement: Placement
) -> None:
    recorder = await runtime.spawn(Recorder)
    tree = Supervisor(intensity=1, period=LONG, children=specs(recorder, placement, "a"))

    async def crash_twice() -> None:
        async with open_tree(tree, runtime=runtime) as root:
            first = root.child("a").whereis()
            await root.child("a").cast("crash")
            await events_until(recorder, 3)
            # The start event comes from the new incarnation's init, before its supervisor
            # knows the new ref: a cast by path now could reach the dead one and be lost.
            await new_incarnation(root.child("a"), first)
            await root.child("a").cast("crash")
            await trio.sleep_forever()  # the tree's exit cancels this

    with trio.fail_after(LONG), pytest.raises(TreeExited):
        await crash_twice()


async def test_item6_a_restart_whose_init_ran_is_sent_to_once_its_supervisor_has_it(
    runtime: Runtime, placement: Placement
) -> None:
    """Regression: item 6 hung when its second crash went to the dead incarnation.

    A process child's init reports its start (a cast) before it returns, and the
    worker's answer to the spawn request leaves in a later write; in between, the
    child's path still names the dead incarnation and a cast by path is a dead
    letter. The gate holds the new incarnation's init in that window.
    """
    recorder = await runtime.spawn(Recorder)
    gate = await runtime.spawn(Gate)
    spec = ChildSpec("a", Gated, args=("a", recorder, gate), placement=placement)
    tree = Supervisor(intensity=1, period=LONG, children=[spec])

    async def crash_twice() -> None:
        async with open_tree(tree, runtime=runtime) as root:
            first = root.child("a").whereis()
            assert first is not None
            await gate.call("close")
            await root.child("a").cast("crash")
            events = await events_until(recorder, 3)
            assert events == [("start", "a"), ("exit", "a"), ("start", "a")]
            # The new init ran, and waits at the gate: the path still names the dead one.
            assert root.child("a").whereis() == first
            assert not runtime.is_alive(first)
            assert await gate.call("open") == 1
            await new_incarnation(root.child("a"), first)
            await root.child("a").cast("crash")
            await trio.sleep_forever()  # the tree's exit cancels this

    with trio.fail_after(LONG), pytest.raises(TreeExited):
        await crash_twice()


async def test_item7_one_one_for_all_event_counts_once(
    runtime: Runtime, placement: Placement
) -> None:
    """With intensity 1, one crash restarts all three children, and that counts once."""
    recorder = await runtime.spawn(Recorder)
    tree = Supervisor(
        strategy=Strategy.ONE_FOR_ALL,
        intensity=1,
        period=LONG,
        children=specs(recorder, placement, *"abc"),
    )
    async with open_tree(tree, runtime=runtime) as root:
        await events_until(recorder, 3)
        first_c = root.child("c").whereis()
        await root.child("b").cast("crash")
        events = await events_until(recorder, 9)
        assert events[3:9] == [
            ("exit", "b"),
            ("stop", "c"),
            ("stop", "a"),
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
        ]
        # c's start event comes from its init, before its supervisor has the new ref.
        await new_incarnation(root.child("c"), first_c)
        assert await root.child("c").call("pid", timeout=LONG) > 0  # the tree is still up


async def test_item7_a_child_whose_init_ran_is_called_once_its_supervisor_has_it(
    runtime: Runtime, placement: Placement
) -> None:
    """Regression: item 7 failed with ChildNotRunning when it called c too early.

    In a one_for_all restart c's path is stopped until its supervisor has c's new
    ref, which is after c's init reported its start. The gate holds c's init there.
    """
    recorder = await runtime.spawn(Recorder)
    gate = await runtime.spawn(Gate)
    children = [
        *specs(recorder, placement, "a", "b"),
        ChildSpec("c", Gated, args=("c", recorder, gate), placement=placement),
    ]
    tree = Supervisor(strategy=Strategy.ONE_FOR_ALL, intensity=1, period=LONG, children=children)
    async with open_tree(tree, runtime=runtime) as root:
        await events_until(recorder, 3)
        first_c = root.child("c").whereis()
        await gate.call("close")
        await root.child("b").cast("crash")
        assert (await events_until(recorder, 9))[8] == ("start", "c")
        assert root.child("c").whereis() is None  # held at the gate: not running yet
        # c's call to the gate follows its start event, and may still be on its way.
        await eventually(lambda: gate.call("held"), what="c's init to reach the gate")
        assert await gate.call("open") == 1
        await new_incarnation(root.child("c"), first_c)
        assert await root.child("c").call("pid", timeout=LONG) > 0


async def test_item9_a_failed_restart_is_retried_and_each_retry_counts(
    runtime: Runtime, placement: Placement
) -> None:
    recorder = await runtime.spawn(Recorder)
    tree = Supervisor(intensity=3, period=LONG, children=specs(recorder, placement, "a"))

    async def crash_until_it_gives_up() -> None:
        async with open_tree(tree, runtime=runtime) as root:
            await events_until(recorder, 1)
            await recorder.call(("failures", "a", 2))  # the next two inits fail
            await root.child("a").cast("crash")
            events = await events_until(recorder, 3)
            assert events == [("start", "a"), ("exit", "a"), ("start", "a")]
            assert await root.child("a").call("pid", timeout=LONG) > 0
            # A crash and two failed restarts used up the intensity of 3: one more
            # crash escalates, which cancels this body.
            await root.child("a").cast("crash")
            await trio.sleep_forever()

    with trio.fail_after(LONG), pytest.raises(TreeExited):
        await crash_until_it_gives_up()


async def test_sigkill_of_a_worker_mid_call_fails_the_call_and_the_child_is_restarted(
    runtime: Runtime, leaks: LeakCheck, tmp_path: Path
) -> None:
    """SIGKILL of a worker during a call with a 60 s timeout: the call fails at once with
    reason killed, and the supervisor restarts the child in a new worker."""
    recorder = await runtime.spawn(Recorder)
    tree = Supervisor(intensity=5, children=specs(recorder, "process", "parser"))
    async with open_tree(tree, runtime=runtime) as root:
        parser = root.child("parser")
        first = parser.whereis()
        pid = await parser.call("pid", timeout=LONG)
        leaks.watch(pid)
        outcome: list[Any] = []
        marker = tmp_path / "busy"

        async def long_call() -> None:
            try:
                await parser.call(("busy", str(marker), 3600), timeout=LONG)
            except ActorExited as exc:
                outcome.append(exc.reason)

        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(long_call)
            assert await pid_from_file(marker, timeout=LONG) == pid  # mid-call from here
            os.kill(pid, signal.SIGKILL)
        assert outcome == [KILLED]
        assert trio.current_time() - started < LONG / 2
        await new_incarnation(parser, first)
        new_pid = await parser.call("pid", timeout=LONG)
        assert new_pid != pid
        leaks.watch(new_pid)


async def test_a_call_by_path_between_incarnations_waits_for_the_next(
    runtime: Runtime, placement: Placement
) -> None:
    recorder = await runtime.spawn(Recorder)
    tree = Supervisor(intensity=5, children=specs(recorder, placement, "a"))
    async with open_tree(tree, runtime=runtime) as root:
        child = root.child("a")
        assert await child.call("pid", timeout=LONG) > 0
        assert await child.call(("stop", Shutdown("again")), timeout=LONG) == "bye"
        # No waiting here: the call must itself wait for the restart.
        assert await child.call("pid", timeout=LONG) > 0
        assert child.whereis() is not None
        assert (await events_until(recorder, 3))[:3] == [
            ("start", "a"),
            ("stop", "a"),
            ("start", "a"),
        ]
