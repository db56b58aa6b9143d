"""The read turn of a dedicated worker's link (``actors._pump``), against a link in memory.

An idle actor reads the link in its own task (one task hop per message); while
it is busy the reader task reads; a reader waiting in the link yields the turn
when the actor wants it back; whatever ends the link reaches the reader.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from actors._mailbox import CAST
from actors._pump import PumpedMailbox, ReadTurn


class MemoryLink:
    """The part of a Transport that a read turn uses, fed by the test; one reader at a time."""

    node = "worker"
    closed = False

    def __init__(self) -> None:
        self.feed, self._frames = trio.open_memory_channel[object](100)
        self._reading = False

    async def receive_batch(self) -> list[object]:
        if self._reading:
            raise trio.BusyResourceError("two readers at once")
        self._reading = True
        try:
            frame = await self._frames.receive()
        finally:
            self._reading = False
        if isinstance(frame, BaseException):
            raise frame
        return [frame]


class Node:
    """A link, its read turn, a reader task and one pumped mailbox; who dispatched what."""

    def __init__(self) -> None:
        self.link = MemoryLink()
        self.turn = ReadTurn(self.link, self.dispatch)
        self.mailbox = PumpedMailbox(10, self.turn)
        self.dispatched: list[tuple[object, str]] = []  # (frame, "actor" or "reader")
        self.actor: trio.lowlevel.Task | None = None
        self.reader_ended: BaseException | None = None

    def dispatch(self, batch: list[object]) -> None:
        for frame in batch:
            by = "actor" if trio.lowlevel.current_task() is self.actor else "reader"
            self.dispatched.append((frame, by))
            if frame != "for someone else":
                self.mailbox.put_forced((CAST, frame, None, None))

    async def read(self) -> None:
        try:
            while True:
                batch = await self.turn.read()
                if batch is not None:
                    self.dispatch(batch)
        except (trio.EndOfChannel, ValueError) as exc:
            self.reader_ended = exc

    async def get(self) -> object:
        self.actor = trio.lowlevel.current_task()
        return (await self.mailbox.get())[1]


@asynccontextmanager
async def running() -> AsyncIterator[Node]:
    node = Node()
    trio.lowlevel.add_instrument(node.turn)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(node.read)
            await trio.testing.wait_all_tasks_blocked()
            yield node
            nursery.cancel_scope.cancel()
    finally:
        trio.lowlevel.remove_instrument(node.turn)


async def test_an_idle_actor_reads_its_link_itself() -> None:
    async with running() as node, trio.open_nursery() as nursery:
        got: list[object] = []

        async def actor() -> None:
            for _ in range(3):
                got.append(await node.get())

        nursery.start_soon(actor)
        for frame in ("a", "b", "c"):
            await trio.testing.wait_all_tasks_blocked()
            await node.link.feed.send(frame)
    assert got == ["a", "b", "c"]
    assert node.dispatched == [("a", "actor"), ("b", "actor"), ("c", "actor")]


async def test_a_busy_actor_leaves_the_link_to_the_reader_then_takes_it_back() -> None:
    async with running() as node, trio.open_nursery() as nursery:
        got: list[object] = []
        handling = trio.Event()
        release = trio.Event()

        async def actor() -> None:
            got.append(await node.get())
            handling.set()
            await release.wait()  # a handler that waits: the reader reads meanwhile
            for _ in range(2):
                got.append(await node.get())

        nursery.start_soon(actor)
        await trio.testing.wait_all_tasks_blocked()
        await node.link.feed.send("first")
        await handling.wait()
        await node.link.feed.send("while busy")
        await node.link.feed.send("for someone else")
        await trio.testing.wait_all_tasks_blocked()
        release.set()
        await trio.testing.wait_all_tasks_blocked()  # the reader yielded; the actor reads
        await node.link.feed.send("idle again")
    assert got == ["first", "while busy", "idle again"]
    assert node.dispatched == [
        ("first", "actor"),
        ("while busy", "reader"),
        ("for someone else", "reader"),
        ("idle again", "actor"),
    ]


async def test_a_cancelled_wait_gives_the_turn_back(autojump_clock: trio.abc.Clock) -> None:
    async with running() as node:
        with trio.move_on_after(1):
            await node.get()  # reads the link until cancelled
        await node.link.feed.send("after")
        await trio.testing.wait_all_tasks_blocked()
        assert node.dispatched == [("after", "reader")]
        assert len(node.mailbox) == 1


@pytest.mark.parametrize("end", [trio.EndOfChannel(), ValueError("a bad frame")])
async def test_what_ends_the_link_under_an_actor_reaches_the_reader(end: BaseException) -> None:
    async with running() as node, trio.open_nursery() as nursery:

        async def actor() -> None:
            await node.get()

        nursery.start_soon(actor)
        await trio.testing.wait_all_tasks_blocked()
        await node.link.feed.send(end)
        await trio.testing.wait_all_tasks_blocked()
        assert node.reader_ended is end
        assert not node.turn.take(node.mailbox)  # the link is the reader's from now on
        nursery.cancel_scope.cancel()
