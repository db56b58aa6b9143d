"""The supervisor's one state record: its flags, its children in start order, its restarts."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors import ActorRef, ExitReason, Timer

from ._directory import Directory
from ._intensity import Restarts
from ._spec import ChildKind, ChildSpec, Strategy, Supervisor
from ._status import ChildState, ChildStatus, SupervisorStatus, placement_text, ref_text
from ._store import StateStore

#: The pid of the worker process that runs a ref (``None`` for a task): ``Runtime.pid``.
PidOf = Callable[[ActorRef], int | None]
#: The messages waiting for a ref: ``Runtime.mailbox_depth``.
DepthOf = Callable[[ActorRef], int]


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One line of ``which_children`` (OTP: ``{Id, Child, Type, Modules}``).

    ``ref`` is the running incarnation, or ``None``; ``restarting`` is True
    while the child waits to be restarted. A dynamic child has ``id=None``.
    ``pid`` is the worker process of a child placed in one (``None`` for a task).
    """

    id: str | None
    ref: ActorRef | None
    restarting: bool
    kind: ChildKind
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class ChildCounts:
    """The answer of ``count_children``."""

    specs: int  #: child specs (1 for a dynamic supervisor)
    active: int  #: children running now
    supervisors: int  #: children that are supervisors, running or not
    workers: int  #: children that are workers, running or not


@dataclass(frozen=True, slots=True)
class TreeContext:
    """Where a supervisor sits: its path, its tree's directory, its parent (if any), and
    the tree's state store (if any).

    ``args`` are the args of the supervisor's own child spec, siblings resolved by its
    parent: children of this supervisor that ask for them (``INHERITED`` among their
    args, as the listener's acceptor does) receive them spliced in its place.
    """

    path: str
    directory: Directory
    parent: ActorRef | None
    store: StateStore | None = None
    args: tuple[Any, ...] = ()


class History:
    """What an operator asks of a child besides its ref: its starts and its latest exit."""

    __slots__ = ("last_exit", "restarts", "started_wall")

    def __init__(self) -> None:
        self.restarts = 0  # starts after the first one
        self.started_wall: float | None = None  # time.time() of the latest start
        self.last_exit: str | None = None  # the reason the latest incarnation ended with

    def starting(self) -> None:
        if self.started_wall is not None:
            self.restarts += 1
        self.started_wall = time.time()

    def ended(self, reason: ExitReason | None) -> None:
        if reason is not None:
            self.last_exit = str(reason)


class Dynamic(History):
    """A dynamic child: its extra arguments, and its state key if it was given one."""

    __slots__ = ("args", "key")

    def __init__(self, args: tuple[Any, ...], key: str | None = None) -> None:
        super().__init__()
        self.args = args
        self.key = key


class Child(History):
    """A static child: its spec and what runs of it now."""

    __slots__ = ("attempt", "path", "ref", "restarting", "spec", "started_at", "timer")

    def __init__(self, spec: ChildSpec, path: str) -> None:
        super().__init__()
        self.spec = spec
        self.path = path
        self.ref: ActorRef | None = None
        self.restarting = False  # waits for a retry or a backoff delay
        self.timer: Timer | None = None  # the pending backoff delay
        self.started_at = 0.0
        self.attempt = 0  # backoff restarts since the last quiet period

    def info(self, pid: PidOf) -> ChildInfo:
        ref = self.ref
        return ChildInfo(
            self.spec.id, ref, self.restarting, self.spec.kind, None if ref is None else pid(ref)
        )


