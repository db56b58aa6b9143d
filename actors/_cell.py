"""The runtime's record of one incarnation: a local actor, or a proxy of one on another node.

The kernel treats every cell alike. Where a local actor and a proxy differ
(an exit signal, a stop request, a kill, a new link), the cell does it
itself: a :class:`LocalCell` acts on its task and mailbox, a proxy
(:class:`~actors._proxy.ProxyCell`) forwards a frame to the actor's node.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import trio
from trio.lowlevel import Task

from ._calls import Caller
from ._mailbox import SYSTEM, Mailbox
from ._messages import Exit
from ._reasons import KILLED, ExitReason, Normal
from ._ref import ActorRef, MonitorRef
from ._timers import Timer

if TYPE_CHECKING:
    from ._aio import AsyncioSide
    from ._behaviour import Actor
    from ._owned import Owned
    from ._persisted import Persistence


def reported_by(link: Cell | None) -> bool:
    """Whether an actor started linked to ``link`` has its crash logged there (by a
    supervisor, :attr:`Actor.reports_child_exits`), not by the runtime as well."""
    actor = getattr(link, "actor", None)
    return bool(getattr(actor, "reports_child_exits", False))


class Cell:
    """Everything the kernel knows of one incarnation; it dies with the actor."""

    __slots__ = (
        "done",
        "exited",
        "groups",
        "links",
        "mailbox",
        "monitors",
        "name",
        "pending",
        "reason",
        "ref",
        "reported",
        "started",
        "stop_reason",
        "task",
        "watching",
    )

    def __init__(self, ref: ActorRef, mailbox: Mailbox) -> None:
        self.ref = ref
        self.mailbox = mailbox
        self.task: Task | None = None  # the actor's own task, for a local actor
        self.started = False  # init returned and links may exist
        self.exited = False
        self.stop_reason: ExitReason | None = None  # asked to stop with this, or stopping
        self.reason: ExitReason = KILLED  # what it died of, unless it says otherwise
        self.done = trio.Event()
        self.name: str | None = None
        self.links: set[Cell] = set()
        self.monitors: dict[MonitorRef, Cell] = {}  # monitors on this actor -> watcher
        self.watching: dict[MonitorRef, Cell] = {}  # monitors this actor holds -> target
        self.pending: set[Caller] = set()  # calls to this actor not answered yet
        self.groups: dict[str, int] = {}  # group -> times joined
        self.reported = False  # its crash is logged by the actor that started it (reported_by)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ref}>"

    # -- what differs between a local actor and a proxy -------------------------------

    def taking_calls(self) -> bool:
        """Whether a call may still be sent to it."""
        return True

    def new_caller(self) -> Caller:
        """The caller of one call to this actor."""
        return Caller(self)

    def signal_exit(self, sender: ActorRef, reason: ExitReason) -> None:
        """Deliver an exit signal from a linked actor (or a kill request)."""
        raise NotImplementedError

    def request_stop(self, reason: ExitReason) -> None:
        """Ask the actor to stop with ``reason`` (terminate runs); once."""
        raise NotImplementedError

    def kill(self) -> None:
        """Kill the actor now (terminate does not run)."""
        raise NotImplementedError

    def linked(self, other: Cell) -> None:
        """A link between this cell and ``other`` was made here."""

    def unlinked(self, other: Cell) -> None:
        """The link between this cell and ``other`` was removed here."""

    async def stop(self, reason: ExitReason, timeout: float | None) -> ExitReason:
        """Ask, wait up to ``timeout`` seconds (None: as long as it takes), then kill."""
        self.request_stop(reason)
        with trio.move_on_after(math.inf if timeout is None else timeout):
            await self.done.wait()
        if not self.exited:
            self.kill()
            await self.done.wait()
        return self.reason


class LocalCell(Cell):
    """A local actor: its behaviour object, its task and the scopes that stop it."""

    __slots__ = ("actor", "aio", "init_failure", "life", "loop", "owned", "persist", "timers")

    def __init__(self, ref: ActorRef, actor: Actor, mailbox: Mailbox) -> None:
        super().__init__(ref, mailbox)
        self.actor = actor
        self.owned: Owned | None = None  # the tasks it started, once it started one
        self.init_failure: Exception | None = None  # what a task raised while init ran
        self.life: trio.CancelScope | None = None  # cancelled by a kill
        self.loop: trio.CancelScope | None = None  # cancelled by a stop request
        self.timers: set[Timer] = set()
        self.persist: Persistence | None = None  # a persistent actor's commits
        self.aio: AsyncioSide | None = None  # an asyncio actor's side of the bridge

    def __repr__(self) -> str:
        return f"<LocalCell {self.ref} {type(self.actor).__qualname__}>"

    def taking_calls(self) -> bool:
        return self.stop_reason is None

    def signal_exit(self, sender: ActorRef, reason: ExitReason) -> None:
        if self.actor.trap_exits:
            self.mailbox.put_system((SYSTEM, Exit(sender, reason), None, None))
        elif not isinstance(reason, Normal):
            self.request_stop(reason)

    def request_stop(self, reason: ExitReason) -> None:
        if self.stop_reason is not None or self.exited:
            return
        self.stop_reason = reason
        if self.loop is not None:
            self.loop.cancel()

    def kill(self) -> None:
        if self.life is not None:
            self.life.cancel()
        if self.aio is not None:
            self.aio.abandon()  # a trio task waiting for an asyncio one waits no more
