"""The runtime's record of one live actor incarnation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from trio.lowlevel import Task

from ._mailbox import Mailbox
from ._reasons import KILLED, ExitReason
from ._ref import ActorRef, MonitorRef

if TYPE_CHECKING:
    from ._behaviour import Actor, Caller, Timer
    from ._runtime import Runtime


class Cell:
    """Everything the runtime knows of one incarnation; it dies with the actor."""

    __slots__ = (
        "actor",
        "done",
        "exited",
        "groups",
        "life",
        "links",
        "loop",
        "mailbox",
        "monitors",
        "name",
        "pending",
        "reason",
        "ref",
        "remote",
        "runtime",
        "started",
        "stop_reason",
        "subscribers",
        "task",
        "timers",
        "watching",
    )

    def __init__(
        self, runtime: Runtime, ref: ActorRef, actor: Actor | None, mailbox: Mailbox
    ) -> None:
        self.runtime = runtime
        self.ref = ref
        self.actor = actor
        self.mailbox = mailbox
        self.task: Task | None = None
        self.life: trio.CancelScope | None = None  # cancelled by a kill
        self.loop: trio.CancelScope | None = None  # cancelled by a stop request
        self.started = False  # init returned and links may exist
        self.exited = False
        self.stop_reason: ExitReason | None = None
        self.reason: ExitReason = KILLED  # what it died of, unless it says otherwise
        self.done = trio.Event()
        self.name: str | None = None
        self.links: set[Cell] = set()
        self.monitors: dict[MonitorRef, Cell] = {}  # monitors on this actor -> watcher
        self.watching: dict[MonitorRef, Cell] = {}  # monitors this actor holds -> target
        self.pending: set[Caller] = set()  # calls to this actor not answered yet
        self.timers: set[Timer] = set()
        self.groups: dict[str, int] = {}  # group -> times joined
        self.remote = False  # a proxy of an actor on another node (actor is None)
        self.subscribers: set[str] = set()  # nodes with a proxy of this actor

    def __repr__(self) -> str:
        return f"<Cell {self.ref} {type(self.actor).__qualname__}>"
