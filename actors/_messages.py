"""The messages the runtime itself delivers to ``handle_info``."""

from __future__ import annotations

from dataclasses import dataclass

from ._reasons import ExitReason
from ._ref import ActorRef, MonitorRef, NamedRef


@dataclass(frozen=True, slots=True)
class Exit:
    """A linked actor exited; delivered only to an actor with ``trap_exits = True``."""

    ref: ActorRef
    reason: ExitReason


@dataclass(frozen=True, slots=True)
class Down:
    """A monitored actor exited (or was already dead: reason :class:`~actors.NoProc`)."""

    monitor: MonitorRef
    ref: ActorRef | NamedRef
    reason: ExitReason


@dataclass(frozen=True, slots=True)
class GroupJoined:
    """``refs`` joined ``group``; delivered to actors that watch the group."""

    group: str
    refs: tuple[ActorRef, ...]


@dataclass(frozen=True, slots=True)
class GroupLeft:
    """``refs`` left ``group`` (or exited); delivered to actors that watch the group."""

    group: str
    refs: tuple[ActorRef, ...]
