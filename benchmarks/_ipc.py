"""Actors in worker processes against multiprocessing and raw floors.

``ipc``: ``process_call_round_trip`` (a call into an actor in a worker) against a
``multiprocessing.Pipe`` echo and three floors with the same framing: a blocking
socketpair echo (what any Python IPC pays), a trio echo server with a blocking
client (one trio event loop), and a trio echo with trio at both ends (what an
actor call between two trio processes pays before any actor code runs); each
unpinned and with both processes pinned to one CPU. ``process_cast_throughput``:
one-way messages per second against ``multiprocessing.Pipe`` and
``multiprocessing.Queue``.

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
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

import msgpack
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
from spawn import SocketStream
from supervisor import ChildSpec, Supervisor, open_tree

from ._core import OURS, Case

CONTEXT = multiprocessing.get_context("spawn")
HEADER = 4
MESSAGE = ("echo", 12345, "payload")


class Echo(Actor):
    """Answers what it is asked, counts what it is cast; imported by its worker."""

    async def init(self) -> None:
        self.count = 0

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        match request:
            case "count":
                return Reply(self.count)
            case "pid":
                return Reply(os.getpid())
        return Reply(request)

    async def handle_cast(self, message: Any) -> InfoResult:
        self.count += 1
        return NoReply()


@contextmanager
def pinned(pids: list[int], pin: bool) -> Iterator[None]:
    """Pin this process and ``pids`` to CPU 0 for the block, if ``pin``."""
    if not pin:
        yield
        return
    before = os.sched_getaffinity(0)
    try:
        for pid in [0, *pids]:
            os.sched_setaffinity(pid, {0})
        yield
    finally:
        os.sched_setaffinity(0, before)


# -- ours -------------------------------------------------------------------------------


def ours_round_trip(n: int, pin: bool) -> float:
    async def main() -> float:
        async with open_runtime() as runtime:
            echo = await runtime.spawn(Echo, placement="process")
            pid = await echo.call("pid")
            with pinned([pid], pin):
                for _ in range(50):
                    await echo.call(MESSAGE)
                start = time.perf_counter()
                for _ in range(n):
                    await echo.call(MESSAGE)
                return (time.perf_counter() - start) / n

    return trio.run(main)


def ours_cast_rate(n: int) -> float:
    async def main() -> float:
        async with open_runtime() as runtime:
            echo = await runtime.spawn(Echo, placement="process")
            await echo.call(MESSAGE)
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


# -- multiprocessing ------------------------------------------------------------------


def pipe_echo(conn: Connection) -> None:
    while (message := conn.recv()) is not None:
        conn.send(message)


def pipe_count(conn: Connection) -> None:
    count = 0
    while (message := conn.recv()) is not None:
        if message == "count":
            conn.send(count)
        else:
            count += 1


def queue_count(inbox: Any, outbox: Any) -> None:
    count = 0
    while (message := inbox.get()) is not None:
        if message == "count":
            outbox.put(count)
        else:
            count += 1


def pipe_round_trip(n: int, pin: bool) -> float:
    parent, child = CONTEXT.Pipe()
    process = CONTEXT.Process(target=pipe_echo, args=(child,))
    process.start()
    try:
        with pinned([process.pid or 0], pin):
            for _ in range(50):
                parent.send(MESSAGE)
                parent.recv()
            start = time.perf_counter()
            for _ in range(n):
                parent.send(MESSAGE)
                parent.recv()
            return (time.perf_counter() - start) / n
    finally:
        parent.send(None)
        process.join()


def pipe_cast_rate(n: int) -> float:
    parent, child = CONTEXT.Pipe()
    process = CONTEXT.Process(target=pipe_count, args=(child,))
    process.start()
    try:
        parent.send("count")
        parent.recv()
        start = time.perf_counter()
        for _ in range(n):
            parent.send(MESSAGE)
        parent.send("count")
        count = parent.recv()
        elapsed = time.perf_counter() - start
        assert count == n, count
        return n / elapsed
    finally:
        parent.send(None)
        process.join()


def queue_cast_rate(n: int) -> float:
    inbox, outbox = CONTEXT.Queue(), CONTEXT.Queue()
    process = CONTEXT.Process(target=queue_count, args=(inbox, outbox))
    process.start()
    try:
        inbox.put("count")
        outbox.get()
        start = time.perf_counter()
        for _ in range(n):
            inbox.put(MESSAGE)
        inbox.put("count")
        count = outbox.get()
        elapsed = time.perf_counter() - start
        assert count == n, count
        return n / elapsed
    finally:
        inbox.put(None)
        process.join()


def mp_restart(samples: int) -> float:
    times = []
    parent, child = CONTEXT.Pipe()
    process = CONTEXT.Process(target=pipe_echo, args=(child,))
    process.start()
    parent.send(MESSAGE)
    parent.recv()
    for _ in range(samples):
        start = time.perf_counter()
        process.kill()
        process.join()
        parent, child = CONTEXT.Pipe()
        process = CONTEXT.Process(target=pipe_echo, args=(child,))
        process.start()
        parent.send(MESSAGE)
        parent.recv()
        times.append(time.perf_counter() - start)
    parent.send(None)
    process.join()
    return sorted(times)[len(times) // 2]


# -- floors: a socketpair echo, blocking and under trio ---------------------------------

_RAW_ECHO = """
import os, socket, sys
sock = socket.socket(fileno=int(sys.argv[1]))
buf = b""
while True:
    data = sock.recv(65536)
    if not data:
        break
    buf += data
    while len(buf) >= 4:
        size = int.from_bytes(buf[:4], "big")
        if len(buf) < 4 + size:
            break
        sock.sendall(buf[: 4 + size])
        buf = buf[4 + size :]
