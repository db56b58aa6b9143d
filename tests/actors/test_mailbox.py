"""Bounded mailboxes, backpressure, system messages, timers and message encoding."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import trio
import trio.testing

from actors import (
    KILLED,
    SHUTDOWN,
    Actor,
    Caller,
    Down,
    InfoResult,
    MailboxFull,
    NoReply,
    Reply,
    Runtime,
    open_runtime,
)
from actors._mailbox import GET_BURST
from spawn import EncodeError

from .probe import Probe, stop_all


class Gate(Actor):
    """Blocks on ``"block"`` until the test opens its gate; records everything else."""

    async def init(self, gate: trio.Event) -> None:
        self.gate = gate
        self.seen: list[Any] = []

    async def handle_call(self, request: Any, caller: Caller) -> Reply:
        match request:
            case "seen":
                return Reply(list(self.seen))
            case ("monitor", target):
                return Reply(self.monitor(target))
        return Reply(request)

    async def handle_cast(self, message: Any) -> InfoResult:
        if message == "block":
            await self.gate.wait()
        else:
            self.seen.append(("cast", message))
        return NoReply()

    async def handle_info(self, message: Any) -> InfoResult:
        self.seen.append(("info", message))
        return NoReply()


async def test_a_full_mailbox_makes_the_sender_wait_or_fail(runtime: Runtime) -> None:
    opened = trio.Event()
    gate = await runtime.spawn(Gate, opened, mailbox_size=2)
    await gate.cast("block")  # taken out of the mailbox; the actor now waits
    await trio.testing.wait_all_tasks_blocked()
    await gate.cast(1)
    await gate.cast(2)
    with pytest.raises(MailboxFull):
        gate.cast_nowait(3)
    with pytest.raises(MailboxFull):
        gate.send_nowait(3)
    sent: list[int] = []

    async def blocked_sender() -> None:
        await gate.cast(4)
        sent.append(4)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(blocked_sender)
        await trio.testing.wait_all_tasks_blocked()
        assert sent == [], "the sender should wait while the mailbox is full"
        assert runtime.mailbox_depth(gate) == 2
        opened.set()
    assert sent == [4]
    assert await gate.call("seen") == [("cast", 1), ("cast", 2), ("cast", 4)]
    await stop_all(runtime, gate)


async def test_system_messages_pass_a_full_mailbox_in_order_with_the_sender(
    runtime: Runtime,
) -> None:
    opened = trio.Event()
    watcher = await runtime.spawn(Gate, opened, mailbox_size=1)
    target = await runtime.spawn(Probe)
    monitor = await watcher.call(("monitor", target))
    await watcher.cast("block")
    await trio.testing.wait_all_tasks_blocked()
    await watcher.cast("before")  # the mailbox is now full
    runtime.kill(target)
    await runtime.wait(target)
    # The Down went in although the bound was reached, after the earlier cast.
    assert runtime.mailbox_depth(watcher) == 2
    opened.set()
    await trio.testing.wait_all_tasks_blocked()
    assert await watcher.call("seen") == [
        ("cast", "before"),
        ("info", Down(monitor, target, KILLED)),
    ]
    await stop_all(runtime, watcher)


async def test_send_after_delivers_once_and_cancelled_timers_never(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_runtime() as runtime:
        probe = await runtime.spawn(Probe)
        await probe.call(("send_after", 10, "tick"))
        await trio.sleep(9)
        assert await probe.call("seen") == []
        await trio.sleep(2)
        assert await probe.call("seen") == [("info", "tick")]
        await probe.call(("send_after", 10, "never"))
        await runtime.stop(probe)
        await trio.testing.wait_all_tasks_blocked()  # a cancelled task ends at its next step
        assert trio.current_time() < 30
        assert runtime.statistics().tasks == 0, "a dead actor's timer is still pending"


async def test_encoded_runtime_delivers_tuples_as_tuples() -> None:
    async with open_runtime(encode_messages=True) as runtime:
        probe = await runtime.spawn(Probe)
        reply = await probe.call(("echo", {"point": (1, 2), "refs": [probe]}))
        assert reply == {"point": (1, 2), "refs": [probe]}
        assert type(reply["point"]) is tuple


async def test_encoded_runtime_rejects_unencodable_values_at_the_sender() -> None:
    async with open_runtime(encode_messages=True) as runtime:
        probe = await runtime.spawn(Probe)
        with pytest.raises(EncodeError, match="function"):
            await probe.cast(lambda: None)
        with socket.socket() as sock, pytest.raises(EncodeError, match="sockets"):
            await probe.call(("echo", sock))
        with pytest.raises(EncodeError, match="map key"):
            await probe.send({1: "a"})
        assert await probe.call(("echo", "still here")) == "still here"
        assert runtime.statistics().dead_letters == 0


async def test_ten_thousand_actors_leave_no_task_behind() -> None:
    async with open_runtime() as runtime:
        refs = [await runtime.spawn(Probe) for _ in range(10_000)]
        assert runtime.statistics().actors == 10_000
        async with trio.open_nursery() as nursery:
            for ref in refs:
                nursery.start_soon(runtime.stop, ref)
        stats = runtime.statistics()
        assert (stats.actors, stats.tasks, stats.spawned, stats.exited) == (0, 0, 10_000, 10_000)


async def test_an_error_in_the_body_comes_out_as_itself() -> None:
    async def body() -> None:
        async with open_runtime() as runtime:
            await runtime.spawn(Probe)
            raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        await body()


async def test_cancelling_the_body_stops_the_actors_and_propagates(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[Any] = []
    with trio.move_on_after(1) as scope:
        async with open_runtime() as runtime:
            await runtime.spawn(Probe, False, log)
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert [reason for _, reason in log] == [SHUTDOWN]


class Busy(Actor):
    """Handles casts without awaiting anything: only its mailbox lets others run."""

    async def init(self, log: list[str]) -> None:
        self.log = log

    async def handle_call(self, request: Any, caller: Caller) -> Reply:
        return Reply(request)

    async def handle_cast(self, message: Any) -> InfoResult:
        self.log.append("actor")
        return NoReply()


async def test_an_actor_with_a_backlog_lets_other_tasks_run_every_burst(
    runtime: Runtime,
) -> None:
    """An actor takes waiting messages in bursts of GET_BURST without a schedule
    point (one per message cost more than the handling), never more."""
    log: list[str] = []
    busy = await runtime.spawn(Busy, log, mailbox_size=1000)
    for _ in range(10 * GET_BURST):
        busy.cast_nowait("work")
    done = trio.Event()

    async def other() -> None:
        while not done.is_set():
            log.append("other")
            await trio.lowlevel.cancel_shielded_checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        await busy.call("sync")  # behind every cast
        done.set()
    runs = "".join("a" if entry == "actor" else "o" for entry in log).split("o")
    # trio may run the other task before the actor in one batch and after it in
    # the next: two bursts can meet, never three.
    assert max(len(run) for run in runs) <= 2 * GET_BURST
    assert log.count("actor") == 10 * GET_BURST
    await stop_all(runtime, busy)
