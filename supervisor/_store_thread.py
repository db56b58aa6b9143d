"""The SQLite store's own thread: every call on its connection runs there, one at a time.

One dedicated thread, fed by a queue, runs each blocking call, stores its
outcome in the call's slot and signals an ``eventfd`` that the waiting trio
task watches itself: epoll wakes that task directly, so a commit costs one
thread handoff each way and one scheduler pass on the way back (the run's
token went through trio's entry queue task: two passes; ``trio.to_thread``
added a limiter, a thread cache and a context copy per call). The connection
is only ever used from this thread.

One task at a time watches the eventfd (trio allows one reader per fd); the
others park, and the watcher wakes them all each time it is woken: each looks
at its own slot, and one of those still waiting watches next.

A call is not cancellable once queued: it is bounded by SQLite's busy timeout
and the disk, and its caller must learn its outcome (a commit that happened
must not be reported as not done). ``trio.Cancelled`` is then raised at the
caller's next checkpoint.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import outcome
import trio

T = TypeVar("T")


class _Call:
    __slots__ = ("args", "fn", "result")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.result: outcome.Outcome[Any] | None = None  # set by the thread


class StoreThread:
    """A thread that runs the calls given to :meth:`run`, in order, until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._running = 0  # calls given and not yet returned
        self._watching = False  # a task waits on the eventfd
        self._parked: list[trio.lowlevel.Task] = []  # tasks waiting for the watcher
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        self._stopped = False

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in the thread; its result or exception, once it has returned."""
        if self._stopped:
            raise trio.ClosedResourceError("the store's thread has stopped")
        call = _Call(fn, args)
        self._running += 1
        self._calls.put(call)
        try:
            while call.result is None:
                if self._watching:
                    self._parked.append(trio.lowlevel.current_task())
                    await trio.lowlevel.wait_task_rescheduled(_not_cancellable)
                else:
                    await self._watch()
        finally:
            self._running -= 1
            self._close_when_done()
        result: T = call.result.unwrap()
        return result

    def stop(self) -> None:
        """Let the thread end once the calls queued so far have run (no new ones)."""
        if not self._stopped:
            self._stopped = True
            self._calls.put(None)
            self._close_when_done()

    async def _watch(self) -> None:
        """Wait until the thread has finished a call (any), then wake the parked tasks."""
        self._watching = True
        try:
            try:
                await trio.lowlevel.wait_readable(self._fd)
            except trio.Cancelled:  # bounded by the call: see the module docstring
                with trio.CancelScope(shield=True):
                    await trio.lowlevel.wait_readable(self._fd)
            try:
                os.eventfd_read(self._fd)
            except BlockingIOError:  # pragma: no cover - only the watcher reads it
                pass
        finally:
            self._watching = False
            parked, self._parked = self._parked, []
            for task in parked:
                trio.lowlevel.reschedule(task)

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            result = outcome.capture(call.fn, *call.args)
            call.result = result
            os.eventfd_write(self._fd, 1)

    def _close_when_done(self) -> None:
        """Close the eventfd once stopped and every call has returned: the thread is then
        at its end (its last call's result is out, the stop is next in its queue), so
        this join is short, and after it nothing signals the fd."""
        if self._stopped and not self._running:
            self._thread.join()
            os.close(self._fd)


def _not_cancellable(_: object) -> trio.lowlevel.Abort:
    return trio.lowlevel.Abort.FAILED
