"""Tasks an actor owns: they crash it, end before its terminate, and never outlive it.

In-process cases run on trio's autojump clock; the process cases use real time
with generous deadlines and the leak check.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import trio
import trio.testing

from actors import (
    KILLED,
    Actor,
    ActorRef,
    Caller,
    CallResult,
    Crash,
    Down,
    ExitReason,
    InfoResult,
    InitError,
    NoReply,
    NotRunning,
    Placement,
    Reply,
    SharedWorker,
    Shutdown,
    open_runtime,
)
from supervisor import ChildSpec, Supervisor, open_tree
from tests.leaks import LeakCheck
from tests.support import eventually

LONG = 60.0


def task_names() -> list[str]:
    """The names of every task of this trio run (the task tree, walked from its root)."""
    names: list[str] = []
    root = trio.lowlevel.current_root_task()
    assert root is not None
    pending = [root]
    while pending:
        task = pending.pop()
        names.append(task.name)
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return names


async def forever(log: list[str], label: str) -> None:
    try:
        await trio.sleep_forever()
    finally:
        log.append(f"{label} ended")


async def fail_after(seconds: float, text: str) -> None:
    await trio.sleep(seconds)
    raise ValueError(text)


async def ready_then_forever(value: object, *, task_status: trio.TaskStatus[object]) -> None:
    task_status.started(value)
    await trio.sleep_forever()


async def fail_before_ready(*, task_status: trio.TaskStatus[object]) -> None:
    raise KeyError("not ready")


class Owner(Actor):
    """Starts tasks on request; says in its terminate whether they had ended."""

    async def init(self, log: list[str] | None = None, fail_in_init: bool = False) -> None:
        self.log = log if log is not None else []
        if fail_in_init:
            self.start_soon(fail_after, 0, "during init")
            await trio.sleep(1)

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case ("forever", str(label)):
                self.start_soon(forever, self.log, label, name=label)
                return Reply("started")
            case ("fail after", seconds, text):
                self.start_soon(fail_after, seconds, text)
                return Reply("started")
            case ("start", value):
                return Reply(await self.start(ready_then_forever, value, name="ready"))
            case "start failing":
                try:
                    await self.start(fail_before_ready)
                except KeyError as exc:
                    return Reply(f"start raised {exc!r}")
                return Reply("no error")
            case "pid":
                return Reply(os.getpid())
            case "tasks":
                return Reply(task_names())
        return Reply(None)

    async def terminate(self, reason: ExitReason) -> None:
        self.log.append(f"terminate {type(reason).__name__}")
        try:
            self.start_soon(forever, self.log, "late")
        except NotRunning:
            self.log.append("no task after stop")


class Watcher(Actor):
    async def init(self, target: ActorRef, seen: list[Any]) -> None:
        self.seen = seen
        self.monitor(target)

    async def handle_info(self, message: Any) -> InfoResult:
        if isinstance(message, Down):
            self.seen.append(message.reason)
        return NoReply()


async def test_an_owned_task_that_raises_crashes_its_actor_with_that_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    seen: list[Any] = []
    async with open_runtime() as runtime:
        owner = await runtime.spawn(Owner, log)
        await runtime.spawn(Watcher, owner, seen)
        await owner.call(("forever", "sibling"))
        await owner.call(("fail after", 1, "boom"))
        reason = await runtime.wait(owner)
        assert isinstance(reason, Crash)
        assert isinstance(reason.exc, ValueError)
        assert str(reason.exc) == "boom"
        # The sibling task ended before terminate ran; terminate could start none.
        assert log == ["sibling ended", "terminate Crash", "no task after stop"]
        assert "sibling" not in task_names()
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [reason]


async def test_a_supervisor_restarts_an_actor_whose_task_crashed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    tree = Supervisor(intensity=3, children=[ChildSpec("owner", Owner)])
    async with open_tree(tree) as root:
        first = root.child("owner").whereis()
        await root.child("owner").call(("fail after", 1, "boom"))
        await trio.sleep(2)
        second = root.child("owner").whereis()
        assert second is not None
        assert second != first
        assert await root.child("owner").call(("start", 7)) == 7


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_stop_and_kill_leave_no_owned_task_running(
    autojump_clock: trio.testing.MockClock, how: str
) -> None:
    log: list[str] = []
    async with open_runtime() as runtime:
        owner = await runtime.spawn(Owner, log)
        await owner.call(("forever", "a"))
        await owner.call(("forever", "b"))
        assert await owner.call(("start", "value")) == "value"
        assert {"a", "b", "ready"} <= set(task_names())
        if how == "stop":
            assert await runtime.stop(owner) == Shutdown()
            assert log[-2:] == ["terminate Shutdown", "no task after stop"]
        else:
            watch = runtime.watch(owner)
            runtime.kill(owner)
            assert await watch.wait() == KILLED
            assert not any(entry.startswith("terminate") for entry in log)
        assert sorted(entry for entry in log if entry.endswith("ended")) == ["a ended", "b ended"]
        assert not {"a", "b", "ready"} & set(task_names())
        assert runtime.statistics().tasks == 0


async def test_start_raises_what_the_task_raised_before_it_was_ready(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_runtime() as runtime:
        owner = await runtime.spawn(Owner)
        assert await owner.call("start failing") == "start raised KeyError('not ready')"
        assert runtime.is_alive(owner)  # the caller of start got it: no crash
        await runtime.stop(owner)


async def test_a_task_that_crashes_while_init_runs_fails_the_start(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_runtime() as runtime:
        with pytest.raises(InitError) as info:
            await runtime.spawn(Owner, None, True)
        assert isinstance(info.value.__cause__, ValueError)
        assert runtime.statistics().actors == 0
        assert runtime.statistics().tasks == 0


async def test_owned_tasks_in_a_shared_worker(leaks: LeakCheck) -> None:
    """A process actor's task crashes it; stopping another leaves no task in their worker."""
    placement: Placement = SharedWorker("owners")
    async with open_runtime() as runtime:
        crashing = await runtime.spawn(Owner, placement=placement)
        leaks.watch(await crashing.call("pid", timeout=LONG))
        stopped = await runtime.spawn(Owner, placement=placement)
        looker = await runtime.spawn(Owner, placement=placement)
        await stopped.call(("forever", "in-worker"), timeout=LONG)
        assert "in-worker" in await looker.call("tasks", timeout=LONG)
        await runtime.stop(stopped)

        async def gone() -> bool:
            return "in-worker" not in await looker.call("tasks", timeout=LONG)

        await eventually(gone, what="the stopped actor's task to end", timeout=LONG)
        watch = runtime.watch(crashing)
        await crashing.call(("fail after", 0, "in a worker"), timeout=LONG)
        with trio.fail_after(LONG):
            reason = await watch.wait()
        assert isinstance(reason, Crash)
        assert "in a worker" in str(reason.exc)
        await runtime.stop(looker)
