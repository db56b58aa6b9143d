"""Node links: how frames reach another node. :class:`NodeLink` is a channel to a worker.

The router speaks to every node through a :class:`Transport`; a channel over
a socketpair to a worker process (:class:`NodeLink`) is one kind, and nodes
reached some other way need only provide the same few methods.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import trio

from spawn import FRAME_HEADER, Channel, ProtocolError


class Transport(Protocol):
    """A duplex link to one node, carrying encoded frames in order."""

    node: str
    closed: bool

    def post(self, data: bytes, *, now: bool = True) -> None:
        """Queue one encoded frame; with ``now``, try to write it at once. Never blocks."""

    def finish(self) -> None:
        """Send what is queued, then end of file; frames from the peer are still read."""

    def close(self) -> None:
        """Stop writing now; what is queued is dropped."""

    async def receive_batch(self) -> list[object]:
        """The frames that arrived, decoded; raises ``trio.EndOfChannel`` at the end."""

    async def write_loop(self) -> None:
        """Write what could not be written at once, until the link closes or breaks."""


class NodeLink:
    """A channel to another node: frames are encoded when posted and written at once.

    A frame goes straight to the socket when nothing waits before it; what the
    socket does not take waits for the writer task, and later frames queue
    behind it, so order holds and a slow peer never blocks the poster.
    """

    #: The frames that arrived, decoded (the channel's own method: no frame of ours
    #: between the reader and the socket). In batches and without spinning: the
    #: tasks a frame wakes run in this event loop, as soon as the reader waits.
    receive_batch: Callable[[], Coroutine[Any, Any, list[object]]]

    def __init__(self, channel: Channel, node: str) -> None:
        self.channel = channel
        self.receive_batch = channel.receive_batch
        self.node = node
        self.closed = False
        self._socket: socket.socket | None = getattr(channel.stream, "socket", None)
        self._limit = channel.max_frame
        self._out: list[bytes] = []  # whole frames (or the rest of one), in order
        self._wake = trio.Event()
        self._woken = False  # whether ``_wake`` was set (saves a call per cast)
        self._writing = False
        self._finishing = False

    def __repr__(self) -> str:
        return f"<NodeLink to {self.node}>"

    def finish(self) -> None:
        self._finishing = True
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    def post(self, data: bytes, *, now: bool = True) -> None:
        """Queue one frame; with ``now``, write it (and what queued before it) at once.

        Casts and credits go with ``now=False``: they leave together when the
        writer task next runs, which is as soon as the poster waits.
        """
        if self.closed or self._finishing:
            return
        if len(data) > self._limit:
            raise ProtocolError(f"frame of {len(data):,} bytes is over the limit")
        out = self._out
        out.append(len(data).to_bytes(FRAME_HEADER, "big") + data)
        sock = self._socket
        if not now or self._writing or sock is None:
            if not self._woken:
                self._woken = True
                self._wake.set()
            return
        # Write it (and what queued before it) at once, inline: this is every call's path.
        data = out[0] if len(out) == 1 else b"".join(out)
        self._out = []
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.closed = True  # the reader sees the end and takes the node down
            return
        if sent < len(data):
            self._out.append(data[sent:])
            self._wake.set()

    async def write_loop(self) -> None:
        try:
            while not self.closed:
                if not self._out:
                    if self._finishing:
                        await self.channel.send_eof()
                        return
                    self._wake, self._woken = trio.Event(), False
                    await self._wake.wait()
                    continue
                batch, self._out = b"".join(self._out), []
                self._writing = True
                try:
                    await self.channel.stream.send_all(batch)
                finally:
                    self._writing = False
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the peer is gone; the reader sees the end and takes the node down
        finally:
            self.closed = True
