"""An asyncio actor's message loop, one asyncio task fed by its mailbox (issue 17).

A trio caller's put wakes that task directly and the caller spins a few ticks for
the answer; what an actor guarantees still holds: order, the mailbox's bound,
deferred replies, stops, crashes, links. Each test runs its own ``run_on_uvloop``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import trio
import trio.testing

from actors import (
    SHUTDOWN,
    ActorRef,
    AsyncioActor,
    Caller,
    CallResult,
    Crash,
    Exit,
    ExitReason,
    InfoResult,
    MailboxFull,
    NoReply,
    Reply,
    open_runtime,
    run_on_uvloop,
)
from tests.actors.probe import Probe

#: More loop iterations than a trio caller spins for (actors._aio.SPIN): its answer
#: then comes through trio's I/O thread.
MANY_ITERATIONS = 50


class Recorder(AsyncioActor):
    """Records its casts and infos in ``log``; its calls are small commands."""

    async def init(self, log: list[Any], trap: bool = False) -> None:
        self.log = log
        self.trap_exits = trap
        self.held: Caller | None = None

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case ("gate", trio.Event() as entered, asyncio.Event() as gate):
                entered.set()
                await gate.wait()
                return Reply("passed")
            case ("iterations", int(n)):
                for _ in range(n):
                    await asyncio.sleep(0)
                return Reply(n)
            case "hold":
                self.held = caller
                return NoReply()
            case ("relay", ActorRef() as target, int(n)):
                for i in range(n):
                    target.cast_nowait(i)  # from asyncio code
                return Reply(n)
            case ("link", ActorRef() as target):
                self.link(target)
                return Reply("linked")
            case "swallow":
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    self.log.append("swallowed")
                return Reply("answered anyway")
            case "cancel myself":
                task = asyncio.current_task()
                assert task is not None
                task.cancel()
                await asyncio.sleep(0)
        return Reply(request)

    async def handle_cast(self, message: Any) -> InfoResult:
        if isinstance(message, tuple) and message[0] == "answer":
            self.answering = asyncio.create_task(self._answer(message[1]))  # a deferred reply
        else:
            self.log.append(message)
        return NoReply()

    async def _answer(self, value: object) -> None:
        await asyncio.sleep(0)
        assert self.held is not None
        self.reply(self.held, value)

    async def handle_info(self, message: Any) -> InfoResult:
        self.log.append(message)
        return NoReply()

    async def terminate(self, reason: ExitReason) -> None:
        self.log.append(f"terminate {reason}")


def test_messages_from_trio_and_from_asyncio_code_arrive_in_order() -> None:
    count = 100  # several bursts (actors._mailbox.GET_BURST)
    from_trio: list[Any] = []
    from_asyncio: list[Any] = []

    async def main() -> None:
        async with open_runtime() as runtime:
            target = await runtime.spawn(Recorder, from_trio)
            for i in range(count):
                await target.cast(i)
            assert await target.call("sync") == "sync"
            relay_target = await runtime.spawn(Recorder, from_asyncio)
            relay = await runtime.spawn(Recorder, [])
            assert await relay.call(("relay", relay_target, count)) == count
            assert await relay_target.call("sync") == "sync"

    run_on_uvloop(main)
    assert from_trio[:count] == list(range(count))
    assert from_asyncio[:count] == list(range(count))


def test_the_bound_holds_and_a_waiting_writer_is_let_in_by_the_asyncio_reader() -> None:
    log: list[Any] = []

    async def main() -> None:
        async with open_runtime() as runtime, trio.open_nursery() as nursery:
            ref = await runtime.spawn(Recorder, log, mailbox_size=2)
            entered, gate = trio.Event(), asyncio.Event()
            answers: list[object] = []

            async def call_gate() -> None:
                answers.append(await ref.call(("gate", entered, gate)))

            nursery.start_soon(call_gate)
            await entered.wait()  # the loop is inside the handler, the mailbox empty
            ref.cast_nowait("a")
            ref.cast_nowait("b")
            with pytest.raises(MailboxFull):
                ref.cast_nowait("c")
            nursery.start_soon(ref.cast, "d")
            await trio.testing.wait_all_tasks_blocked()  # "d" waits in line
            assert log == []
            gate.set()  # from trio code, on the loop's thread
            assert await ref.call("sync") == "sync"
            assert answers == ["passed"]

    run_on_uvloop(main)
    assert log[:3] == ["a", "b", "d"]


def test_a_deferred_reply_from_an_asyncio_task_and_an_answer_after_many_iterations() -> None:
    async def main() -> tuple[object, object]:
        async with open_runtime() as runtime, trio.open_nursery() as nursery:
            ref = await runtime.spawn(Recorder, [])
            answers: list[object] = []
            answered = trio.Event()

            async def hold() -> None:
                answers.append(await ref.call("hold"))
                answered.set()

            nursery.start_soon(hold)
            await trio.testing.wait_all_tasks_blocked()
            await ref.cast(("answer", 42))
            slow = await ref.call(("iterations", MANY_ITERATIONS))
            with trio.fail_after(30):
                await answered.wait()
            return answers[0], slow

    assert run_on_uvloop(main) == (42, MANY_ITERATIONS)


def test_a_cancelled_trio_caller_gives_up_and_the_actor_keeps_serving() -> None:
    async def main() -> object:
        async with open_runtime() as runtime:
            ref = await runtime.spawn(Recorder, [])
            entered, gate = trio.Event(), asyncio.Event()
            async with trio.open_nursery() as nursery:

                async def call_gate(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
                    with trio.CancelScope() as scope:
                        task_status.started(scope)
                        await ref.call(("gate", entered, gate))
                    assert scope.cancelled_caught

                scope = await nursery.start(call_gate)
                await entered.wait()
                scope.cancel()
            gate.set()  # its answer goes to no one
            return await ref.call("still here")

    assert run_on_uvloop(main) == "still here"


def test_a_handler_that_swallows_the_stop_still_answers_and_the_actor_stops() -> None:
    log: list[Any] = []

    async def main() -> tuple[object, object]:
        async with open_runtime() as runtime, trio.open_nursery() as nursery:
            ref = await runtime.spawn(Recorder, log)
            answers: list[object] = []

            async def swallow() -> None:
                answers.append(await ref.call("swallow"))

            nursery.start_soon(swallow)
            await trio.testing.wait_all_tasks_blocked()
            reason = await runtime.stop(ref, timeout=30)
            return reason, answers

    reason, answers = run_on_uvloop(main)
    assert reason == SHUTDOWN  # stopped within the budget, not killed
    assert answers == ["answered anyway"]
    assert log == ["swallowed", "terminate shutdown"]


def test_a_handler_cancelled_by_asyncio_code_crashes_the_actor() -> None:
    async def main() -> object:
        async with open_runtime() as runtime:
            ref = await runtime.spawn(Recorder, [])
            watch = runtime.watch(ref)
            with pytest.raises(Exception, match="cancelled from asyncio code"):
                await ref.call("cancel myself")
            return await watch.wait()

    reason = run_on_uvloop(main)
    assert isinstance(reason, Crash)
    assert isinstance(reason.exc, RuntimeError)
    assert "a handler of Recorder was cancelled from asyncio code" in str(reason.exc)


def test_a_trapped_exit_of_a_linked_trio_actor_reaches_handle_info() -> None:
    log: list[Any] = []

    async def main() -> ActorRef:
        async with open_runtime() as runtime:
            ref = await runtime.spawn(Recorder, log, True)
            probe = await runtime.spawn(Probe)
            assert await ref.call(("link", probe)) == "linked"
            watch = runtime.watch(probe)
            with pytest.raises(Exception, match="from trio"):
                await probe.call(("crash", "from trio"))
            await watch.wait()
            assert await ref.call("sync") == "sync"
            return probe

    probe = run_on_uvloop(main)
    exits = [m for m in log if isinstance(m, Exit)]
    assert len(exits) == 1
    assert exits[0].ref == probe
    assert isinstance(exits[0].reason, Crash)
