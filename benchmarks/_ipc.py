"""Actors in worker processes against multiprocessing, tractor and raw floors.

``ipc``: ``process_call_round_trip`` (a call into an actor in a worker) against a
``multiprocessing.Pipe`` echo and three floors with the same framing: a blocking
socketpair echo (what any Python IPC pays), a trio echo server with a blocking
client (one trio event loop), and a trio echo with trio at both ends (what an
actor call between two trio processes pays before any actor code runs); each
unpinned and with both processes pinned to one CPU. Unpinned, every subject
also counts the Python frames each side enters per call (``... frames root``
and ``... frames worker``, see :mod:`benchmarks._frames`), over as many calls
again as it timed, in a pass of its own. ``process_cast_throughput``: one-way
messages per second against ``multiprocessing.Pipe`` and ``multiprocessing.Queue``.
tractor's rows appear when it imports in its own environment (``_ipc_peers``).

Our rows time a worker's actor once the runtime's spare worker (started with
the first process actor) is ready: its start-up takes a CPU for a while, and on
a 2-core machine the first calls and casts would measure that instead.

``restart``: ``restart_first_call``, from the SIGKILL of a supervised process
actor to its restarted incarnation's first answered call, with a spare ready;
against a ``multiprocessing`` spawn process restarted the same way, and against
the floor: from the SIGKILL of an idle process that imported what an actor host
imports to its parent reading end of file on their socket (the kernel frees the
process's memory before it closes its files, so no parent can learn of the
death sooner).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import trio

from actors import (
    Actor,
    ActorExited,
    Caller,
    CallResult,
    InfoResult,
    NoReply,
    Reply,
    Runtime,
    open_runtime,
)
from supervisor import ChildSpec, Supervisor, open_tree

from . import _frames, _ipc_peers
from ._core import OURS, Case, Sample
from ._frames import FrameCounter
from ._ipc_floors import (
    MESSAGE,
    RAW_ECHO,
    TRIO_ECHO,
    async_round_trips,
    floor_echo,
    kill_to_eof,
    mp_restart,
    pipe_cast_rate,
    pipe_round_trip,
    queue_cast_rate,
    trio_floor_echo,
)


class Echo(Actor):
    """Answers what it is asked, counts what it is cast; imported by its worker.

    ``FRAMES_ON`` and ``FRAMES_OFF`` switch a frame counter on and off for the
    worker's whole trio thread (``sys.setprofile`` is per thread, not per task):
    everything the worker runs between the two answers is counted, its link
    reader, router and actor loop included.
    """

    async def init(self) -> None:
        self.count = 0
        self.frames = FrameCounter()

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "count":
                return Reply(self.count)
            case "pid":
                return Reply(os.getpid())
            case _frames.FRAMES_ON:
                self.frames.start()
            case _frames.FRAMES_OFF:
                return Reply(self.frames.stop())
        return Reply(request)

    async def handle_cast(self, message: Any) -> InfoResult:
        self.count += 1
        return NoReply()


# -- ours -------------------------------------------------------------------------------


def ours_round_trip(n: int, pin: bool) -> float | Sample:
    async def main() -> float | Sample:
        async with open_runtime() as runtime:
            echo = await runtime.spawn(Echo, placement="process")
            pid = await echo.call("pid")
            await _spare_ready(runtime)  # its start-up is not the call's cost
            return await async_round_trips(echo.call, n, pid, pin)

    return trio.run(main)


def ours_cast_rate(n: int) -> float:
    async def main() -> float:
        async with open_runtime() as runtime:
            echo = await runtime.spawn(Echo, placement="process")
            await echo.call(MESSAGE)
            await _spare_ready(runtime)  # its start-up is not the casts' cost
            start = time.perf_counter()
            for _ in range(n):
                await echo.cast(MESSAGE)
            count = await echo.call("count", timeout=60)
            elapsed = time.perf_counter() - start
            assert count == n, count
            return n / elapsed

    return trio.run(main)


@contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Keep the named loggers' reports (a restart's crash report) off the terminal."""
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def ours_restart(samples: int) -> float:
    with quiet("actors", "supervisor"):
        return _ours_restart(samples)


def _ours_restart(samples: int) -> float:
    async def main() -> float:
        tree = Supervisor(intensity=samples + 5, period=60, children=[_echo_child()])
        async with open_runtime() as runtime, open_tree(tree, runtime=runtime) as root:
            child = root.child("echo")
            times = []
            for _ in range(samples):
                await _spare_ready(runtime)
                pid = await child.call("pid", timeout=60)
                start = time.perf_counter()
                os.kill(pid, signal.SIGKILL)
                await _first_answer(child)
                times.append(time.perf_counter() - start)
            return sorted(times)[len(times) // 2]

    return trio.run(main)


async def _first_answer(child: Any) -> None:
    """Call until answered: a call sent before the root learns of the kill fails."""
    for _ in range(1000):
        try:
            await child.call("pid", timeout=60)  # waits between incarnations
            return
        except ActorExited:
            continue
    raise RuntimeError("no answer after 1000 tries")


def _echo_child() -> ChildSpec:
    return ChildSpec("echo", Echo, placement="process", shutdown=2.0)


async def _spare_ready(runtime: Runtime) -> None:
    """Wait (a few seconds at most) until the runtime holds an idle spare worker."""
    with trio.move_on_after(5):
        while runtime.statistics().spare_workers < 1:  # noqa: ASYNC110 - state of a pool
            await trio.sleep(0.01)


# -- the suites ---------------------------------------------------------------------


def ipc_cases(quick: bool) -> list[Case]:
    calls, casts = (300, 3_000) if quick else (3_000, 50_000)
    cases: list[Case] = []
    for pin in (False, True):
        scenario = "process_call_round_trip" + (" pinned" if pin else "")
        cases += [
            Case(scenario, OURS, "s", partial(ours_round_trip, calls, pin)),
            Case(scenario, "multiprocessing.Pipe", "s", partial(pipe_round_trip, calls, pin)),
            Case(scenario, "socketpair floor", "s", partial(floor_echo, RAW_ECHO, calls, pin)),
            Case(
                scenario,
                "trio server floor",
                "s",
                partial(floor_echo, TRIO_ECHO, calls, pin),
            ),
            Case(scenario, "trio-to-trio floor", "s", partial(trio_floor_echo, calls, pin)),
        ]
    casting = "process_cast_throughput"
    cases += [
        Case(casting, OURS, "msg/s", partial(ours_cast_rate, casts)),
        Case(casting, "multiprocessing.Pipe", "msg/s", partial(pipe_cast_rate, casts)),
        Case(casting, "multiprocessing.Queue", "msg/s", partial(queue_cast_rate, casts)),
    ]
    return cases + _ipc_peers.cases(calls, casts)


def restart_cases(quick: bool) -> list[Case]:
    samples = 3 if quick else 9
    return [
        Case("restart_first_call", OURS, "s", partial(ours_restart, samples)),
        Case("restart_first_call", "multiprocessing spawn", "s", partial(mp_restart, samples)),
        Case("restart_first_call", "kill-to-EOF floor", "s", partial(kill_to_eof, samples)),
    ]
