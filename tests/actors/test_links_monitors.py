"""docs/semantics.md §22 and §23: links and monitors."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from actors import (
    KILLED,
    NOPROC,
    NORMAL,
    Actor,
    ActorRef,
    Crash,
    Down,
    Exit,
    InitError,
    MonitorRef,
    Runtime,
    Shutdown,
    open_runtime,
)

from .probe import Probe, stop_all


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


async def test_item22_an_abnormal_exit_kills_the_linked_actor(runtime: Runtime) -> None:
    a = await runtime.spawn(Probe)
    b = await runtime.spawn(Probe)
    await a.call(("link", b))
    watch = runtime.watch(b)
    await a.cast("crash")
    reason = await watch.wait()
    assert isinstance(reason, Crash)
    assert isinstance(reason.exc, ValueError)


async def test_item22_a_trapping_actor_gets_an_exit_message(runtime: Runtime) -> None:
    a = await runtime.spawn(Probe)
    b = await runtime.spawn(Probe, True)
    await b.call(("link", a))
    await a.cast("crash")
    await settle()
    [(kind, message)] = await b.call("seen")
    assert kind == "info"
    assert isinstance(message, Exit)
    assert message.ref == a
    assert isinstance(message.reason, Crash)
    assert runtime.is_alive(b)
    await stop_all(runtime, b)


async def test_item22_a_normal_exit_does_not_propagate(runtime: Runtime) -> None:
    a = await runtime.spawn(Probe)
    b = await runtime.spawn(Probe)
    await a.call(("link", b))
    assert await a.call(("stop", NORMAL)) == "bye"
    await settle()
    assert runtime.is_alive(b)
    assert await b.call(("echo", 1)) == 1
    await stop_all(runtime, b)


async def test_item22_a_trapping_actor_sees_normal_exits_as_messages(runtime: Runtime) -> None:
    a = await runtime.spawn(Probe)
    b = await runtime.spawn(Probe, True)
    await b.call(("link", a))
    await a.call(("stop", NORMAL))
    await settle()
    assert await b.call("seen") == [("info", Exit(a, NORMAL))]
    await stop_all(runtime, b)


async def test_item22_a_kill_cannot_be_trapped_and_links_see_killed(runtime: Runtime) -> None:
    log: list[Any] = []
    trapper = await runtime.spawn(Probe, True, log)
    watcher = await runtime.spawn(Probe, True)
    await watcher.call(("link", trapper))
    runtime.kill(trapper)
    assert await runtime.wait(trapper) == KILLED
    await settle()
    assert log == [], "terminate must not run on a kill"
    assert await watcher.call("seen") == [("info", Exit(trapper, KILLED))]
    await stop_all(runtime, watcher)


async def test_item22_a_shutdown_travels_over_links_to_non_trapping_actors(
    runtime: Runtime,
) -> None:
    log: list[Any] = []
    a = await runtime.spawn(Probe)
    b = await runtime.spawn(Probe, False, log)
    await a.call(("link", b))
    watch = runtime.watch(b)
    await runtime.stop(a, Shutdown("bye"))
    assert await watch.wait() == Shutdown("bye")
    assert log == [(b, Shutdown("bye"))]


async def test_item22_spawn_link_links_parent_and_child() -> None:
    async with open_runtime() as runtime:
        parent = await runtime.spawn(Probe, True)
        child = await parent.call(("spawn_link", Probe, ()))
        runtime.kill(child)
        await runtime.wait(child)
        await settle()
        assert await parent.call("seen") == [("info", Exit(child, KILLED))]


async def test_item23_each_of_two_monitors_delivers_exactly_one_down(runtime: Runtime) -> None:
    target = await runtime.spawn(Probe)
    watcher = await runtime.spawn(Probe)
    first = await watcher.call(("monitor", target))
    second = await watcher.call(("monitor", target))
    assert first != second
    await runtime.stop(target)
    await settle()
    seen = await watcher.call("seen")
    assert seen == [
        ("info", Down(first, target, Shutdown())),
        ("info", Down(second, target, Shutdown())),
    ]
    await stop_all(runtime, watcher)


async def test_item23_monitoring_a_dead_actor_gives_noproc(runtime: Runtime) -> None:
    target = await runtime.spawn(Probe)
    await runtime.stop(target)
    watcher = await runtime.spawn(Probe)
    monitor = await watcher.call(("monitor", target))
    await settle()
    assert await watcher.call("seen") == [("info", Down(monitor, target, NOPROC))]
    await stop_all(runtime, watcher)


@pytest.mark.parametrize("flush", [True, False])
async def test_item23_demonitor_with_flush_removes_a_pending_down(
    runtime: Runtime, flush: bool
) -> None:
    target = await runtime.spawn(Probe)
    watcher = await runtime.spawn(Probe)
    monitor: MonitorRef = await watcher.call(("monitor", target))
    # The monitor fired while the watcher was busy: demonitor reports it inactive.
    assert await watcher.call(("kill_then_demonitor", target, monitor, flush)) is False
    seen = await watcher.call("seen")
    if flush:
        assert seen == []
    else:
        assert seen == [("info", Down(monitor, target, KILLED))]
    await stop_all(runtime, watcher)


async def test_item23_demonitor_stops_future_downs(runtime: Runtime) -> None:
    target = await runtime.spawn(Probe)
    watcher = await runtime.spawn(Probe)
    monitor = await watcher.call(("monitor", target))
    assert await watcher.call(("demonitor", monitor, False)) is True
    await runtime.stop(target)
    await settle()
    assert await watcher.call("seen") == []
    await stop_all(runtime, watcher)


async def test_item23_a_new_incarnation_has_a_new_ref_and_old_monitors_fired(
    runtime: Runtime,
) -> None:
    first = await runtime.spawn(Probe, name="svc")
    watcher = await runtime.spawn(Probe)
    monitor = await watcher.call(("monitor", first))
    runtime.kill(first)
    await runtime.wait(first)
    second = await runtime.spawn(Probe, name="svc")
    assert second != first
    await settle()
    assert await watcher.call("seen") == [("info", Down(monitor, first, KILLED))]
    assert runtime.whereis("svc") == second
    await stop_all(runtime, watcher, second)


class _MonitorsThenFails(Actor):
    async def init(self, target: ActorRef) -> None:
        self.monitor(target)
        raise RuntimeError("init gave up after monitoring")


async def test_item23_an_init_that_failed_leaves_no_monitor_behind(runtime: Runtime) -> None:
    """Its monitor goes with it: the target's later exit notifies no one and breaks nothing."""
    target = await runtime.spawn(Probe)
    with pytest.raises(InitError, match="gave up"):
        await runtime.spawn(_MonitorsThenFails, target)
    await runtime.stop(target)
    assert not runtime.is_alive(target)
    other = await runtime.spawn(Probe)  # the runtime still works
    await runtime.stop(other)
