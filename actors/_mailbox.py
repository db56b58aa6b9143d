"""A bounded mailbox with one reader, many writers, and unbounded system messages.

User messages (calls, casts, plain sends) count against the bound; a writer that
finds the mailbox full either waits in line (``put``) or fails (``put_nowait``).
System messages (exit and down notices, group events) skip the bound but join
the same queue, so every writer's messages keep their order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Final, Protocol

import outcome
import trio
from trio.lowlevel import Abort, RaiseCancelT, Task

#: What a mailbox holds: (kind, payload, caller, receipt). ``caller`` answers a call
#: (None for other kinds); ``receipt``, when not None, is told once the message is
#: taken out (a sender in another process then gets its credit back).
Envelope = tuple[int, object, object, "Receipt | None"]

CALL: Final = 0
CAST: Final = 1
INFO: Final = 2
SYSTEM: Final = 3  # delivered to handle_info, not counted against the bound
#: A reader with messages waiting takes this many before it lets other tasks run.
GET_BURST: Final = 16


class Receipt(Protocol):
    """Told when the message it came with leaves the mailbox for its handler."""

    def release(self) -> None: ...


class WouldBlock(Exception):
    """Internal: the mailbox is at its bound."""


class Closed(Exception):
    """Internal: the owner has exited; nothing more is delivered."""


class _Waiter:
    __slots__ = ("envelope", "task")

    def __init__(self, envelope: Envelope, task: Task) -> None:
        self.envelope = envelope
        self.task = task


class Mailbox:
    __slots__ = ("_blocked", "_bound", "_closed", "_queue", "_reader", "_streak", "_user")
    #: Whether a put that found room still lets other tasks run (trio's usual rule).
    _schedule_point = True
    #: How many times a trio caller yields before it parks to wait for the reply
    #: (see :class:`~actors._aio.AsyncioMailbox`).
    reply_spins = 0

    def __init__(self, bound: int) -> None:
        self._bound = bound
        self._queue: deque[Envelope] = deque()
        self._user = 0
        self._blocked: deque[_Waiter] = deque()
        self._reader: Task | None = None
        self._closed = False
        self._streak = 0  # messages taken without a schedule point

    @property
    def bound(self) -> int:
        return self._bound

    def __len__(self) -> int:
        """Messages waiting to be handled, system messages included."""
        return len(self._queue)

    def depth(self) -> int:
        """Messages waiting for the actor, as far as this node can tell."""
        return len(self._queue)

    # -- writers --------------------------------------------------------------

    def put_system(self, envelope: Envelope) -> bool:
        """Enqueue past the bound; False when the owner has exited."""
        if self._closed:
            return False
        self._queue.append(envelope)
        self._wake_reader()
        return True

    def put_nowait(self, envelope: Envelope) -> None:
        """Enqueue or raise :class:`WouldBlock` (at the bound) or :class:`Closed`."""
        if not self.try_put(envelope):
            raise WouldBlock

    def put_forced(self, envelope: Envelope) -> None:
        """Enqueue a user message past the bound: its sender paid with a credit."""
        self._queue.append(envelope)
        self._user += 1
        self._wake_reader()

    def try_put(self, envelope: Envelope) -> bool:
        """Enqueue if there is room now (False otherwise); raises :class:`Closed`.

        Not a checkpoint: for a writer that blocks right afterwards anyway.
        """
        if self._closed:
            raise Closed
        if self._user >= self._bound or self._blocked:
            return False
        self._queue.append(envelope)
        self._user += 1
        self._wake_reader()
        return True

    async def put(self, envelope: Envelope) -> None:
        """Enqueue, waiting in line while the mailbox is full. Raises :class:`Closed`.

        Cancellation is atomic: when this raises ``Cancelled`` nothing was enqueued.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self.try_put(envelope):
            if self._schedule_point:
                await trio.lowlevel.cancel_shielded_checkpoint()
            return
        self._before_waiting(envelope)
        waiter = _Waiter(envelope, trio.lowlevel.current_task())
        self._blocked.append(waiter)

        def abort(_: RaiseCancelT) -> Abort:
            self._blocked.remove(waiter)
            return Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def _before_waiting(self, envelope: Envelope) -> None:
        """A hook: whatever must fail now rather than once room comes."""

    # -- the reader -----------------------------------------------------------

    async def get(self) -> Envelope:
        """The oldest message, waiting for one if there is none.

        Always a cancellation point. With messages waiting it is a schedule point
        only once in :data:`GET_BURST` messages: a schedule point per message cost
        more than handling a small cast (it doubled a process actor's intake), and
        an actor whose handlers await nothing still lets others run every burst.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if not self._queue:
            self._streak = 0  # waiting lets the others run
            await self._wait()
            return self._pop()
        envelope = self._pop()
        self._streak += 1
        if self._streak >= GET_BURST:
            self._streak = 0
            await self._let_others_run()
        return envelope

    async def _let_others_run(self) -> None:
        """The schedule point of a reader with messages waiting (once per burst)."""
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def _wait(self) -> None:
        """Park until a message arrives (a writer wakes the reader)."""
        self._reader = trio.lowlevel.current_task()

        def abort(_: RaiseCancelT) -> Abort:
            self._reader = None
            return Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def _pop(self) -> Envelope:
        envelope = self._queue.popleft()
        if envelope[0] != SYSTEM:
            self._user -= 1
            if self._blocked:
                self._admit()
        return envelope

    def _admit(self) -> None:
        while self._blocked and self._user < self._bound:
            waiter = self._blocked.popleft()
            self._queue.append(waiter.envelope)
            self._user += 1
            trio.lowlevel.reschedule(waiter.task)

    def _wake_reader(self) -> None:
        reader = self._reader
        if reader is not None:
            self._reader = None
            trio.lowlevel.reschedule(reader)

    def remove_system(self, predicate: Callable[[object], bool]) -> int:
        """Drop the queued system messages whose payload matches; returns how many."""
        keep = [e for e in self._queue if e[0] != SYSTEM or not predicate(e[1])]
        removed = len(self._queue) - len(keep)
        if removed:
            self._queue = deque(keep)
        return removed

    # -- the end --------------------------------------------------------------

    def close(self) -> list[Envelope]:
        """Refuse everything from now on; wake blocked writers with :class:`Closed`.

        Returns the messages that were never handled (blocked writers' included),
        so the caller can fail pending calls and count dead letters.
        """
        self._closed = True
        left = list(self._queue)
        self._queue.clear()
        while self._blocked:
            waiter = self._blocked.popleft()
            left.append(waiter.envelope)
            trio.lowlevel.reschedule(waiter.task, outcome.Error(Closed()))
        return left


def check_mailbox_size(size: int) -> int:
    """``size`` if it can bound a mailbox (an int >= 1), else ValueError naming it."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"mailbox_size must be an int >= 1, not {size!r}")
    return size
