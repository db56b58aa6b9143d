"""Process children in trees: the spec check refuses what cannot travel, worker options
apply to every incarnation, a late worker is a failed start, and which_children shows
the pid (docs/semantics.md §2, §9, §15 and §26).

The tests that start workers use real time with generous deadlines, and the leak
check; the spec checks start nothing.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import textwrap
from pathlib import Path
from typing import Any

import pytest
import trio

from actors import (
    Actor,
    ActorRef,
    Placement,
    Runtime,
    SharedWorker,
    Shutdown,
    WorkerOptions,
    open_runtime,
)
from supervisor import (
    ChildInfo,
    ChildSpec,
    InvalidSpec,
    Sibling,
    StartFailed,
    Strategy,
    Supervisor,
    TreeExited,
    check_supervisor,
    open_tree,
)
from tests.actors.options_actor import SLOW_VARIABLE, Recording
from tests.leaks import LeakCheck, children
from tests.support import eventually, run_python

LONG = 60.0
NOFILE = resource.RLIMIT_NOFILE


def refused(*specs: ChildSpec) -> InvalidSpec:
    with pytest.raises(InvalidSpec) as caught:
        check_supervisor(Supervisor(children=list(specs)))
    return caught.value


# -- the spec check: what cannot work in a process is refused before anything starts ----


def test_a_local_class_cannot_be_placed_in_a_process() -> None:
    class Local(Actor):
        pass

    error = refused(ChildSpec("local", Local, placement="process"))
    assert (error.child_id, error.field) == ("local", "start")
    assert "is a local class" in error.problem
    check_supervisor(Supervisor(children=[ChildSpec("local", Local)]))  # fine as a task


@pytest.mark.parametrize("arg", [{1, 2}, object()], ids=["set", "object"])
def test_args_that_cannot_travel_are_refused(arg: object) -> None:
    error = refused(ChildSpec("w", Recording, args=(arg,), placement=SharedWorker("s")))
    assert (error.child_id, error.field) == ("w", "args")
    assert "cannot travel to a worker process" in error.problem
    check_supervisor(Supervisor(children=[ChildSpec("w", Recording, args=(arg,))]))


def test_args_are_encoded_with_the_actors_codec() -> None:
    spec = ChildSpec("w", Recording, args=(Shutdown("why"), (1, 2)), placement="process")
    assert check_supervisor(Supervisor(children=[spec])).children[0].args[0] == Shutdown("why")


def test_a_sibling_cannot_travel_to_a_process() -> None:
    error = refused(
        ChildSpec("a", Recording),
        ChildSpec("b", Recording, args=(Sibling("a"),), placement="process"),
    )
    assert (error.child_id, error.field) == ("b", "args")
    assert "cannot travel to another process" in error.problem


def test_a_class_in_main_of_a_script_cannot_be_placed_in_a_process(tmp_path: Path) -> None:
    script = tmp_path / "service.py"
    script.write_text(
        textwrap.dedent(
            """
            from actors import Actor
            from supervisor import ChildSpec, InvalidSpec, Supervisor, check_supervisor

            class Service(Actor):
                pass

            check_supervisor(Supervisor(children=[ChildSpec("svc", Service)]))
            print("task accepted")
            try:
                check_supervisor(
                    Supervisor(children=[ChildSpec("svc", Service, placement="process")])
                )
            except InvalidSpec as exc:
                print(exc.child_id, exc.field)
                print(exc)
            """
        )
    )
    result = run_python(str(script))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["task accepted", "svc start"]
    assert "__main__ of a script run by path" in lines[2]


def test_worker_options_go_with_a_process_placement() -> None:
    options = WorkerOptions(env={"A": "1"})
    cases: list[tuple[Placement, str]] = [
        ("task", 'need placement="process"'),
        (SharedWorker("s"), "go on SharedWorker"),
    ]
    for placement, text in cases:
        error = refused(ChildSpec("w", Recording, placement=placement, worker_options=options))
        assert (error.child_id, error.field) == ("w", "worker_options")
        assert text in error.problem
    bad = ChildSpec("w", Recording, placement="process", worker_options={"A": "1"})  # type: ignore[arg-type]
    assert refused(bad).field == "worker_options"


def test_one_shared_worker_cannot_be_given_two_sets_of_options() -> None:
    one = SharedWorker("s", WorkerOptions(env={"A": "1"}))
    other = SharedWorker("s", WorkerOptions(env={"A": "2"}))
    error = refused(
        ChildSpec("a", Recording, placement=one),
        ChildSpec("sub", Supervisor(children=[ChildSpec("b", Recording, placement=other)])),
    )
    assert (error.child_id, error.field) == ("sub/b", "placement")
    assert "shared worker 's'" in error.problem
    assert "by child 'a'" in error.problem
    same = [
        ChildSpec("a", Recording, placement=SharedWorker("s")),
        ChildSpec("b", Recording, placement=SharedWorker("s", WorkerOptions())),
        ChildSpec("c", Recording, placement=SharedWorker("t", WorkerOptions(env={"A": "1"}))),
    ]
    check_supervisor(Supervisor(children=same))


async def test_start_child_refuses_what_cannot_travel() -> None:
    class Local(Actor):
        pass

    async with open_runtime() as runtime, open_tree(Supervisor(), runtime=runtime) as root:
        with pytest.raises(InvalidSpec) as caught:
            await root.start_child(ChildSpec("local", Local, placement="process"))
        assert (caught.value.child_id, caught.value.field) == ("local", "start")
        with pytest.raises(InvalidSpec) as caught:
            await root.start_child(ChildSpec("w", Recording, args=({1},), placement="process"))
        assert (caught.value.child_id, caught.value.field) == ("w", "args")
        assert await root.which_children() == []
        assert runtime.statistics().workers == 0  # nothing was started for them


# -- worker options of a child, ChildInfo.pid ------------------------------------------


async def infos(root: Any) -> dict[str | None, ChildInfo]:
    return {info.id: info for info in await root.which_children()}


async def test_options_apply_to_every_incarnation_and_pids_follow(leaks: LeakCheck) -> None:
    limited = WorkerOptions(rlimits={NOFILE: (101, 202)})
    spec = Supervisor(
        intensity=5,
        period=LONG,
        children=[
            ChildSpec("task", Recording),
            ChildSpec("limited", Recording, placement="process", worker_options=limited),
            ChildSpec("plain", Recording, placement="process"),
        ],
    )
    async with open_runtime() as runtime, open_tree(spec, runtime=runtime) as root:
        seen = await infos(root)
        assert seen["task"].pid is None
        first = seen["limited"].pid
        assert first is not None
        assert seen["plain"].pid not in (None, first)
        for info in seen.values():
            if info.pid is not None:
                leaks.watch(info.pid)
                assert info.pid in children()
                assert await trio.Path(f"/proc/{info.pid}").exists()
        address = root.child("limited")
        at_import: dict[str, Any] = await address.call("at_import", timeout=LONG)
        assert (at_import["pid"], at_import["nofile"]) == (first, (101, 202))
        await spares_ready(runtime, 2)  # one per set of options
        started_before = children()
        old = address.whereis()
        os.kill(first, signal.SIGKILL)
        await new_incarnation(address, old)
        again = (await infos(root))["limited"].pid
        assert again is not None
        leaks.watch(again)
        assert again != first
        assert again in started_before  # a warm spare took over, not a new worker
        at_import = await address.call("at_import", timeout=LONG)
        assert (at_import["pid"], at_import["nofile"]) == (again, (101, 202))
        plain: dict[str, Any] = await root.child("plain").call("at_import", timeout=LONG)
        assert plain["nofile"] == resource.getrlimit(NOFILE)
        for info in (await infos(root)).values():
            if info.pid is not None:
                leaks.watch(info.pid)


async def spares_ready(runtime: Runtime, count: int) -> None:
    async def ready() -> bool:
        await trio.lowlevel.checkpoint()
        return runtime.statistics().spare_workers >= count

    await eventually(ready, what=f"{count} warm spares", timeout=LONG)


async def new_incarnation(address: Any, old: ActorRef | None) -> ActorRef:
    async def changed() -> ActorRef | None:
        await trio.lowlevel.checkpoint()
        ref: ActorRef | None = address.whereis()
        return None if ref in (None, old) else ref

    return await eventually(changed, what="a restart", timeout=LONG)


# -- a worker that does not start in time is a failed start -----------------------------


async def test_a_late_worker_fails_the_start_of_a_tree(leaks: LeakCheck, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    marker.touch()  # every import of the actor's module hangs
    slow = WorkerOptions(env={SLOW_VARIABLE: str(marker)}, start_timeout=0.5)
    spec = Supervisor(
        children=[ChildSpec("slow", Recording, placement="process", worker_options=slow)]
    )
    with trio.fail_after(LONG), pytest.raises(StartFailed) as caught:
        async with open_tree(spec):
            pytest.fail("the tree started")
    assert caught.value.path == "slow"
    assert "did not answer within 0.5 s" in str(caught.value.__cause__)


async def test_a_late_worker_counts_toward_the_intensity(
    leaks: LeakCheck, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "imported"  # the first worker to import the module creates it
    late = WorkerOptions(env={SLOW_VARIABLE: str(marker)}, start_timeout=2.0)
    spec = Supervisor(
        strategy=Strategy.ONE_FOR_ONE,
        intensity=1,
        period=LONG,
        children=[ChildSpec("late", Recording, placement="process", worker_options=late)],
    )
    caplog.set_level(logging.INFO, logger="supervisor")

    async def run_until_the_tree_exits() -> None:
        async with open_tree(spec) as root:
            pid = (await infos(root))["late"].pid
            assert pid is not None
            leaks.watch(pid)
            assert await root.child("late").call("pid", timeout=LONG) == pid
            os.kill(pid, signal.SIGKILL)  # its restart needs a new worker, which hangs
            await trio.sleep_forever()

    with trio.fail_after(LONG), pytest.raises(TreeExited) as caught:
        await run_until_the_tree_exits()
    assert caught.value.reason == Shutdown("reached_max_restart_intensity")
    records = caplog.records
    events = [(r.__dict__.get("child_id"), r.__dict__.get("event")) for r in records]
    failed = [
        i
        for i, r in enumerate(records)
        if r.__dict__.get("event") == "started" and r.levelno >= logging.ERROR
    ]
    assert failed, events
    assert "did not answer within 2.0 s" in records[failed[0]].getMessage()
    assert events.index(("late", "exited")) < failed[0] < events.index(("late", "escalated"))
