"""What a running tree says of itself: a frozen record per child and per supervisor.

``which_children`` keeps OTP's shape; :meth:`SupervisorHandle.describe_children`
gives the richer :class:`ChildStatus` beside it, and
:meth:`SupervisorHandle.describe_tree` the whole tree as nested
:class:`SupervisorStatus` records (what ``letitcrash status`` shows).

>>> import trio
>>> from actors import Actor
>>> from supervisor import ChildSpec, Supervisor, open_tree
>>> async def main() -> None:
...     async with open_tree(Supervisor(children=[ChildSpec("worker", Actor)])) as root:
...         (child,) = await root.describe_children()
...         print(child.id, child.state.value, child.placement, child.restarts, child.pid)
>>> trio.run(main)
worker running task 0 None
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from actors import ActorRef, Placement, SharedWorker

from ._spec import ChildKind, Restart, Strategy


class ChildState(enum.Enum):
    """Where a child stands: it runs, it waits to be restarted, or it does not run."""

    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ChildStatus:
    """One child of a supervisor, as :meth:`SupervisorHandle.describe_children` sees it.

    ``id`` is the spec's id; a dynamic child's is its state key, else its ref's
    text (``"<node>.<n>"``), which is what a control path names it by.
    ``started_at`` is the wall clock (``time.time()``) of its latest start
    (``None`` before any); ``restarts`` counts the starts after its first one
    (its own restarts, a sibling's under one_for_all or rest_for_one, and
    restarts asked for by an operator); ``last_exit`` is the text of the reason
    its latest incarnation ended with. ``pid`` is its worker process (``None``
    for a task). ``mailbox_depth`` is the messages waiting for it; for a child in
    a process, the messages sent from this process that it has not yet taken out
    (as the credit window counts them: it may run ahead by less than one credit
    batch). ``supervisor`` is the nested tree of a running child supervisor,
    filled in by :meth:`SupervisorHandle.describe_tree`.
    """

    id: str
    path: str
    kind: ChildKind
    restart: Restart
    placement: str  #: ``"task"``, ``"process"`` or ``"shared:<worker name>"``
    state: ChildState
    ref: ActorRef | None
    pid: int | None
    restarts: int
    started_at: float | None
    mailbox_depth: int
    last_exit: str | None
    supervisor: SupervisorStatus | None = None

    @property
    def degraded(self) -> bool:
        """A permanent or transient child that does not run, or one waiting to restart."""
        if self.state is ChildState.RESTARTING:
            return True
        return self.state is ChildState.STOPPED and self.restart is not Restart.TEMPORARY


@dataclass(frozen=True, slots=True)
class SupervisorStatus:
    """One supervisor and its children in start order (running dynamic children first).

    ``recent_restarts`` is how many restarts count toward its intensity now
    (those within ``period``).
    """

    path: str
    strategy: Strategy
    intensity: int
    period: float
    recent_restarts: int
    children: tuple[ChildStatus, ...]

    def walk(self) -> list[ChildStatus]:
        """Every child in the tree below, depth first, in start order."""
        found: list[ChildStatus] = []
        for child in self.children:
            found.append(child)
            if child.supervisor is not None:
                found.extend(child.supervisor.walk())
        return found

    @property
    def degraded(self) -> bool:
        """Whether any child below is :attr:`ChildStatus.degraded`."""
        return any(child.degraded for child in self.walk())


def ref_text(ref: ActorRef) -> str:
    """A ref as a control path names it: ``"<node>.<n>"``."""
    return f"{ref.node}.{ref.id}"


def placement_text(placement: Placement) -> str:
    if isinstance(placement, SharedWorker):
        return f"shared:{placement.name}"
    return placement
