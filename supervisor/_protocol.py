"""The messages a supervisor understands, and how a failed request is answered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors import ActorRef

from ._spec import ChildSpec


@dataclass(frozen=True, slots=True)
class StartChild:
    spec: ChildSpec | None  # a static supervisor's new child
    args: tuple[Any, ...] = ()  # a dynamic supervisor's extra arguments
    key: str | None = None  # a dynamic child's state key (its id in its path)


@dataclass(frozen=True, slots=True)
class TerminateChild:
    target: str | ActorRef  # an id, or a dynamic child's ref


@dataclass(frozen=True, slots=True)
class RestartChild:
    child_id: str


@dataclass(frozen=True, slots=True)
class DeleteChild:
    child_id: str


@dataclass(frozen=True, slots=True)
class WhichChildren:
    pass


@dataclass(frozen=True, slots=True)
class CountChildren:
    pass


@dataclass(frozen=True, slots=True)
class Describe:
    """Answered with a :class:`SupervisorStatus` (nested supervisors not filled in)."""


@dataclass(frozen=True, slots=True)
class Reincarnate:
    """An operator's restart of one child (not counted toward the intensity)."""

    target: str  # a static child's id, or a running dynamic child's key or ref text
    drop_state: bool = False


@dataclass(frozen=True, slots=True)
class TryAgain:
    """Sent to itself after a failed restart (OTP's try_again_restart)."""

    key: str | int  # a static child's id, or a dynamic retry token


@dataclass(frozen=True, slots=True)
class RestartDue:
    """Sent to itself when a child's backoff delay is over."""

    child_id: str


@dataclass(frozen=True, slots=True)
class Failed:
    """The answer to a request that failed; the client raises ``error``."""

    error: Exception


Request = (
    StartChild
    | TerminateChild
    | RestartChild
    | DeleteChild
    | WhichChildren
    | CountChildren
    | Describe
    | Reincarnate
)
