"""A dedicated process actor stays reachable while a long handler of its waits (docs/semantics.md,
"Every placement alike", §19 and §22): its calls out are answered, and a stop, a kill and a trapped
exit signal reach it in the middle of the handler.

The long handler waits on a call to a :class:`Gate`, an actor that holds its callers until the
test lets them go, so the test knows the handler is busy (the gate holds its call) and decides
when it ends; nothing depends on a sleep. Real processes and real time, generous deadlines; the
leak check makes sure no worker outlives a test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
    Runtime,
    Shutdown,
    open_runtime,
)
from tests.leaks import LeakCheck

LONG = 60.0


class Gate(Actor):
    """Holds the caller of "hold" until ``("release", value)``; "held" answers once one waits."""

    async def init(self) -> None:
        self.holding: Caller | None = None
        self.waiting: list[Caller] = []

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "hold":
                self.holding = caller
                for waiter in self.waiting:
                    self.reply(waiter, os.getpid())
                self.waiting = []
                return NoReply()
            case "held":
                if self.holding is None:
                    self.waiting.append(caller)
                    return NoReply()
                return Reply(os.getpid())
            case ("release", value):
                assert self.holding is not None, "nothing to release"
                self.reply(self.holding, value)
                self.holding = None
                return Reply("released")
        return Reply(None)

    async def handle_cast(self, message: Any) -> InfoResult:
        raise RuntimeError(f"asked to crash: {message}")


class Busy(Actor):
    """Its handlers wait on gates; it traps exits and tells a recorder what reached it."""

    async def init(self, recorder: ActorRef, trap: bool = True) -> None:
        self.recorder = recorder
        self.trap_exits = trap

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "pid":
                return Reply(os.getpid())
            case ("link", ActorRef() as target):
                self.link(target)
                return Reply("linked")
            case ("ask both", list(gates)):
                return Reply(await self._ask_all(gates))
            case ("wait on", ActorRef() as gate):
                value = await gate.call("hold", timeout=LONG)
                return Reply(("released", value, self.runtime.mailbox_depth(self.ref)))
        return Reply(None)

    async def _ask_all(self, gates: list[ActorRef]) -> list[Any]:
        """Call every gate at once; their answers in the order they came."""
        answers: list[Any] = []

        async def ask(gate: ActorRef) -> None:
            answer = await gate.call("hold", timeout=LONG)
            answers.append(answer)
            await self.recorder.cast(("answered", answer))

        async with trio.open_nursery() as nursery:
            for gate in gates:
                nursery.start_soon(ask, gate)
        return answers

    async def handle_info(self, message: Any) -> InfoResult:
        if isinstance(message, Exit):
            await self.recorder.cast(("exit", message.ref, type(message.reason).__name__))
        return NoReply()

    async def terminate(self, reason: ExitReason) -> None:
        await self.recorder.cast(("terminate", type(reason).__name__))


class Recorder(Actor):
    """Keeps what it is cast; ``count`` answers the first ``count`` of them once they came."""

    async def init(self) -> None:
        self.events: list[Any] = []
        self.waiting: list[tuple[int, Caller]] = []

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        self.waiting.append((request, caller))
        self._answer()
        return NoReply()

    async def handle_cast(self, message: Any) -> InfoResult:
        self.events.append(message)
        self._answer()
        return NoReply()

    def _answer(self) -> None:
        for count, caller in list(self.waiting):
            if len(self.events) >= count:
                self.reply(caller, self.events[:count])
                self.waiting.remove((count, caller))


@asynccontextmanager
async def recorded() -> AsyncIterator[tuple[Runtime, ActorRef]]:
    """A runtime and a recorder in it; the recorder is stopped at the end, and must be alive."""
    async with open_runtime() as runtime:
        recorder = await runtime.spawn(Recorder)
        yield runtime, recorder
        await runtime.stop(recorder)


async def _busy(
    runtime: Runtime, recorder: ActorRef, leaks: LeakCheck, *, trap: bool = True
) -> tuple[ActorRef, int]:
    """A :class:`Busy` in a dedicated worker, and the worker's pid (watched for leaks)."""
    busy = await runtime.spawn(Busy, recorder, trap, placement="process")
    pid = await busy.call("pid", timeout=LONG)
    leaks.watch(pid)
    return busy, pid


async def _call_into(ref: ActorRef, request: object, out: list[object]) -> None:
    """``ref.call(request)``; its answer, or the exception it raised, into ``out``."""
    try:
        out.append(await ref.call(request, timeout=LONG))
    except Exception as exc:
        out.append(exc)


