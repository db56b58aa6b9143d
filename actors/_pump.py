"""One task hop per message: the actor of a dedicated worker reads its link while it is idle.

A link is read by its reader task (``Router.serve``), which dispatches each
frame: a call to the actor goes into its mailbox, and the actor's task wakes.
That is two task hops per message, each a trip through trio's scheduler. In a
worker that hosts one actor, the actor's own wait on an empty mailbox can read
the link instead: the frame that wakes it is dispatched inline, in its task, and
the call it brings is taken at once.

The turn to read is a :class:`ReadTurn`. The actor (its :class:`PumpedMailbox`)
takes it when its mailbox is empty and gives it back as soon as a message
arrives, before its handler runs; should the handler wait for anything, the
reader task is woken once the actor's task step ends, so that while the actor
is busy the reader reads again and a stop, a kill, an exit signal or the reply to a call the
handler makes still arrive. A reader that is waiting in the link when the actor
wants the turn is interrupted, and hands the turn over once it has unwound.
Whatever ends the link (its end of file, a bad frame, a frame the router
refuses) is left to the reader, which reads from then on alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import trio
from trio.lowlevel import Abort, RaiseCancelT, Task

from ._mailbox import Mailbox


class Readable(Protocol):
    """What a read turn reads: a link's frames, in batches (a ``Transport``)."""

    async def receive_batch(self) -> list[object]: ...


#: The router's handling of the frames that arrived (``Router.dispatch``).
Dispatch = Callable[[list[object]], None]


class ReadTurn(trio.abc.Instrument):
    """Who reads one link now: its reader task, or the mailbox of an idle actor.

    It is an instrument of the run it serves (``trio.lowlevel.add_instrument``).
    """

    __slots__ = (
        "_reader", "_scope", "_wanted", "dispatch", "failure", "holder", "link", "yielding",
    )  # fmt: skip

    def __init__(self, link: Readable, dispatch: Dispatch) -> None:
        self.link = link
        self.dispatch = dispatch
        #: The mailbox that reads now (None: the reader task does).
        self.holder: PumpedMailbox | None = None
        #: What ended the link while a mailbox read it; the reader raises it.
        self.failure: BaseException | None = None
        self._reader: Task | None = None  # the reader, parked while the turn is lent
        self._scope: trio.CancelScope | None = None  # the reader's read, while it reads
        self._wanted: PumpedMailbox | None = None  # a mailbox waiting for the reader to yield
        #: A mailbox's reader only lets others run, with messages waiting: it is not
        #: blocked, and will read again before the reader would.
        self.yielding = False

    # -- a mailbox's end -------------------------------------------------------------

    def take(self, mailbox: PumpedMailbox) -> bool:
        """Whether ``mailbox`` may read now; if the reader is reading, it is asked to yield
        (and wakes ``mailbox`` once it has)."""
        if self.holder is mailbox:
            return True
        if self.holder is not None or self.failure is not None:
            return False
        if self._scope is not None:
            self._wanted = mailbox
            self._scope.cancel()
            return False
        self.holder = mailbox
        return True

    def give_back(self, mailbox: PumpedMailbox) -> None:
        """``mailbox`` stops reading: the reader task reads again once the actor waits.

        The reader is woken after the task step in which the turn came back, and only
        if no mailbox took it again meanwhile (:meth:`after_task_step`): an actor whose
        handler awaits nothing is back reading before the reader would have run.
        """
        if self._wanted is mailbox:
            self._wanted = None
        if self.holder is mailbox:
            self.holder = None

    def after_task_step(self, task: Task) -> None:
        """An instrument's hook: a turn that nobody holds goes back to the parked reader."""
        reader = self._reader
        if reader is not None and self.holder is None and not self.yielding:
            self._reader = None
            trio.lowlevel.reschedule(reader)

    # -- the reader's end ------------------------------------------------------------

    async def read(self) -> list[object] | None:
        """The next frames for the reader task, or None when it yielded its turn."""
        while self.holder is not None:
            self._reader = trio.lowlevel.current_task()

            def abort(_: RaiseCancelT) -> Abort:
                self._reader = None
                return Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)
        failure = self.failure
        if failure is not None:
            raise failure
        batch: list[object] | None = None
        with trio.CancelScope() as scope:
            self._scope = scope
            try:
                batch = await self.link.receive_batch()
            finally:
                self._scope = None
        wanted = self._wanted
        if wanted is not None:  # a mailbox asked for the turn: it reads from now on
            self._wanted = None
            self.holder = wanted
            wanted.turn_given()
        return batch


class PumpedMailbox(Mailbox):
    """The mailbox of a dedicated worker's actor: its wait on nothing reads the link."""

    __slots__ = ("_turn",)

    def __init__(self, bound: int, turn: ReadTurn) -> None:
        super().__init__(bound)
        self._turn = turn

    async def _wait(self) -> None:
        """Read the link until a message arrives, or park while the reader reads it."""
        queue, turn = self._queue, self._turn
        while not queue:
            if not turn.take(self):
                try:
                    await super()._wait()  # woken by a message, or by turn_given
                except BaseException:
                    turn.give_back(self)  # a turn handed over meanwhile goes back unused
                    raise
                continue
            # Read and dispatch frames until one brings this actor a message.
            try:
                while not queue:
                    turn.dispatch(await turn.link.receive_batch())
                    if not queue:  # frames for others (replies, credits): let them run
                        await trio.lowlevel.checkpoint()
            except Exception as exc:  # its end, or a bad frame: the reader ends it, as it would
                turn.failure = exc
            finally:
                turn.give_back(self)

    async def _let_others_run(self) -> None:
        turn = self._turn
        turn.yielding = True
        try:
            await trio.lowlevel.cancel_shielded_checkpoint()
        finally:
            turn.yielding = False

    def turn_given(self) -> None:
        self._wake_reader()
