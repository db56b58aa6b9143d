"""Supervisor flags and child specs: frozen records with OTP's defaults.

Records are checked (and their defaults resolved) by :func:`check_supervisor`
before anything starts.

>>> from actors import Actor, Durability, Placement, WorkerOptions
>>> from supervisor import ChildSpec, Restart, Strategy, Supervisor
>>> class Worker(Actor):
...     pass
>>> tree = Supervisor(
...     strategy=Strategy.REST_FOR_ONE,
...     children=[ChildSpec("db", Worker), ChildSpec("cache", Worker, restart=Restart.TRANSIENT)],
... )
>>> tree.intensity, tree.period
(1, 5.0)
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from actors import Actor, Durability, Placement, WorkerOptions


class Strategy(enum.Enum):
    """What a supervisor restarts when one child must be restarted."""

    ONE_FOR_ONE = "one_for_one"  #: only that child
    ONE_FOR_ALL = "one_for_all"  #: every child
    REST_FOR_ONE = "rest_for_one"  #: that child and those started after it
    SIMPLE_ONE_FOR_ONE = "simple_one_for_one"  #: a dynamic supervisor: one template spec


class Restart(enum.Enum):
    """When a child that exited is restarted."""

    PERMANENT = "permanent"  #: always
    TRANSIENT = "transient"  #: after an abnormal exit only (not normal, not shutdown)
    TEMPORARY = "temporary"  #: never; its spec is dropped when it exits


class AutoShutdown(enum.Enum):
    """When the exit of significant children stops their supervisor."""

    NEVER = "never"
    ANY_SIGNIFICANT = "any_significant"
    ALL_SIGNIFICANT = "all_significant"


class ChildKind(enum.Enum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"


class ShutdownMode(enum.Enum):
    BRUTAL_KILL = "brutal_kill"  #: kill at once; terminate does not run
    INFINITY = "infinity"  #: wait as long as it takes (the default for supervisors)


BRUTAL_KILL: Final = ShutdownMode.BRUTAL_KILL
INFINITY: Final = ShutdownMode.INFINITY
DEFAULT_WORKER_SHUTDOWN: Final = 5.0

ShutdownPolicy = float | ShutdownMode
"""Seconds to wait for a graceful stop before a kill, or a :class:`ShutdownMode`."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay a child's restarts (Akka's backoff): ``minimum * 2**n`` capped at ``maximum``.

    A random share of up to ``random_factor`` of the delay is added. ``n``
    counts the restarts since the child last ran for ``reset_after`` seconds
    (by default ``maximum``). Messages sent to the child through its tree
    address while it waits are stashed, up to ``stash_size``.
    """

    minimum: float
    maximum: float
    random_factor: float = 0.2
    reset_after: float | None = None
    stash_size: int = 100


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to start, restart and stop one child.

    ``start`` is an :class:`~actors.Actor` subclass (a worker, started with
    ``init(*args)``) or a :class:`Supervisor` spec (a nested supervisor).
    ``shutdown`` defaults to 5 s for a worker and :data:`INFINITY` for a supervisor.
    ``placement`` runs a worker child in a task (the default), in a process of its
    own (``"process"``) or in a named shared process (``SharedWorker(name)``);
    everything else about it stays the same. ``worker_options`` (with
    ``"process"``) start its worker with limits and environment of its own, on
    top of the runtime's; a shared worker takes them as ``SharedWorker(name,
    options=...)``, the same for every child placed there. ``durability`` sets the
    mode of a :class:`~actors.Persistent` worker (default: its class's), whose state
    is kept under its path in the tree's store.
    """

    id: str
    start: type[Actor] | Supervisor
    args: tuple[Any, ...] = ()
    restart: Restart = Restart.PERMANENT
    shutdown: ShutdownPolicy | None = None
    significant: bool = False
    backoff: Backoff | None = None
    mailbox_size: int | None = None
    placement: Placement = "task"
    worker_options: WorkerOptions | None = None
    durability: Durability | None = None

    @property
    def kind(self) -> ChildKind:
        return ChildKind.SUPERVISOR if isinstance(self.start, Supervisor) else ChildKind.WORKER


@dataclass(frozen=True, slots=True)
class Supervisor:
    """A supervisor's flags and its children (in start order).

    With ``Strategy.SIMPLE_ONE_FOR_ONE`` the one child spec is a template:
    no child starts with the supervisor, ``start_child(*args)`` adds one.
    """

    strategy: Strategy = Strategy.ONE_FOR_ONE
    intensity: int = 1
    period: float = 5.0
    auto_shutdown: AutoShutdown = AutoShutdown.NEVER
    children: Sequence[ChildSpec] = ()