async def test_a_handler_calls_an_actor_in_the_root_and_one_in_another_worker(
    leaks: LeakCheck,
) -> None:
    async with recorded() as (runtime, recorder):
        busy, pid = await _busy(runtime, recorder, leaks)
        here = await runtime.spawn(Gate)
        there = await runtime.spawn(Gate, placement="process")
        pids = {"here": os.getpid(), "there": 0}
        for round, (first, second) in enumerate((("there", "here"), ("here", "there"))):
            gates = {"here": here, "there": there}
            answers: list[object] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_call_into, busy, ("ask both", [here, there]), answers)
                # both calls of the handler are held: it asked both before either answered
                pids = {name: await gate.call("held", timeout=LONG) for name, gate in gates.items()}
                for index, name in enumerate((first, second)):
                    value = f"{name} {round}"
                    assert await gates[name].call(("release", value), timeout=LONG) == "released"
                    # the handler has this reply before the next gate is released
                    events = await recorder.call(2 * round + index + 1, timeout=LONG)
                    assert events[-1] == ("answered", value)
            assert answers == [
                [f"{first} {round}", f"{second} {round}"]
            ]  # each reply reached it as soon as it was sent
        assert pids["here"] == os.getpid()
        assert pids["there"] != os.getpid()
        leaks.watch(pids["there"])
        assert pids["there"] != pid
        for ref in (busy, there, here):
            await runtime.stop(ref)


async def test_a_stop_and_a_kill_reach_a_process_actor_busy_in_a_handler(
    leaks: LeakCheck,
) -> None:
    async with recorded() as (runtime, recorder):
        gate = await runtime.spawn(Gate)
        for how in ("stop", "kill"):
            busy, pid = await _busy(runtime, recorder, leaks)
            outcome: list[object] = []
            watch = runtime.watch(busy)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_call_into, busy, ("wait on", gate), outcome)
                assert await gate.call("held", timeout=LONG) == os.getpid()  # it is busy now
                with trio.fail_after(LONG / 2):  # well before a stop's SIGTERM, at half of LONG
                    if how == "stop":
                        assert await runtime.stop(busy, timeout=LONG) == Shutdown()
                    else:
                        assert runtime.kill(busy)
                        assert await watch.wait() == KILLED
            (failed,) = outcome  # the call in progress failed with the exit, not the timeout
            assert isinstance(failed, ActorExited)
            assert failed.reason == (Shutdown() if how == "stop" else KILLED)
            assert await trio.to_thread.run_sync(leaks.gone, pid)
            await recorder.cast(("gone", how))
        events = await recorder.call(3, timeout=LONG)
        # the stopped one ran terminate inside its worker; the killed one did not
        assert events == [("terminate", "Shutdown"), ("gone", "stop"), ("gone", "kill")]
        await runtime.stop(gate)


async def _crash_linked_while_busy(runtime: Runtime, busy: ActorRef) -> list[object]:
    """Link ``busy`` to an actor of the root, crash that one while ``busy`` waits in a
    handler, then let the handler go; what the handler's call came to."""
    gate, linked = await runtime.spawn(Gate), await runtime.spawn(Gate)
    assert await busy.call(("link", linked), timeout=LONG) == "linked"
    outcome: list[object] = []
    watch = runtime.watch(linked)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_call_into, busy, ("wait on", gate), outcome)
        assert await gate.call("held", timeout=LONG) == os.getpid()  # it is busy now
        await linked.cast("crash")
        assert isinstance(await watch.wait(), Crash)
        # The exit signal left the root before this release, on the same link to the
        # worker, whose frames keep their order (actors/_link.py).
        assert await gate.call(("release", "go"), timeout=LONG) == "released"
    await runtime.stop(gate)
    return outcome


async def test_a_trapped_exit_signal_reaches_a_process_actor_busy_in_a_handler(
    leaks: LeakCheck,
) -> None:
    async with recorded() as (runtime, recorder):
        busy, pid = await _busy(runtime, recorder, leaks)
        outcome = await _crash_linked_while_busy(runtime, busy)
        # the handler went on to its end, with the link's Exit waiting in its mailbox ...
        assert outcome == [("released", "go", 1)]
        # ... which it handled next: trapped, the exit did not stop it
        ((event, linked, reason),) = await recorder.call(1, timeout=LONG)
        assert (event, reason) == ("exit", "Crash")
        assert await busy.call("pid", timeout=LONG) == pid  # the same worker, still serving
        await runtime.stop(busy)
        assert await recorder.call(2, timeout=LONG) == [
            ("exit", linked, "Crash"),
            ("terminate", "Shutdown"),
        ]


async def test_an_exit_signal_stops_a_process_actor_that_does_not_trap_in_its_handler(
    leaks: LeakCheck,
) -> None:
    async with recorded() as (runtime, recorder):
        busy, pid = await _busy(runtime, recorder, leaks, trap=False)
        watch = runtime.watch(busy)
        outcome = await _crash_linked_while_busy(runtime, busy)
        # stopped in the middle of its handler, with the linked actor's reason (§22)
        assert isinstance(await watch.wait(), Crash)
        (failed,) = outcome
        assert isinstance(failed, ActorExited)
        assert isinstance(failed.reason, Crash)
        assert await recorder.call(1, timeout=LONG) == [("terminate", "Crash")]
        assert await trio.to_thread.run_sync(leaks.gone, pid)  # its worker went with it