class State:
    """Everything one supervisor knows (OTP's ``#state{}``)."""

    def __init__(self, spec: Supervisor, path: str) -> None:
        self.flags = spec
        self.path = path
        self.restarts: Restarts = ()
        self.children: list[Child] = []  # static children, in start order
        self.by_ref: dict[ActorRef, Child] = {}
        self.dynamic: dict[ActorRef, Dynamic] = {}  # running dynamic children
        self.retrying: dict[int, Dynamic] = {}  # dynamic restarts to try again
        self._tokens = itertools.count()
        for child_spec in spec.children:
            if not self.is_dynamic:
                self.children.append(Child(child_spec, self.child_path(child_spec.id)))

    @property
    def is_dynamic(self) -> bool:
        return self.flags.strategy is Strategy.SIMPLE_ONE_FOR_ONE

    @property
    def template(self) -> ChildSpec:
        return self.flags.children[0]

    @property
    def display(self) -> str:
        return "/" + self.path

    def child_path(self, child_id: str) -> str:
        return f"{self.path}/{child_id}" if self.path else child_id

    def find(self, child_id: str) -> Child | None:
        for child in self.children:
            if child.spec.id == child_id:
                return child
        return None

    def remove(self, child: Child) -> None:
        self.children.remove(child)
        if child.ref is not None:
            self.by_ref.pop(child.ref, None)

    def retry_token(self, child: Dynamic) -> int:
        token = next(self._tokens)
        self.retrying[token] = child
        return token

    def dynamic_path(self, child: Dynamic) -> str:
        """A dynamic child's path: by its key if it has one (its state is kept there)."""
        return self.child_path(self.template.id if child.key is None else child.key)

    def group(self, child: Child) -> list[Child]:
        """The children a restart of ``child`` concerns, in start order."""
        match self.flags.strategy:
            case Strategy.ONE_FOR_ALL:
                return list(self.children)
            case Strategy.REST_FOR_ONE:
                return self.children[self.children.index(child) :]
        return [child]

    def which_children(self, pid: PidOf) -> list[ChildInfo]:
        """The children in start order; ``pid`` tells the worker process of a ref."""
        if not self.is_dynamic:
            return [child.info(pid) for child in self.children]
        kind = self.template.kind
        running = [ChildInfo(None, ref, False, kind, pid(ref)) for ref in self.dynamic]
        return running + [ChildInfo(None, None, True, kind) for _ in self.retrying]

    def describe(self, pid: PidOf, depth: DepthOf) -> SupervisorStatus:
        """This supervisor and its children now (nested supervisors not filled in)."""
        children: list[ChildStatus] = []
        if not self.is_dynamic:
            for child in self.children:
                state = ChildState.RESTARTING if child.restarting else ChildState.STOPPED
                children.append(
                    _status(
                        child.spec, child.spec.id, child.path, child, child.ref, state, pid, depth
                    )
                )
        else:
            for ref, dynamic in self.dynamic.items():
                key = ref_text(ref) if dynamic.key is None else dynamic.key
                path = self.child_path(key)
                children.append(
                    _status(self.template, key, path, dynamic, ref, ChildState.RUNNING, pid, depth)
                )
            for dynamic in self.retrying.values():
                key = self.template.id if dynamic.key is None else dynamic.key
                children.append(
                    _status(
                        self.template,
                        key,
                        self.child_path(key),
                        dynamic,
                        None,
                        ChildState.RESTARTING,
                        pid,
                        depth,
                    )
                )
        flags = self.flags
        return SupervisorStatus(
            self.display,
            flags.strategy,
            flags.intensity,
            flags.period,
            len(self.restarts),
            tuple(children),
        )

    def find_dynamic(self, name: str) -> tuple[ActorRef, Dynamic] | None:
        """The running dynamic child a control path names: by its key, else its ref's text."""
        for ref, dynamic in self.dynamic.items():
            if name == (ref_text(ref) if dynamic.key is None else dynamic.key):
                return ref, dynamic
        return None

    def count_children(self) -> ChildCounts:
        if self.is_dynamic:
            size = len(self.dynamic) + len(self.retrying)
            supervisors = size if self.template.kind is ChildKind.SUPERVISOR else 0
            return ChildCounts(1, len(self.dynamic), supervisors, size - supervisors)
        supervisors = sum(1 for c in self.children if c.spec.kind is ChildKind.SUPERVISOR)
        active = sum(1 for c in self.children if c.ref is not None)
        return ChildCounts(
            len(self.children), active, supervisors, len(self.children) - supervisors
        )

    def significant_left(self) -> bool:
        """Whether a significant child still runs (or waits to restart)."""
        if self.is_dynamic:
            return bool(self.dynamic or self.retrying)
        return any(
            c.spec.significant and (c.ref is not None or c.restarting) for c in self.children
        )


def _status(
    spec: ChildSpec,
    child_id: str,
    path: str,
    history: History,
    ref: ActorRef | None,
    idle: ChildState,
    pid: PidOf,
    depth: DepthOf,
) -> ChildStatus:
    return ChildStatus(
        id=child_id,
        path=path,
        kind=spec.kind,
        restart=spec.restart,
        placement=placement_text(spec.placement),
        state=idle if ref is None else ChildState.RUNNING,
        ref=ref,
        pid=None if ref is None else pid(ref),
        restarts=history.restarts,
        started_at=history.started_wall,
        mailbox_depth=0 if ref is None else depth(ref),
        last_exit=history.last_exit,
    )
