"""A network service under a supervision tree against bare ``trio.serve_tcp`` servers.

``kv_round_trip``: a GET through ``examples.kv_service`` (listener -> connection
child -> store actor -> reply) against a ``trio.serve_tcp`` server running the same
line code on a dict, with no actor in the path. ``echo_round_trip``: a plain echo
through the listener against a bare ``serve_tcp`` echo. ``connections``: new
connections per second, each doing one GET, against the bare kv server.

Each client runs in a process of its own with blocking sockets, so the server's
trio loop has the CPU to itself and only the server differs between subjects.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import trio

from actors import open_runtime
from examples import kv_service
from supervisor import MemoryStore, Supervisor, listener, listener_address, open_tree

from ._core import OURS, Case

_CLIENT = r"""
import socket, sys, time
port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def connect():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s
def ask(s, line, size):
    s.sendall(line)
    got = b""
    while len(got) < size:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("the server closed the connection")
        got += chunk
    return got
GET, VALUE = b"GET k\n", b"VALUE v\n"
if mode == "connections":
    start = time.perf_counter()
    for _ in range(n):
        s = connect()
        assert ask(s, GET, len(VALUE)) == VALUE
        s.close()
    print(n / (time.perf_counter() - start))
    raise SystemExit
s = connect()
line, expected = (GET, VALUE) if mode == "kv" else (b"ping\n", b"ping\n")
for _ in range(100):
    assert ask(s, line, len(expected)) == expected
start = time.perf_counter()
for _ in range(n):
    ask(s, line, len(expected))
print((time.perf_counter() - start) / n)
s.close()
"""

Server = Callable[[], AbstractAsyncContextManager[int]]  # yields the port


async def _echo(stream: trio.SocketStream) -> None:
    async for data in stream:
        await stream.send_all(data)


class _Dict:
    """The store's requests on a plain dict: the bare server's "store"."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def call(self, request: object) -> Any:
        return kv_service.apply(self.data, request)


@asynccontextmanager
async def _ours(spec: Supervisor, path: str, seed: bool) -> Any:
    # The example's store is persistent; in memory here, so that a GET costs what it costs
    # without a disk (it commits nothing: a read leaves the snapshot unchanged).
    async with (
        open_runtime(store=MemoryStore()) as runtime,
        open_tree(spec, runtime=runtime) as root,
    ):
        address = await listener_address(root.supervisor(path))
        assert isinstance(address, tuple)
        if seed:
            await root.child("store").call(("set", "k", "v"))
        yield address[1]


@asynccontextmanager
async def _bare(handler: Callable[[trio.SocketStream], Awaitable[None]]) -> Any:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        yield listeners[0].socket.getsockname()[1]
        nursery.cancel_scope.cancel()


def _bare_kv() -> AbstractAsyncContextManager[int]:
    store = _Dict()
    store.data["k"] = "v"
    return _bare(partial(_serve_with, store))


async def _serve_with(store: _Dict, stream: trio.SocketStream) -> None:
    await kv_service.serve_client(stream, store)


def _ours_kv() -> AbstractAsyncContextManager[int]:
    return _ours(kv_service.tree(), "kv", seed=True)


def _ours_echo() -> AbstractAsyncContextManager[int]:
    return _ours(Supervisor(children=[listener("echo", _echo)]), "echo", seed=False)


def _bare_echo() -> AbstractAsyncContextManager[int]:
    return _bare(_echo)


def _run(server: Server, mode: str, n: int) -> float:
    async def main() -> float:
        async with server() as port:
            done = await trio.run_process(
                [sys.executable, "-c", _CLIENT, str(port), mode, str(n)],
                capture_stdout=True,
                stderr=subprocess.STDOUT,
            )
        return float(done.stdout)

    return trio.run(main)


def cases(quick: bool) -> list[Case]:
    trips, connects = (300, 50) if quick else (5_000, 1_000)
    return [
        Case("kv_round_trip", OURS, "s", partial(_run, _ours_kv, "kv", trips)),
        Case("kv_round_trip", "trio.serve_tcp dict", "s", partial(_run, _bare_kv, "kv", trips)),
        Case("echo_round_trip", OURS, "s", partial(_run, _ours_echo, "echo", trips)),
        Case(
            "echo_round_trip", "trio.serve_tcp echo", "s", partial(_run, _bare_echo, "echo", trips)
        ),
        Case("connections", OURS, "conn/s", partial(_run, _ours_kv, "connections", connects)),
        Case(
            "connections",
            "trio.serve_tcp dict",
            "conn/s",
            partial(_run, _bare_kv, "connections", connects),
        ),
    ]