"""

_TRIO_ECHO = """
import socket, sys, trio
async def main():
    sock = socket.socket(fileno=int(sys.argv[1]))
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
    buf = b""
    async for data in stream:
        buf += data
        while len(buf) >= 4:
            size = int.from_bytes(buf[:4], "big")
            if len(buf) < 4 + size:
                break
            await stream.send_all(buf[: 4 + size])
            buf = buf[4 + size :]
trio.run(main)
"""


@contextmanager
def echo_child(code: str) -> Iterator[tuple[socket.socket, int]]:
    mine, theirs = socket.socketpair()
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(theirs.fileno())], pass_fds=[theirs.fileno()]
    )
    theirs.close()
    try:
        yield mine, child.pid
    finally:
        mine.close()
        child.wait(timeout=30)


def _framed(sock: socket.socket) -> Callable[[object], object]:
    """A blocking, framed msgpack round trip over ``sock`` (the same framing as ours)."""

    def round_trip(message: object) -> object:
        payload = msgpack.packb(message)
        sock.sendall(len(payload).to_bytes(HEADER, "big") + payload)
        header = _exactly(sock, HEADER)
        return msgpack.unpackb(_exactly(sock, int.from_bytes(header, "big")))

    return round_trip


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def trio_floor_echo(n: int, pin: bool) -> float:
    """The trio echo server, called from a trio client: an event loop at both ends."""
    with echo_child(_TRIO_ECHO) as (sock, pid):
        stream = SocketStream(sock)  # ours: no schedule point when the socket is ready

        async def round_trip(message: object) -> object:
            payload = msgpack.packb(message)
            await stream.send_all(len(payload).to_bytes(HEADER, "big") + payload)
            data = b""
            while len(data) < HEADER or len(data) < HEADER + int.from_bytes(data[:HEADER], "big"):
                chunk = await stream.receive_some(spin=False)
                if not chunk:
                    raise EOFError
                data += chunk
            return msgpack.unpackb(data[HEADER:])

        async def main() -> float:
            with pinned([pid], pin):
                for _ in range(50):
                    await round_trip(MESSAGE)
                start = time.perf_counter()
                for _ in range(n):
                    await round_trip(MESSAGE)
                return (time.perf_counter() - start) / n

        return trio.run(main)


_IDLE_HOST = """
import socket, sys
import trio, msgpack, actors, supervisor, benchmarks._ipc
sock = socket.socket(fileno=int(sys.argv[1]))
sock.sendall(b"r")
sock.recv(1)
"""


def kill_to_eof(samples: int) -> float:
    """SIGKILL of an idle process that imported what an actor host imports, until
    its parent reads end of file on their socket: the floor of noticing a death."""
    times = []
    for _ in range(samples):
        with echo_child(_IDLE_HOST) as (sock, pid):
            sock.recv(1)  # it has imported everything
            start = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            while sock.recv(1):
                pass
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def floor_echo(code: str, n: int, pin: bool) -> float:
    with echo_child(code) as (sock, pid):
        call = _framed(sock)
        with pinned([pid], pin):
            for _ in range(50):
                call(MESSAGE)
            start = time.perf_counter()
            for _ in range(n):
                call(MESSAGE)
            return (time.perf_counter() - start) / n


# -- the suites ---------------------------------------------------------------------


def ipc_cases(quick: bool) -> list[Case]:
    calls, casts = (300, 3_000) if quick else (3_000, 50_000)
    cases: list[Case] = []
    for pin in (False, True):
        scenario = "process_call_round_trip" + (" pinned" if pin else "")
        cases += [
            Case(scenario, OURS, "s", partial(ours_round_trip, calls, pin)),
            Case(scenario, "multiprocessing.Pipe", "s", partial(pipe_round_trip, calls, pin)),
            Case(scenario, "socketpair floor", "s", partial(floor_echo, _RAW_ECHO, calls, pin)),
            Case(
                scenario,
                "trio server floor",
                "s",
                partial(floor_echo, _TRIO_ECHO, calls, pin),
            ),
            Case(scenario, "trio-to-trio floor", "s", partial(trio_floor_echo, calls, pin)),
        ]
    casting = "process_cast_throughput"
    cases += [
        Case(casting, OURS, "msg/s", partial(ours_cast_rate, casts)),
        Case(casting, "multiprocessing.Pipe", "msg/s", partial(pipe_cast_rate, casts)),
        Case(casting, "multiprocessing.Queue", "msg/s", partial(queue_cast_rate, casts)),
    ]
    return cases


def restart_cases(quick: bool) -> list[Case]:
    samples = 3 if quick else 9
    return [
        Case("restart_first_call", OURS, "s", partial(ours_restart, samples)),
        Case("restart_first_call", "multiprocessing spawn", "s", partial(mp_restart, samples)),
        Case("restart_first_call", "kill-to-EOF floor", "s", partial(kill_to_eof, samples)),
    ]
