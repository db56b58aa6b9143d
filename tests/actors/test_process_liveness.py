"""A process actor stays reachable while it works: calls out, and signals in while it is busy.

A dedicated worker hosts one actor; whatever reads its channel, frames for it
must keep arriving while its handler waits (on a call of its own, or on a long
await). Real time with generous deadlines; the leak check makes sure nothing
outlives a test.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import trio

from actors import (
    KILLED,
    Actor,
    ActorExited,
    ActorRef,
    Caller,
    CallResult,
    Crash,
    Exit,
    ExitReason,
    InfoResult,
    NoReply,
    Reply,
    Shutdown,
    open_runtime,
)
from tests.leaks import LeakCheck
from tests.support import pid_from_file

LONG = 60.0


class Answerer(Actor):
    """Answers ("answer", x) with ("answered", x, its pid)."""

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        return Reply(("answered", request, os.getpid()))

    async def handle_cast(self, message: Any) -> InfoResult:
        raise RuntimeError(f"asked to crash: {message}")


class Busy(Actor):
    """Calls other actors from a handler; waits in a long handler; reports to a recorder."""

    async def init(self, recorder: ActorRef) -> None:
        self.recorder = recorder
        self.trap_exits = True

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "pid":
                return Reply(os.getpid())
            case ("ask", list(targets)):
                return Reply([await target.call("hello", timeout=LONG) for target in targets])
            case ("link", ActorRef() as target):
                self.link(target)
                return Reply("linked")
            case ("busy until a message", str(marker)):
                _mark(marker)
                with trio.move_on_after(LONG):  # the message must arrive while we are here
                    while self.runtime.mailbox_depth(self.ref) == 0:  # noqa: ASYNC110 - no event
                        await trio.sleep(0.01)
                return Reply(self.runtime.mailbox_depth(self.ref))
            case ("busy", str(marker)):
                _mark(marker)
                await trio.sleep(LONG)
                return Reply("not interrupted")
        return Reply(None)

    async def handle_info(self, message: Any) -> InfoResult:
        if isinstance(message, Exit):
            await self.recorder.cast(("exit", message.ref, type(message.reason).__name__))
        return NoReply()

    async def terminate(self, reason: ExitReason) -> None:
        await self.recorder.cast(("terminate", type(reason).__name__))


def _mark(marker: str) -> None:
    """Say "I am busy now" to the test: write this worker's pid where it waits for it."""
    Path(marker).write_text(str(os.getpid()))


class Recorder(Actor):
    async def init(self) -> None:
        self.events: list[Any] = []
        self.changed = trio.Event()

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        count = request
        with trio.move_on_after(LONG):
            while len(self.events) < count:
                self.changed = trio.Event()
                await self.changed.wait()
        return Reply(list(self.events))

    async def handle_cast(self, message: Any) -> InfoResult:
        self.events.append(message)
        self.changed.set()
        return NoReply()


async def _call_failing(ref: ActorRef, request: object, failed: list[BaseException]) -> None:
    try:
        await ref.call(request, timeout=LONG)
    except Exception as exc:
        failed.append(exc)


async def test_a_process_actor_calls_the_root_and_another_worker_from_a_handler(
    leaks: LeakCheck,
) -> None:
    async with open_runtime() as runtime:
        recorder = await runtime.spawn(Recorder)
        here = await runtime.spawn(Answerer)
        there = await runtime.spawn(Answerer, placement="process")
        busy = await runtime.spawn(Busy, recorder, placement="process")
        leaks.watch(await busy.call("pid", timeout=LONG))
        answers = await busy.call(("ask", [here, there]), timeout=LONG)
        assert [answer[:2] for answer in answers] == [("answered", "hello")] * 2
        assert answers[0][2] == os.getpid()
        assert answers[1][2] not in (os.getpid(), await busy.call("pid", timeout=LONG))
        leaks.watch(answers[1][2])
        for ref in (busy, there, here, recorder):
            await runtime.stop(ref)


async def test_a_trapped_exit_signal_reaches_a_busy_process_actor(
    leaks: LeakCheck, tmp_path: Path
) -> None:
    async with open_runtime() as runtime:
        recorder = await runtime.spawn(Recorder)
        linked = await runtime.spawn(Answerer)
        busy = await runtime.spawn(Busy, recorder, placement="process")
        assert await busy.call(("link", linked), timeout=LONG) == "linked"
        marker = tmp_path / "busy"
        async with trio.open_nursery() as nursery:
            depth: list[int] = []

            async def wait_busy() -> None:
                depth.append(await busy.call(("busy until a message", str(marker)), timeout=LONG))

            nursery.start_soon(wait_busy)
            leaks.watch(await pid_from_file(marker))
            await linked.cast("crash")  # the link's exit signal: a message for the busy actor
        assert depth == [1]  # it arrived while the handler ran
        # Its handle_info casts to the recorder before it answers this call (FIFO per pair).
        await busy.call("pid", timeout=LONG)
        events = await recorder.call(1, timeout=LONG)
        assert events == [("exit", linked, "Crash")]
        await runtime.stop(busy)
        await runtime.stop(recorder)


async def test_a_stop_and_a_kill_reach_a_busy_process_actor(
    leaks: LeakCheck, tmp_path: Path
) -> None:
    async with open_runtime() as runtime:
        recorder = await runtime.spawn(Recorder)
        for how in ("stop", "kill"):
            busy = await runtime.spawn(Busy, recorder, placement="process")
            marker = tmp_path / how
            failed: list[BaseException] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_call_failing, busy, ("busy", str(marker)), failed)
                leaks.watch(await pid_from_file(marker))
                watch = runtime.watch(busy)
                with trio.fail_after(LONG / 2):  # well before a stop's SIGTERM at half of LONG
                    if how == "stop":
                        assert await runtime.stop(busy, timeout=LONG) == Shutdown()
                    else:
                        assert runtime.kill(busy)
                        assert await watch.wait() == KILLED
            assert len(failed) == 1  # the call in progress failed with the exit
            assert isinstance(failed[0], ActorExited)
        events = await recorder.call(1, timeout=LONG)
        assert events == [("terminate", "Shutdown")]  # the kill ran no terminate
        assert not isinstance(events[0], Crash)
        await runtime.stop(recorder)
