"""In-process actors: letitcrash against bare trio and pykka.

Bare trio is the floor: ``nursery.start`` for a spawn, a request/reply pair of
memory channels for a call, one memory channel for a tell.

``asyncio_call_round_trip`` is a trio actor calling an :class:`~actors.AsyncioActor`
whose handler awaits ``asyncio.sleep(0)``, in a root on uvloop, against
``call_round_trip`` (trio actors under ``trio.run``) and, to split the cost, trio
actors in the same uvloop-hosted root: guest mode's own share. A call to the
asyncio actor takes 2 guest ticks of trio, as one to a trio actor does: the
caller's put wakes the actor's asyncio loop task, and the caller spins one tick
while the handler passes through the host loop and a second that takes the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pykka
import trio

from actors import (
    Actor,
    ActorRef,
    AsyncioActor,
    Caller,
    InfoResult,
    NoReply,
    Reply,
    open_runtime,
    run_on_uvloop,
)

from ._core import OURS, Case

MAILBOX = 1024


class Echo(Actor):
    async def init(self) -> None:
        self.count = 0

    async def handle_call(self, request: Any, caller: Caller) -> Reply:
        return Reply(self.count if request == "count" else request)

    async def handle_cast(self, message: Any) -> InfoResult:
        self.count += 1
        return NoReply()


class AsyncioEcho(AsyncioActor):
    """Echo, its handler an asyncio coroutine that passes through the host loop once."""

    async def handle_call(self, request: Any, caller: Caller) -> Reply:
        await asyncio.sleep(0)
        return Reply(request)


class Driver(Actor):
    """A trio actor that calls ``target`` ``n`` times; answers the seconds per call."""

    async def handle_call(self, request: tuple[ActorRef, int], caller: Caller) -> Reply:
        target, n = request
        start = time.perf_counter()
        for i in range(n):
            await target.call(i)
        return Reply((time.perf_counter() - start) / n)


class PykkaEcho(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        if message == "tell":
            self.count += 1
            return None
        return self.count if message == "count" else message


def _run(body: Callable[[], Awaitable[float]]) -> float:
    """Run ``body`` in a fresh trio run; it measures its own window and returns the figure."""
    result: list[float] = []

    async def main() -> None:
        result.append(await body())

    trio.run(main)
    return result[0]


# -- bare trio -----------------------------------------------------------------


async def _trio_server(task_status: trio.TaskStatus[Any]) -> None:
    requests_in, requests_out = trio.open_memory_channel[tuple[object, Any]](MAILBOX)
    task_status.started(requests_in)
    async for request, reply_to in requests_out:
        await reply_to.send(request)


async def _trio_call(server: Any, reply_in: Any, reply_out: Any, request: object) -> object:
    await server.send((request, reply_in))
    return await reply_out.receive()


def trio_spawn_first_call(n: int) -> float:
    async def body() -> float:
        reply_in, reply_out = trio.open_memory_channel[object](1)
        async with trio.open_nursery() as nursery:
            start = time.perf_counter()
            for i in range(n):
                server = await nursery.start(_trio_server)
                await _trio_call(server, reply_in, reply_out, i)
            elapsed = time.perf_counter() - start
            nursery.cancel_scope.cancel()
        return elapsed / n

    return _run(body)


def trio_call_round_trip(n: int) -> float:
    async def body() -> float:
        reply_in, reply_out = trio.open_memory_channel[object](1)
        async with trio.open_nursery() as nursery:
            server = await nursery.start(_trio_server)
            start = time.perf_counter()
            for i in range(n):
                await _trio_call(server, reply_in, reply_out, i)
            elapsed = time.perf_counter() - start
            nursery.cancel_scope.cancel()
        return elapsed / n

    return _run(body)


def trio_tell_throughput(n: int) -> float:
    async def body() -> float:
        send, receive = trio.open_memory_channel[int](MAILBOX)
        done = trio.Event()

        async def consumer() -> None:
            count = 0
            async for _ in receive:
                count += 1
                if count == n:
                    done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            start = time.perf_counter()
            for i in range(n):
                await send.send(i)
            await done.wait()
            elapsed = time.perf_counter() - start
            nursery.cancel_scope.cancel()
        return n / elapsed

    return _run(body)


# -- letitcrash ----------------------------------------------------------------


def ours_spawn_first_call(n: int) -> float:
    async def body() -> float:
        async with open_runtime(mailbox_size=MAILBOX) as runtime:
            start = time.perf_counter()
            for i in range(n):
                ref = await runtime.spawn(Echo)
                await ref.call(i)
            elapsed = time.perf_counter() - start
        return elapsed / n

    return _run(body)


def ours_call_round_trip(n: int) -> float:
    async def body() -> float:
        async with open_runtime(mailbox_size=MAILBOX) as runtime:
            ref = await runtime.spawn(Echo)
            start = time.perf_counter()
            for i in range(n):
                await ref.call(i)
            elapsed = time.perf_counter() - start
        return elapsed / n

    return _run(body)


def asyncio_call_round_trip(n: int, echo: type[Actor] = AsyncioEcho) -> float:
    """A trio actor calling ``echo`` in a root on uvloop (``run_on_uvloop``)."""

    async def body() -> float:
        async with open_runtime(mailbox_size=MAILBOX) as runtime:
            target = await runtime.spawn(echo)
            driver = await runtime.spawn(Driver)
            seconds: float = await driver.call((target, n), timeout=None)
        return seconds

    return run_on_uvloop(body)


def ours_tell_throughput(n: int) -> float:
    async def body() -> float:
        async with open_runtime(mailbox_size=MAILBOX) as runtime:
            ref = await runtime.spawn(Echo)
            start = time.perf_counter()
            for _ in range(n):
                await ref.cast(None)
            count = await ref.call("count")
            elapsed = time.perf_counter() - start
            assert count == n
        return n / elapsed

    return _run(body)


# -- pykka ---------------------------------------------------------------------


def pykka_spawn_first_call(n: int) -> float:
    refs = []
    start = time.perf_counter()
    for i in range(n):
        ref = PykkaEcho.start()
        ref.ask(i)
        refs.append(ref)
    elapsed = time.perf_counter() - start
    for ref in refs:
        ref.stop()
    return elapsed / n


def pykka_call_round_trip(n: int) -> float:
    ref = PykkaEcho.start()
    try:
        start = time.perf_counter()
        for i in range(n):
            ref.ask(i)
        return (time.perf_counter() - start) / n
    finally:
        ref.stop()


def pykka_tell_throughput(n: int) -> float:
    ref = PykkaEcho.start()
    try:
        start = time.perf_counter()
        for _ in range(n):
            ref.tell("tell")
        count = ref.ask("count")
        elapsed = time.perf_counter() - start
        assert count == n
        return n / elapsed
    finally:
        ref.stop()


def cases(quick: bool) -> list[Case]:
    spawns, calls, tells = (200, 2_000, 5_000) if quick else (2_000, 20_000, 100_000)
    return [
        Case("spawn_first_call", OURS, "s", lambda: ours_spawn_first_call(spawns)),
        Case("spawn_first_call", "trio", "s", lambda: trio_spawn_first_call(spawns)),
        Case("spawn_first_call", "pykka", "s", lambda: pykka_spawn_first_call(spawns // 4)),
        Case("call_round_trip", OURS, "s", lambda: ours_call_round_trip(calls)),
        Case("call_round_trip", "trio", "s", lambda: trio_call_round_trip(calls)),
        Case("call_round_trip", "pykka", "s", lambda: pykka_call_round_trip(calls // 4)),
        Case("asyncio_call_round_trip", OURS, "s", lambda: asyncio_call_round_trip(calls)),
        Case(
            "asyncio_call_round_trip",
            "call_round_trip (trio actors, trio.run)",
            "s",
            lambda: ours_call_round_trip(calls),
        ),
        Case(
            "asyncio_call_round_trip",
            "trio actors on uvloop",
            "s",
            lambda: asyncio_call_round_trip(calls, Echo),
        ),
        Case("tell_throughput", OURS, "msg/s", lambda: ours_tell_throughput(tells)),
        Case("tell_throughput", "trio", "msg/s", lambda: trio_tell_throughput(tells)),
        Case("tell_throughput", "pykka", "msg/s", lambda: pykka_tell_throughput(tells // 4)),
    ]
