"""Asyncio actors for the tests of issue 17 (importable, so they can run in a worker)."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from actors import AsyncioActor, Caller, CallResult, ExitReason, InfoResult, NoReply, Reply, Stop


def loop_threads() -> list[str]:
    """The threads of this process but the main one: what may run an event loop."""
    return sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())


class LineClient(AsyncioActor):
    """Talks to a line server with asyncio streams; results go through an asyncio.Queue."""

    async def init(self, host: str, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        self.writer.write(str(request).encode() + b"\n")
        await self.writer.drain()
        self.pump = asyncio.create_task(self._pump())  # answers arrive through the queue
        line = await self.queue.get()
        loop = asyncio.get_running_loop()
        return Reply(
            [
                line.decode().strip(),
                type(loop).__module__,
                type(loop).__name__,
                loop_threads(),
                os.getpid(),
            ]
        )

    async def _pump(self) -> None:
        await self.queue.put(await self.reader.readline())

    async def terminate(self, reason: ExitReason) -> None:
        self.writer.close()
        await self.writer.wait_closed()


class Stubborn(AsyncioActor):
    """Its handler blocks; a task it started ignores cancellation until released."""

    async def init(self, swallow: bool, log: list[str] | None = None) -> None:
        self.swallow = swallow
        self.seen: list[str] = [] if log is None else log  # a list given by a test in-process

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        if request == "seen":
            return Reply(self.seen)
        started = asyncio.Event()
        self.tasks = [asyncio.create_task(self._blocked(started))]
        if self.swallow:
            self.tasks.append(asyncio.create_task(self._swallower()))
        await started.wait()
        self.reply(caller, os.getpid())  # answered; the handler itself now blocks
        await asyncio.Event().wait()
        return NoReply()

    async def _blocked(self, started: asyncio.Event) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.seen.append("blocked task cancelled")
            raise

    async def _swallower(self) -> None:
        """Ignores the first cancellation (the stop's), obeys the next (the loop's close)."""
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.seen.append("swallowed")
        await asyncio.Event().wait()

    async def terminate(self, reason: ExitReason) -> None:
        self.seen.append(f"terminate {reason}")


class Crasher(AsyncioActor):
    """Raises from asyncio code on request."""

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        if request == "boom":
            await asyncio.sleep(0)
            raise ValueError("boom from asyncio")
        return Reply(request)

    async def handle_cast(self, message: Any) -> InfoResult:
        return Stop()
