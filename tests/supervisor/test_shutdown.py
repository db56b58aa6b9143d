"""docs/semantics.md §12, §13 and §14: stopping children and trees."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from actors import Runtime
from supervisor import BRUTAL_KILL, INFINITY, ChildSpec, Supervisor, open_tree

from .helpers import crash, running
from .workers import Log, Script, Worker


def child(log: Log, name: str, script: Script | None = None, **options: object) -> ChildSpec:
    return ChildSpec(name, Worker, args=(name, log, script), **options)  # type: ignore[arg-type]


async def test_item12_a_child_hung_in_terminate_is_killed_at_its_deadline(
    runtime: Runtime,
    log: Log,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = Script(slow_stop={"slow": 3600.0})
    spec = Supervisor(children=[child(log, "slow", script, shutdown=2.0)])
    async with open_tree(spec, runtime=runtime) as root:
        ref = root.child("slow").whereis()
        assert ref is not None
        started = trio.current_time()
        await root.terminate_child("slow")
        assert trio.current_time() - started == 2.0
        assert not runtime.is_alive(ref)
        assert ("stop", "slow") not in log  # its terminate never finished
        assert await running(root) == {"slow": False}
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "shutdown"]
    assert record.levelno == logging.WARNING
    assert record.reason == "killed"  # type: ignore[attr-defined]


async def test_item12_the_whole_budget_is_used_when_the_child_needs_it(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    script = Script(slow_stop={"w": 1.5})
    spec = Supervisor(children=[child(log, "w", script, shutdown=2.0)])
    async with open_tree(spec, runtime=runtime) as root:
        started = trio.current_time()
        await root.terminate_child("w")
        assert trio.current_time() - started == 1.5
        assert log[-1] == ("stop", "w")


async def test_item12_brutal_kill_kills_at_once_without_terminate(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    script = Script(slow_stop={"w": 10.0})
    spec = Supervisor(children=[child(log, "w", script, shutdown=BRUTAL_KILL)])
    async with open_tree(spec, runtime=runtime) as root:
        started = trio.current_time()
        await root.terminate_child("w")
        assert trio.current_time() == started
        assert log == [("start", "w")]


async def test_item12_infinity_waits_as_long_as_it_takes(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    script = Script(slow_stop={"w": 3600.0})
    spec = Supervisor(children=[child(log, "w", script, shutdown=INFINITY)])
    async with open_tree(spec, runtime=runtime) as root:
        started = trio.current_time()
        await root.terminate_child("w")
        assert trio.current_time() - started == 3600.0
        assert log[-1] == ("stop", "w")


async def test_item13_terminate_runs_on_a_graceful_stop_and_after_a_crash(
    runtime: Runtime, log: Log
) -> None:
    spec = Supervisor(intensity=5, children=[child(log, "w")])
    async with open_tree(spec, runtime=runtime) as root:
        await crash(root.child("w"))
        await root.terminate_child("w")
    assert log == [("start", "w"), ("exit", "w"), ("start", "w"), ("stop", "w")]


async def test_item13_shutdown_exits_are_not_logged_as_errors(
    runtime: Runtime, log: Log, caplog: pytest.LogCaptureFixture
) -> None:
    sub = Supervisor(children=[child(log, "x", shutdown=BRUTAL_KILL)])
    spec = Supervisor(children=[child(log, "a"), ChildSpec("sub", sub)])
    with caplog.at_level(logging.DEBUG):
        async with open_tree(spec, runtime=runtime) as root:
            await root.terminate_child("a")
    shutdowns = [r for r in caplog.records if getattr(r, "event", None) == "shutdown"]
    assert {r.child_id for r in shutdowns} == {"a", "x", "sub"}  # type: ignore[attr-defined]
    assert all(r.levelno < logging.WARNING for r in caplog.records)


async def test_item14_a_tree_stops_bottom_up_in_reverse_start_order(
    runtime: Runtime, log: Log
) -> None:
    sub = Supervisor(children=[child(log, "x"), child(log, "y")])
    spec = Supervisor(children=[child(log, "a"), ChildSpec("sub", sub), child(log, "b")])
    async with open_tree(spec, runtime=runtime):
        assert log == [("start", n) for n in ("a", "x", "y", "b")]
        log.clear()
    assert log == [("stop", n) for n in ("b", "y", "x", "a")]
    assert runtime.statistics().actors == 0


async def test_item14_the_parent_waits_for_a_child_supervisor_as_long_as_it_takes(
    runtime: Runtime, log: Log, autojump_clock: trio.testing.MockClock
) -> None:
    """A nested supervisor's default shutdown is infinity: its children's budgets rule."""
    script = Script(slow_stop={"x": 30.0})
    sub = Supervisor(children=[child(log, "x", script, shutdown=60.0)])
    spec = Supervisor(children=[ChildSpec("sub", sub), child(log, "a")])
    async with open_tree(spec, runtime=runtime):
        started = trio.current_time()
        log.clear()
    assert trio.current_time() - started == 30.0
    assert log == [("stop", "a"), ("stop", "x")]
