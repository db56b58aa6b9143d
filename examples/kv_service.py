"""A line-protocol key-value server under a supervision tree; each connection its own child.

Run it as a daemon: ``letitcrash run examples.kv_service:tree --set port=7070`` (loopback;
port 0 by default, the bound port is logged and written to ``listeners.json`` in the state
directory), then talk to it with ``nc 127.0.0.1 7070``; Ctrl-C or SIGTERM stops it in order.
The store is persistent (strict mode, in the daemon's SQLite store): a write that was
answered ``OK`` survives a ``kill -9`` of the daemon.

    root (one_for_one)
    ├── store        an actor holding the data (persistent)
    └── kv           the listener (docs/services.md)
        ├── connections   a temporary child per client, each running serve_client
        └── acceptor

The protocol, one command per line (UTF-8, at most 64 KiB a line)::

    SET key value   ->  OK
    GET key         ->  VALUE value   |  NOT_FOUND
    DEL key         ->  DELETED       |  NOT_FOUND
    anything else   ->  ERROR ...     (the connection stays open)

A longer line gets ``ERROR line too long`` and its connection is closed: nothing
grows without bound. A client that crashes its handler loses only its own connection.
"""

from __future__ import annotations

from typing import Any, Protocol

import trio

from actors import Actor, Caller, CallResult, Persistent, Reply
from supervisor import ChildSpec, Sibling, Supervisor, listener

MAX_LINE = 64 * 1024


def apply(data: dict[str, str], request: Any) -> object:
    """One request on ``data``: ``("get", key)``, ``("set", key, value)`` or ``("del", key)``."""
    match request:
        case ("get", str(key)):
            return data.get(key)
        case ("set", str(key), str(value)):
            data[key] = value
            return True
        case ("del", str(key)):
            return data.pop(key, None) is not None
    raise ValueError(f"the store answers no {request!r}")


class Store(Actor, Persistent[dict[str, str]]):
    """The data, in an actor: its calls are :func:`apply`'s requests.

    It is persistent (docs/persistence.md): in a tree with a state store, strict mode
    (the default) answers a SET or DEL only once it is committed, so a ``kill -9`` of
    the daemon loses no acknowledged write.
    """

    state_version = 1

    async def init(self, state: dict[str, str] | None) -> None:
        self.data: dict[str, str] = {} if state is None else state

    def snapshot(self) -> dict[str, str]:
        return self.data

    @classmethod
    def restore(cls, data: Any, version: int) -> dict[str, str]:
        return {str(key): str(value) for key, value in dict(data).items()}

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        return Reply(apply(self.data, request))


class Calls(Protocol):
    async def call(self, request: object) -> Any: ...


class LineTooLong(Exception):
    pass


class Lines:
    """Lines from a stream, each at most ``limit`` bytes (without its newline)."""

    def __init__(self, stream: trio.abc.ReceiveStream, limit: int = MAX_LINE) -> None:
        self.stream = stream
        self.limit = limit
        self.buffer = bytearray()

    async def next(self) -> bytes | None:
        """The next line; None at end of stream (a partial last line is dropped)."""
        start = 0
        while True:
            end = self.buffer.find(b"\n", start)
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                if len(line) > self.limit:
                    raise LineTooLong
                return line.rstrip(b"\r")
            if len(self.buffer) > self.limit:
                raise LineTooLong
            start = len(self.buffer)
            data = await self.stream.receive_some(self.limit + 1)
            if not data:
                return None
            self.buffer += data


async def answer(line: bytes, store: Calls) -> bytes:
    """The reply to one command line."""
    try:
        words = line.decode("utf-8").split(" ", 2)
    except UnicodeDecodeError:
        return b"ERROR not UTF-8"
    match words:
        case ["GET", key]:
            value = await store.call(("get", key))
            return b"NOT_FOUND" if value is None else b"VALUE " + value.encode()
        case ["SET", key, value]:
            await store.call(("set", key, value))
            return b"OK"
        case ["DEL", key]:
            return b"DELETED" if await store.call(("del", key)) else b"NOT_FOUND"
    return b"ERROR unknown command (GET key | SET key value | DEL key)"


async def serve_client(stream: trio.SocketStream, store: Calls) -> None:
    """One connection: a command per line, a reply per command."""
    lines = Lines(stream)
    while True:
        try:
            line = await lines.next()
        except LineTooLong:
            await stream.send_all(b"ERROR line too long\n")
            return  # the listener closes the stream
        if line is None:
            return
        await stream.send_all(await answer(line, store) + b"\n")


def tree(host: str = "127.0.0.1", port: int = 0, max_connections: int = 1000) -> Supervisor:
    """The service's tree; ``letitcrash run examples.kv_service:tree --set port=N`` runs it."""
    return Supervisor(
        children=[
            ChildSpec("store", Store),
            listener(
                "kv",
                serve_client,
                args=(Sibling("store"),),
                address=(host, port),
                max_connections=max_connections,
            ),
        ]
    )
