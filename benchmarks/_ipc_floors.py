"""The ipc suite's peers that are not actors: ``multiprocessing`` and the raw floors.

Every round-trip subject runs the same three passes in one sample: a warm-up,
the timed calls, then (unpinned only) as many calls again with a
:class:`~benchmarks._frames.FrameCounter` on each side, the echo side switched
on and off by the control messages ``FRAMES_ON`` and ``FRAMES_OFF``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

import msgpack
import trio

from spawn import SocketStream

from ._core import Sample
from ._frames import FRAMES_OFF, FRAMES_ON, FrameCounter

CONTEXT = multiprocessing.get_context("spawn")
HEADER = 4
MESSAGE = ("echo", 12345, "payload")
WARM = 50
#: Whether the trio-to-trio floor's client spins before it waits for a reply: as
#: the root's reader of a worker's link does (``Channel.receive_batch``).
ROOT_READER_SPINS = False


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


def round_trips(call: Callable[[object], object], n: int, pid: int, pin: bool) -> float | Sample:
    """Time ``n`` blocking calls (after a warm-up); unpinned, also count their frames."""
    with pinned([pid], pin):
        for _ in range(WARM):
            call(MESSAGE)
        start = time.perf_counter()
        for _ in range(n):
            call(MESSAGE)
        seconds = (time.perf_counter() - start) / n
    if pin:
        return seconds
    call(FRAMES_ON)
    with FrameCounter() as root:
        for _ in range(n):
            call(MESSAGE)
    return _per_call(seconds, root, call(FRAMES_OFF), n)


def _per_call(seconds: float, root: FrameCounter, worker: object, n: int) -> Sample:
    assert isinstance(worker, int), f"the echo side answered {worker!r} to {FRAMES_OFF!r}"
    return Sample(seconds, {"root": root.calls / n, "worker": worker / n})


async def async_round_trips(
    call: Callable[[object], Awaitable[object]], n: int, pid: int, pin: bool
) -> float | Sample:
    """:func:`round_trips` for a caller that runs in trio."""
    with pinned([pid], pin):
        for _ in range(WARM):
            await call(MESSAGE)
        start = time.perf_counter()
        for _ in range(n):
            await call(MESSAGE)
        seconds = (time.perf_counter() - start) / n
    if pin:
        return seconds
    await call(FRAMES_ON)
    with FrameCounter() as root:
        for _ in range(n):
            await call(MESSAGE)
    return _per_call(seconds, root, await call(FRAMES_OFF), n)


# -- multiprocessing ------------------------------------------------------------------


def pipe_echo(conn: Connection) -> None:
    counter = FrameCounter()
    while (message := conn.recv()) is not None:
        if message == FRAMES_ON:
            counter.start()
        elif message == FRAMES_OFF:
            message = counter.stop()
        conn.send(message)


def _counting(receive: Callable[[], object], send: Callable[[object], None]) -> None:
    """Count the messages received until ``None``; answer ``"count"`` with the count."""
    count = 0
    while (message := receive()) is not None:
        if message == "count":
            send(count)
        else:
            count += 1


def pipe_count(conn: Connection) -> None:
    _counting(conn.recv, conn.send)


def queue_count(inbox: Any, outbox: Any) -> None:
    _counting(inbox.get, outbox.put)


@contextmanager
def mp_child(
    stop: Callable[[None], None], target: Callable[..., None], *args: Any
) -> Iterator[int]:
    """A ``multiprocessing`` spawn process running ``target(*args)``; its pid. At the end
    of the block, ``stop(None)`` tells it to end, and it is joined."""
    process = CONTEXT.Process(target=target, args=args)
    process.start()
    try:
        yield process.pid or 0
    finally:
        stop(None)
        process.join()


def pipe_round_trip(n: int, pin: bool) -> float | Sample:
    parent, child = CONTEXT.Pipe()

    def call(message: object) -> object:
        parent.send(message)
        return parent.recv()

    with mp_child(parent.send, pipe_echo, child) as pid:
        return round_trips(call, n, pid, pin)


def _cast_rate(send: Callable[[object], None], receive: Callable[[], object], n: int) -> float:
    """Messages per second, from the first of ``n`` sent to the count that says all arrived."""
    send("count")
    receive()
    start = time.perf_counter()
    for _ in range(n):
        send(MESSAGE)
    send("count")
    count = receive()
    elapsed = time.perf_counter() - start
    assert count == n, count
    return n / elapsed


def pipe_cast_rate(n: int) -> float:
    parent, child = CONTEXT.Pipe()
    with mp_child(parent.send, pipe_count, child):
        return _cast_rate(parent.send, parent.recv, n)


def queue_cast_rate(n: int) -> float:
    inbox, outbox = CONTEXT.Queue(), CONTEXT.Queue()
    with mp_child(inbox.put, queue_count, inbox, outbox):
        return _cast_rate(inbox.put, outbox.get, n)


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

# What the echo servers share: a frame of a control message is answered, not echoed.
_CONTROL = """
import msgpack
from benchmarks._frames import FRAMES_OFF, FRAMES_ON, FrameCounter
counter = FrameCounter()
def control(frame):
    message = msgpack.unpackb(frame[4:])
    if message == FRAMES_ON:
        counter.start()
        return frame
    payload = msgpack.packb(counter.stop() if message == FRAMES_OFF else message)
    return len(payload).to_bytes(4, "big") + payload
"""

RAW_ECHO = (
    _CONTROL
    + """
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
        frame, buf = buf[: 4 + size], buf[4 + size :]
        sock.sendall(frame if size > 11 else control(frame))
"""
)

TRIO_ECHO = (
    _CONTROL
    + """
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
            frame, buf = buf[: 4 + size], buf[4 + size :]
            await stream.send_all(frame if size > 11 else control(frame))
trio.run(main)
"""
)


@contextmanager
def echo_child(code: str) -> Iterator[tuple[socket.socket, int]]:
    """``python -c code FD`` from the repository's top, on one end of a socketpair."""
    mine, theirs = socket.socketpair()
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(theirs.fileno())], pass_fds=[theirs.fileno()], cwd=top
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


def floor_echo(code: str, n: int, pin: bool) -> float | Sample:
    with echo_child(code) as (sock, pid):
        return round_trips(_framed(sock), n, pid, pin)


def trio_floor_echo(n: int, pin: bool) -> float | Sample:
    """The trio echo server, called from a trio client: an event loop at both ends."""
    with echo_child(TRIO_ECHO) as (sock, pid):
        stream = SocketStream(sock)  # ours: no schedule point when the socket is ready

        async def round_trip(message: object) -> object:
            payload = msgpack.packb(message)
            await stream.send_all(len(payload).to_bytes(HEADER, "big") + payload)
            data = b""
            while len(data) < HEADER or len(data) < HEADER + int.from_bytes(data[:HEADER], "big"):
                chunk = await stream.receive_some(spin=ROOT_READER_SPINS)
                if not chunk:
                    raise EOFError
                data += chunk
            return msgpack.unpackb(data[HEADER:])

        return trio.run(async_round_trips, round_trip, n, pid, pin)


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
