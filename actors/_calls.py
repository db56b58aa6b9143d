"""Calls: who waits for an answer, how it is answered, and when it times out.

A :class:`Caller` answers itself: a local one wakes the task that waits for
it; a subclass answers over the wire (a call that came from another node). The
reply of a handler, the timeout of the call and the death of the target all
answer it the same way, with :func:`answer`; the first answer wins.

Call timeouts need no cancel scope per call: a call whose request went in at
once parks until its answer, and its deadline sits in one heap per runtime
that a single task serves (trio's per-scope deadline bookkeeping was 30% of a
round trip). An answered call leaves a stale entry behind, dropped when it
reaches the top or when stale entries outnumber live ones.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import outcome
import trio
from trio.lowlevel import Task

from ._exceptions import CallTimeout, CallToSelf, NoSuchActor
from ._mailbox import CALL, Closed

if TYPE_CHECKING:
    from ._cell import Cell
    from ._ref import ActorRef, NamedRef

_COMPACT_AT: Final = 1024


class Caller:
    """Who is waiting for the answer to one call (OTP's ``From``); made by the runtime.

    Keep it to answer later with :meth:`Actor.reply <actors.Actor.reply>` after
    returning :class:`~actors.NoReply`.
    """

    __slots__ = ("_cell", "_deadlines", "_done", "_result", "_task")

    def __init__(self, cell: Cell) -> None:
        self._cell = cell
        self._done = False
        self._result: outcome.Outcome[Any] | None = None
        self._task: Task | None = None
        self._deadlines: Deadlines | None = None  # while it has an entry in a deadline heap

    def __repr__(self) -> str:
        return f"<Caller of {self._cell.ref}>"

    def _answer(self, result: outcome.Outcome[Any]) -> None:
        """Give the waiting call ``result``; a later answer is dropped."""
        if self._done:
            return
        self._settle()
        self._result = result
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task, result)

    def _settle(self) -> None:
        """Done: off the target's pending calls and out of the deadline heap."""
        self._done = True
        self._cell.pending.discard(self)
        deadlines = self._deadlines
        if deadlines is not None:
            self._deadlines = None
            deadlines.discard()

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._task = None
        return trio.lowlevel.Abort.SUCCEEDED


def answer(caller: Caller, result: outcome.Outcome[Any]) -> None:
    """Answer ``caller`` with ``result`` (a value or an error), unless it was answered."""
    caller._answer(result)


def reply(caller: Caller, value: object, prepare: Callable[[object], object] | None) -> None:
    """Answer ``caller`` with ``value`` (``prepare``-d first), unless it was answered or gave up."""
    if caller._done:
        return
    if prepare is not None:
        value = prepare(value)  # an EncodeError reaches the replier
    caller._answer(outcome.Value(value))


async def call(
    cell: Cell | None,
    address: ActorRef | NamedRef,
    request: object,
    timeout: float | None,
    deadlines: Deadlines,
) -> Any:
    """Send ``request`` to ``cell``'s ``handle_call`` and wait for the answer.

    ``cell`` is what ``address`` names now (None: nothing alive).
    """
    if cell is None or not cell.taking_calls():
        # An exiting actor handles nothing more: for a call it is already gone.
        await trio.lowlevel.checkpoint()
        raise NoSuchActor(f"{address} is not alive")
    task = trio.lowlevel.current_task()
    if cell.task is task:
        raise CallToSelf(f"{cell.ref} called itself")
    caller = cell.new_caller()
    cell.pending.add(caller)
    try:
        await trio.lowlevel.checkpoint_if_cancelled()
        deadline = math.inf if timeout is None else trio.current_time() + timeout
        envelope = (CALL, request, caller, None)
        try:
            # With room in the mailbox, the wait for the reply is the checkpoint.
            if not cell.mailbox.try_put(envelope):
                with trio.move_on_at(deadline) as waited:
                    await cell.mailbox.put(envelope)
                if waited.cancelled_caught:
                    raise CallTimeout(f"{address} did not take the call within {timeout} s")
        except Closed:
            pass  # it died, and its exit answered the caller
        result = caller._result
        if result is not None:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return result.unwrap()
        if deadline != math.inf:
            deadlines.add(deadline, caller)
        spins = cell.mailbox.reply_spins
        if spins:
            # The answer comes from a host-loop callback (an asyncio actor): while a
            # trio task is runnable, trio (that loop's guest) does not wait for I/O on
            # its thread, so an answer within a few loop iterations needs no hop
            # through it (six times a round trip, measured). A cancellation waits
            # for the park below.
            for _ in range(spins):
                await trio.lowlevel.cancel_shielded_checkpoint()
                result = caller._result
                if result is not None:
                    return result.unwrap()
        caller._task = task
        return await trio.lowlevel.wait_task_rescheduled(caller._abort)
    finally:
        if not caller._done:
            caller._settle()


async def timed(call: Awaitable[Any], observer: Callable[[float], None]) -> Any:
    """Await ``call``, then tell ``observer`` how long it took (also when it raised)."""
    began = time.perf_counter()
    try:
        return await call
    finally:
        observer(time.perf_counter() - began)


class Deadlines:
    """The call deadlines of one runtime, expired by the one task that runs :meth:`serve`."""

    __slots__ = ("_heap", "_order", "_scope", "_stale", "_wakeup")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Caller]] = []
        self._order = itertools.count()
        self._stale = 0
        self._scope: trio.CancelScope | None = None
        self._wakeup = trio.Event()

    def add(self, deadline: float, caller: Caller) -> None:
        """Fail ``caller`` with :class:`CallTimeout` at ``deadline`` unless answered first."""
        heap = self._heap
        if heap and deadline < heap[0][0] and self._scope is not None:
            self._scope.deadline = deadline
        heapq.heappush(heap, (deadline, next(self._order), caller))
        caller._deadlines = self
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
                caller._deadlines = None
                error = CallTimeout(f"{caller._cell.ref} did not reply within the call's timeout")
                caller._answer(outcome.Error(error))
