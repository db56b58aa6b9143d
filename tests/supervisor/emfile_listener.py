"""Run by test_listener.py in a process of its own: a listener that runs out of fds.

It lowers RLIMIT_NOFILE so that the listener can accept one connection and not a
second. Prints what happened, a line each, for the test to check.
"""

from __future__ import annotations

import logging
import os
import resource
import socket

import trio

from actors import open_runtime
from supervisor import Supervisor, listener, listener_address, open_tree


async def echo(stream: trio.SocketStream) -> None:
    async for data in stream:
        await stream.send_all(data)


def ask(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    return sock.recv(100)


class _OnPause(logging.Handler):
    """Sets ``event`` at the acceptor's first "accept failed, pausing" report."""

    def __init__(self, event: trio.Event) -> None:
        super().__init__()
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        if "accept failed, pausing" in record.getMessage():
            self.event.set()  # logged from the acceptor's task, on the trio thread


async def main() -> None:
    logging.basicConfig(level=logging.ERROR, format="%(name)s %(message)s")
    paused = trio.Event()
    logging.getLogger("supervisor").addHandler(_OnPause(paused))
    spec = Supervisor(children=[listener("echo", echo)])
    async with open_runtime() as runtime, open_tree(spec, runtime=runtime) as root:
        address = await listener_address(root.supervisor("echo"))
        assert isinstance(address, tuple)
        acceptor = root.child("echo/acceptor").whereis()
        first, second = socket.socket(), socket.socket()  # their fds exist before the limit
        opened = len(os.listdir("/proc/self/fd")) - 1  # the listing has an fd of its own
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (opened + 1, hard))  # room for one accept
        try:
            await trio.to_thread.run_sync(first.connect, address)
            print(
                "first:", (await trio.to_thread.run_sync(ask, first, b"one")).decode(), flush=True
            )
            await trio.to_thread.run_sync(second.connect, address)  # the backlog completes it
            second.sendall(b"two")
            with trio.fail_after(30):
                await paused.wait()  # the acceptor logged an accept failed with EMFILE
            print("acceptor restarted:", root.child("echo/acceptor").whereis() != acceptor)
            first.close()  # frees an fd: the second connection can be accepted
            answer = await trio.to_thread.run_sync(second.recv, 100)
            print("second:", answer.decode(), flush=True)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            second.close()


trio.run(main)
