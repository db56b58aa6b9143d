"""The SQLite store's own thread: every call on its connection runs there, one at a time.

One dedicated thread, fed by a queue, runs each blocking call and hands the
outcome back to trio through the run's token, so a commit costs one thread
handoff each way (``trio.to_thread`` added a limiter, a thread cache and a
context copy per call). The connection is only ever used from this thread.

A call is not cancellable once queued: it is bounded by SQLite's busy timeout
and the disk, and its caller must learn its outcome (a commit that happened
must not be reported as not done).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import outcome
import trio

T = TypeVar("T")
_Job = tuple[Callable[..., Any], tuple[Any, ...], Callable[[outcome.Outcome[Any]], object]]


class StoreThread:
    """A thread that runs the calls given to :meth:`run`, in order, until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        self._stopped = False

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in the thread; its result or exception, once it has returned."""
        if self._stopped:
            raise trio.ClosedResourceError("the store's thread has stopped")
        task = trio.lowlevel.current_task()

        def done(result: outcome.Outcome[Any]) -> None:
            trio.lowlevel.reschedule(task, result)

        self._jobs.put((fn, args, done))
        result: T = await trio.lowlevel.wait_task_rescheduled(_not_cancellable)
        return result

    def stop(self) -> None:
        """Let the thread end once the calls queued so far have run (no new ones)."""
        if not self._stopped:
            self._stopped = True
            self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, done = job
            result = outcome.capture(fn, *args)
            try:
                self._token.run_sync_soon(done, result)
            except trio.RunFinishedError:  # the trio run is gone: nobody waits
                return


def _not_cancellable(_: object) -> trio.lowlevel.Abort:
    return trio.lowlevel.Abort.FAILED
