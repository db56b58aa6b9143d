"""Persistent actors: how an actor opts in, its durability mode, and what the loop writes with.

An actor opts in by also subclassing :class:`Persistent` with its state type:

>>> from dataclasses import dataclass
>>> from actors import Actor, Persistent
>>> @dataclass
... class CounterState:
...     value: int = 0
>>> class Counter(Actor, Persistent[CounterState]):
...     state_version = 1
...     async def init(self, state: CounterState | None) -> None:
...         self.state = state or CounterState()
...     def snapshot(self) -> CounterState:
...         return self.state
...     @classmethod
...     def restore(cls, data: object, version: int) -> CounterState:
...         assert isinstance(data, dict)
...         return CounterState(**data)

The snapshot is encoded with msgpack after :func:`to_data` (a dataclass becomes a
dict of its fields, recursively; lists, tuples, dicts, str, bytes, numbers,
bools and None stay as they are). ``restore`` gets that decoded value back and
the ``state_version`` it was written with, so it can migrate an older one.
The store itself lives in :mod:`supervisor`; this layer knows it only through
the structural :class:`StateStore` protocol.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Strict:
    """Every change is committed before the next message: a call (a deferred reply too)
    is answered only once its change is committed."""


@dataclass(frozen=True, slots=True)
class Periodic:
    """Commit every ``messages`` messages or ``seconds`` seconds (whichever comes first),
    and on a graceful stop. A crash loses what was not committed yet."""

    messages: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        n, t = self.messages, self.seconds
        if n is None and t is None:
            raise ValueError("Periodic needs messages=N, seconds=T or both")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise ValueError(f"Periodic.messages must be an int >= 1, not {n!r}")
        if t is not None and not (
            isinstance(t, int | float) and not isinstance(t, bool) and 0 < t < math.inf
        ):
            raise ValueError(f"Periodic.seconds must be a number > 0, not {t!r}")


@dataclass(frozen=True, slots=True)
class OnShutdown:
    """Commit only on a graceful stop (a crash or a kill loses every change since start)."""


Durability = Strict | Periodic | OnShutdown
STRICT: Final = Strict()
ON_SHUTDOWN: Final = OnShutdown()


class Persistent(Generic[S]):
    """Mixin for an :class:`~actors.Actor` whose state survives restarts and crashes.

    Declare ``state_version`` (an int >= 1; raise it when the state's shape
    changes), :meth:`snapshot` and :meth:`restore`. ``init`` then takes the
    restored state (``None`` on the first start) before its own arguments:
    ``async def init(self, state: S | None, *args)``. ``durability`` is the
    class's default mode (:class:`Strict` unless set); a child spec or
    ``spawn(..., durability=...)`` overrides it.
    """

    state_version: ClassVar[int] = 1
    durability: ClassVar[Durability] = STRICT

    def snapshot(self) -> S:
        """The state to persist now (called after each message in strict mode)."""
        raise NotImplementedError(f"{type(self).__qualname__} does not define snapshot()")

    @classmethod
    def restore(cls, data: Any, version: int) -> S:
        """The state from ``data`` (what :func:`to_data` made of a snapshot) written by
        ``version`` of the code (<= ``state_version``: migrate when it is lower)."""
        raise NotImplementedError(f"{cls.__qualname__} does not define restore()")


class Snapshot(Protocol):
    """What a store's ``get`` returns (``supervisor.Snapshot`` is one)."""

    @property
    def generation(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def data(self) -> bytes: ...


class StateStore(Protocol):
    """The part of a state store the actor runtime uses (``supervisor`` stores are ones)."""

    async def get(self, key: str) -> Snapshot | None: ...

    async def put(self, key: str, generation: int, version: int, data: bytes) -> None: ...


class StateWriter(Protocol):
    """Where one actor's commits go: the store itself, or the root's writer for a process."""

    async def put(self, key: str, generation: int, version: int, data: bytes) -> None: ...


def to_data(value: object) -> object:
    """``value`` with every dataclass instance turned into a dict of its fields, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [to_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(to_data(item) for item in value)
    if isinstance(value, dict):
        return {key: to_data(item) for key, item in value.items()}
    return value


def check_durability(durability: object) -> Durability:
    """``durability`` if it is a mode, else a :class:`TypeError` that lists the modes."""
    if isinstance(durability, Strict | Periodic | OnShutdown):
        return durability
    raise TypeError(
        f"durability is Strict(), Periodic(messages=N, seconds=T) or OnShutdown(), "
        f"not {durability!r}"
    )


def durability_to_wire(mode: Durability) -> list[object]:
    """``mode`` as a list that travels in a frame (see :func:`durability_from_wire`)."""
    if isinstance(mode, Periodic):
        return ["periodic", mode.messages, mode.seconds]
    return ["shutdown" if isinstance(mode, OnShutdown) else "strict"]


def durability_from_wire(wire: object) -> Durability:
    match wire:
        case ["strict"]:
            return STRICT
        case ["shutdown"]:
            return ON_SHUTDOWN
        case ["periodic", messages, seconds]:
            return Periodic(messages, seconds)  # type: ignore[arg-type]  # checked by Periodic
    raise ValueError(f"not a durability mode: {wire!r:.100}")


def is_persistent(cls: type) -> bool:
    return issubclass(cls, Persistent)


def check_key(key: object) -> str:
    """A state key: a non-empty str (a tree path's parts are joined by ``/``)."""
    if not isinstance(key, str) or not key or key.startswith("/") or key.endswith("/"):
        raise ValueError(f"a state key is a non-empty str like 'id' or 'id/id', not {key!r}")
    return key
