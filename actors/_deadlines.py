"""Call timeouts without a cancel scope per call: one heap, one task per runtime.

A call whose request went in at once parks until its reply; its deadline sits
in a heap that a single task serves. An answered call leaves a stale entry
behind, dropped when it reaches the top or when stale entries outnumber live
ones.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable

import outcome
import trio

from ._behaviour import Caller

_COMPACT_AT = 1024


class Deadlines:
    __slots__ = ("_heap", "_on_expiry", "_order", "_scope", "_stale", "_wakeup")

    def __init__(self, on_expiry: Callable[[Caller], BaseException]) -> None:
        self._heap: list[tuple[float, int, Caller]] = []
        self._order = itertools.count()
        self._stale = 0
        self._scope: trio.CancelScope | None = None
        self._wakeup = trio.Event()
        self._on_expiry = on_expiry

    def add(self, deadline: float, caller: Caller) -> None:
        """Fail ``caller`` with ``on_expiry(caller)`` at ``deadline`` unless answered first."""
        heap = self._heap
        if heap and deadline < heap[0][0] and self._scope is not None:
            self._scope.deadline = deadline
        heapq.heappush(heap, (deadline, next(self._order), caller))
        caller._timed = True
        if len(heap) == 1:
            self._wakeup.set()

    def discard(self) -> None:
        """One entry became stale (its call was answered or given up)."""
        self._stale += 1
        if self._stale > _COMPACT_AT and self._stale * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if not entry[2]._done]
            heapq.heapify(self._heap)
            self._stale = 0

    async def serve(self) -> None:
        """Expire deadlines as they come; runs for the runtime's whole life."""
        heap = self._heap
        while True:
            heap = self._heap
            if not heap:
                self._wakeup = trio.Event()
                await self._wakeup.wait()
                continue
            with trio.CancelScope(deadline=heap[0][0]) as self._scope:
                await trio.sleep_forever()
            self._scope = None
            now = trio.current_time()
            heap = self._heap
            while heap and heap[0][0] <= now:
                _, _, caller = heapq.heappop(heap)
                if caller._done:
                    self._stale -= 1
                    continue
                caller._timed = False
                expire(caller, self._on_expiry(caller))


def expire(caller: Caller, error: BaseException) -> None:
    caller._done = True
    caller._result = result = outcome.Error(error)
    caller._cell.pending.discard(caller)
    task = caller._task
    if task is not None:
        caller._task = None
        trio.lowlevel.reschedule(task, result)


NO_DEADLINE = math.inf
