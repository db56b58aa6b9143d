"""The same behaviour whichever side of a process boundary each actor is on
(docs/semantics.md, "Every placement alike").

Every test runs for five placements of (sender, receiver): task to task, task to
process, process to task, process to process (two workers), and both in one
shared worker. The sender is a Probe that relays what the test asks of it.
Real time, generous deadlines; no worker, zombie or fd is left behind.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel

from actors import (
    KILLED,
    NOPROC,
    NORMAL,
    ActorRef,
    Crash,
    Down,
    Exit,
    InitError,
    MailboxFull,
    NameTaken,
    Placement,
    Runtime,
    SharedWorker,
    Shutdown,
    StartIgnored,
    open_runtime,
)
from spawn import EncodeError, RemoteError
from tests.leaks import LeakCheck
from tests.support import eventually, pid_from_file

from .probe import FailsToStart, Probe, Recorder

PAIRS: dict[str, tuple[Placement, Placement]] = {
    "task-task": ("task", "task"),
    "task-process": ("task", "process"),
    "process-task": ("process", "task"),
    "process-process": ("process", "process"),
    "shared": (SharedWorker("w"), SharedWorker("w")),
}
LONG = 60.0  # a deadline that must never be reached


@dataclass
class Placed:
    runtime: Runtime
    sender_at: Placement
    receiver_at: Placement

    async def sender(self, *args: Any, **options: Any) -> ActorRef:
        return await self.runtime.spawn(Probe, *args, placement=self.sender_at, **options)

    async def receiver(self, *args: Any, **options: Any) -> ActorRef:
        return await self.runtime.spawn(Probe, *args, placement=self.receiver_at, **options)


@pytest.fixture(params=list(PAIRS), ids=list(PAIRS))
async def placed(request: pytest.FixtureRequest, leaks: LeakCheck) -> AsyncIterator[Placed]:
    async with open_runtime() as runtime:
        yield Placed(runtime, *PAIRS[request.param])
    assert runtime.statistics().actors == 0


async def wait_until(predicate: Any, what: str) -> None:
    """Poll ``predicate`` (an async callable) until true, at most LONG seconds."""
    await eventually(predicate, what=what, timeout=LONG)


async def seen(ref: ActorRef) -> list[Any]:
    result: list[Any] = await ref.call("seen", timeout=LONG)
    return result


# -- §19 and §20: calls and casts ------------------------------------------------------


async def test_item19_call_and_cast_cross_the_boundary(placed: Placed) -> None:
    sender, receiver = await placed.sender(), await placed.receiver()
    assert await sender.call(("try_call", receiver, ("echo", (1, (2, 3))), LONG)) == (
        "ok",
        (1, (2, 3)),
    )
    await sender.call(("cast", receiver, "hello"))
    await wait_until(lambda: _has(receiver, ("cast", "hello")), "the cast")


async def _has(ref: ActorRef, item: Any) -> bool:
    return item in await seen(ref)


async def test_item19_a_call_fails_at_once_with_the_crash_reason(placed: Placed) -> None:
    sender, receiver = await placed.sender(), await placed.receiver()
    with trio.fail_after(LONG / 2):  # the call itself has a 60 s timeout
        kind, reason = await sender.call(("try_call", receiver, ("crash", "boom"), LONG))
    assert kind == "exited"
    assert isinstance(reason, Crash)
    assert isinstance(reason.exc, RuntimeError)
    assert str(reason.exc) == "boom"


async def test_item19_a_call_to_a_dead_actor_fails_and_a_cast_is_dropped(placed: Placed) -> None:
    sender, receiver = await placed.sender(), await placed.receiver()
    await placed.runtime.stop(receiver)
    assert await sender.call(("try_call", receiver, ("echo", 1), LONG)) == (
        "error",
        "NoSuchActor",
    )
    assert await sender.call(("cast", receiver, "lost")) == "cast"


async def test_item20_a_handler_returning_none_crashes_naming_it(placed: Placed) -> None:
    sender, receiver = await placed.sender(), await placed.receiver()
    kind, reason = await sender.call(("try_call", receiver, "none", LONG))
    assert kind == "exited"
    assert isinstance(reason, Crash)
    assert "Probe.handle_call returned None" in str(reason.exc)


# -- §21: per-pair order ---------------------------------------------------------------


async def test_item21_messages_arrive_in_the_order_sent(placed: Placed) -> None:
    sender = await placed.sender()
    receiver = await placed.receiver(mailbox_size=7)  # smaller than the burst
    assert await sender.call(("cast_many", receiver, 300), timeout=LONG) == 300

    async def all_there() -> bool:
        return len(await seen(receiver)) == 300

    await wait_until(all_there, "300 casts")
    assert await seen(receiver) == [("cast", ("seq", i)) for i in range(300)]


# -- §22: links ------------------------------------------------------------------------


async def test_item22_an_abnormal_exit_kills_the_linked_actor(placed: Placed) -> None:
    sender, receiver = await placed.sender(), await placed.receiver()
    await sender.call(("link", receiver))
    watch = placed.runtime.watch(sender)
    await receiver.cast("crash")
    with trio.fail_after(LONG):
        reason = await watch.wait()
    assert isinstance(reason, Crash)
    assert isinstance(reason.exc, ValueError)


async def test_item22_a_trapping_actor_gets_an_exit_message(placed: Placed) -> None:
    sender, receiver = await placed.sender(True), await placed.receiver()
    await sender.call(("link", receiver))
    await receiver.call(("stop", NORMAL))
    await wait_until(lambda: _has(sender, ("info", Exit(receiver, NORMAL))), "the exit")
    assert placed.runtime.is_alive(sender)


async def test_item22_a_kill_cannot_be_trapped_and_links_see_killed(placed: Placed) -> None:
    sender, receiver = await placed.sender(True), await placed.receiver(True)
    await sender.call(("link", receiver))
    watch = placed.runtime.watch(receiver)
    placed.runtime.kill(receiver)
    with trio.fail_after(LONG):
        assert await watch.wait() == KILLED
    await wait_until(lambda: _has(sender, ("info", Exit(receiver, KILLED))), "the exit")


# -- §23: monitors ---------------------------------------------------------------------


async def test_item23_monitors_stack_and_each_fires_once(placed: Placed) -> None:
    sender, receiver = await placed.sender(), await placed.receiver()
    first = await sender.call(("monitor", receiver))
    second = await sender.call(("monitor", receiver))
    await placed.runtime.stop(receiver, Shutdown("bye"), timeout=LONG)

    async def both() -> bool:
        return len(await seen(sender)) == 2

    await wait_until(both, "two downs")
    assert await seen(sender) == [
        ("info", Down(first, receiver, Shutdown("bye"))),
        ("info", Down(second, receiver, Shutdown("bye"))),
    ]


async def test_item23_monitoring_a_dead_actor_gives_noproc(placed: Placed) -> None:
    sender, receiver = await placed.sender(), await placed.receiver()
    await placed.runtime.stop(receiver, timeout=LONG)
    monitor = await sender.call(("monitor", receiver))
    await wait_until(lambda: _has(sender, ("info", Down(monitor, receiver, NOPROC))), "noproc")


# -- §24: names ------------------------------------------------------------------------


async def test_item24_names_resolve_to_the_current_incarnation(placed: Placed) -> None:
    sender = await placed.sender()
    first = await placed.receiver(name="svc")
    with pytest.raises(NameTaken) as info:
        await placed.receiver(name="svc")
    assert info.value.holder == first
    await placed.runtime.stop(first, timeout=LONG)
    second = await placed.receiver(name="svc")

    async def delivered() -> bool:
        await sender.call(("by_name", "svc", "by name"))
        return ("cast", "by name") in await seen(second)

    await wait_until(delivered, "a cast by name")
    assert placed.runtime.whereis("svc") == second


# -- §25: groups -----------------------------------------------------------------------


async def test_item25_members_join_leave_and_leave_on_exit(placed: Placed) -> None:
    receiver = await placed.receiver()
    groups = placed.runtime.groups
    await receiver.call(("join", "g"))
    await receiver.call(("join", "g"))

    async def members(count: int) -> bool:
        await trio.lowlevel.checkpoint()
        return len(groups.members("g")) == count

    await wait_until(lambda: members(2), "two joins")
    assert await receiver.call(("leave", "g")) is True
    await wait_until(lambda: members(1), "one leave")
    placed.runtime.kill(receiver)
    await wait_until(lambda: members(0), "the exit")


# -- §12 and §13: stopping -------------------------------------------------------------


async def test_item13_terminate_runs_on_stop_not_on_kill(placed: Placed) -> None:
    recorder = await placed.runtime.spawn(Recorder)
    stopped = await placed.receiver(False, recorder)
    killed = await placed.receiver(False, recorder)
    assert await placed.runtime.stop(stopped, timeout=LONG) == Shutdown()
    placed.runtime.kill(killed)
    with trio.fail_after(LONG):
        assert await placed.runtime.wait(killed) in (KILLED, NOPROC)
    assert await recorder.call("events") == [("terminated", stopped, Shutdown())]


async def test_item12_a_hung_actor_is_killed_when_its_budget_is_spent(
    placed: Placed, tmp_path: Path
) -> None:
    receiver = await placed.receiver()
    marker = tmp_path / "busy"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_ignore_errors, receiver.call, ("busy", str(marker), 3600), LONG)
        await pid_from_file(marker, timeout=LONG)  # the receiver is now in that call
        with trio.fail_after(LONG):
            reason = await placed.runtime.stop(receiver, timeout=1.0)
    # Its handler is interrupted and terminate runs (a task, or an actor in a shared
    # worker, stops gracefully); a dedicated worker may also be signalled at half time.
    assert reason in (Shutdown(), KILLED)


async def _ignore_errors(fn: Any, *args: Any) -> None:
    try:
        await fn(*args[:-1], timeout=args[-1])
    except Exception:
        pass


# -- beyond the matrix: what only a process boundary can get wrong -------------------


async def test_an_unencodable_value_fails_at_the_sender_and_the_actor_goes_on(
    leaks: LeakCheck, tmp_path: Any
) -> None:
    async with open_runtime() as runtime:
        receiver = await runtime.spawn(Probe, placement="process")
        with pytest.raises(EncodeError, match="function"):
            await receiver.cast(lambda: 0)
        with (tmp_path / "f").open("w") as handle, pytest.raises(EncodeError, match="file"):
            await receiver.call(("echo", handle))
        with pytest.raises(EncodeError, match="map key"):
            receiver.send_nowait({1: "one"})
        assert await receiver.call(("echo", "still here"), timeout=LONG) == "still here"


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_a_fast_sender_is_held_at_the_receivers_bound(
    leaks: LeakCheck, tmp_path: Path
) -> None:
    """The bound is enforced at the receiving mailbox: memory stays flat in the sender."""
    marker = tmp_path / "busy"
    async with open_runtime() as runtime, trio.open_nursery() as nursery:
        receiver = await runtime.spawn(Probe, placement="process", mailbox_size=100)
        nursery.start_soon(_ignore_errors, receiver.call, ("busy", str(marker), 3600), None)
        await pid_from_file(marker, timeout=LONG)  # the receiver is now busy in that call
        accepted = 0
        refused = 0
        before = rss()
        for seq in range(100_000):
            try:
                receiver.cast_nowait(("seq", seq))
                accepted += 1
            except MailboxFull:
                refused += 1
        grown = rss() - before
        assert accepted <= 100
        assert refused >= 100_000 - 100
        assert grown < 16 * 1024 * 1024, f"the sender grew by {grown:,} bytes"
        with trio.move_on_after(0.5) as waited:
            await receiver.cast("one more")  # waits for credit, which does not come
        assert waited.cancelled_caught
        runtime.kill(receiver)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("placement", ["process", SharedWorker("w")], ids=["process", "shared"])
async def test_item20_init_failing_or_declining_in_a_worker(
    leaks: LeakCheck, placement: Placement
) -> None:
    async with open_runtime() as runtime:
        with pytest.raises(InitError, match="OSError: no disk") as info:
            await runtime.spawn(FailsToStart, placement=placement)
        assert isinstance(info.value.__cause__, RemoteError)
        assert "raise OSError" in info.value.__cause__.traceback
        with pytest.raises(StartIgnored):
            await runtime.spawn(FailsToStart, True, placement=placement)
        assert runtime.statistics().actors == 0
