"""The actor behaviour (in the spirit of OTP's gen_server) and what its callbacks return."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar, final

from ._calls import Caller
from ._exceptions import InvalidReturn
from ._reasons import NORMAL, ExitReason
from ._ref import ActorRef, MonitorRef, NamedRef

if TYPE_CHECKING:
    from ._cell import LocalCell
    from ._persistent import Durability
    from ._placement import Placement, WorkerOptions
    from ._runtime import Runtime
    from ._timers import Timer

logger = logging.getLogger("actors")
A = TypeVar("A", bound="Actor")


@final
@dataclass(frozen=True, slots=True)
class Reply:
    """``handle_call`` answers the caller with ``value`` and goes on."""

    value: object


@final
class NoReply:
    """Go on without answering now (a call is answered later with ``Actor.reply``).

    A value class with no fields, as a frozen dataclass would be, but made without a
    Python ``__init__``: nearly every cast's handler returns one.
    """

    __slots__ = ()
    __match_args__ = ()

    def __repr__(self) -> str:
        return "NoReply()"

    def __eq__(self, other: object) -> bool:
        return type(other) is NoReply

    def __hash__(self) -> int:
        return hash(NoReply)


@final
@dataclass(frozen=True, slots=True)
class Stop:
    """Stop with ``reason``; from ``handle_call``, answer ``reply`` first if one is given."""

    reason: ExitReason = NORMAL
    reply: object = None
    has_reply: bool = False

    @classmethod
    def replying(cls, value: object, reason: ExitReason = NORMAL) -> Stop:
        """Answer the caller with ``value``, then stop with ``reason``."""
        return cls(reason, value, True)


@final
@dataclass(frozen=True, slots=True)
class Ignore:
    """Returned by ``init`` to decline to start (OTP's ``ignore``)."""


NO_REPLY: Final = NoReply()

CallResult = Reply | NoReply | Stop
InfoResult = NoReply | Stop


class Actor:
    """Subclass this and override the callbacks you need.

    >>> import trio
    >>> from actors import Actor, Reply, NoReply, open_runtime
    >>> class Counter(Actor):
    ...     async def init(self, start: int = 0) -> None:
    ...         self.value = start
    ...     async def handle_call(self, request: object, caller: Caller) -> Reply:
    ...         match request:
    ...             case ("add", int(n)):
    ...                 self.value += n
    ...         return Reply(self.value)
    >>> async def main() -> None:
    ...     async with open_runtime() as runtime:
    ...         counter = await runtime.spawn(Counter, 40)
    ...         print(await counter.call(("add", 2)))
    >>> trio.run(main)
    42

    The class is instantiated with no arguments; ``spawn``'s arguments go to
    :meth:`init`. Set ``trap_exits = True`` (on the class or in ``init``) to get
    :class:`~actors.Exit` messages from links instead of dying with them.
    An actor whose class sets ``reports_child_exits = True`` (a supervisor) logs
    the crashes of the actors it spawns linked, so the runtime does not log them too.
    """

    trap_exits: bool = False
    reports_child_exits: ClassVar[bool] = False
    _cell: LocalCell
    _runtime: Runtime

    # -- callbacks ------------------------------------------------------------

    async def init(self, *args: Any, **kwargs: Any) -> Ignore | None:
        """Set up state before the first message; return :class:`Ignore` to decline.

        ``spawn`` returns only after this did. If it raises, ``spawn`` raises
        :class:`~actors.InitError` and :meth:`terminate` is not called.
        """
        return None

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        """Answer a ``call``: :class:`Reply`, :class:`NoReply` or :class:`Stop`."""
        raise NotImplementedError(f"{type(self).__qualname__} does not handle calls")

    async def handle_cast(self, message: Any) -> InfoResult:
        """Handle a ``cast``: return :class:`NoReply` to go on, or :class:`Stop`."""
        raise NotImplementedError(f"{type(self).__qualname__} does not handle casts")

    async def handle_info(self, message: Any) -> InfoResult:
        """Handle a plain ``send`` and runtime messages (:class:`~actors.Down`, ...).

        The default logs the unexpected message and goes on, as gen_server does.
        """
        logger.warning("%r received an unexpected message: %r", self._cell.ref, message)
        return NO_REPLY

    async def terminate(self, reason: ExitReason) -> None:
        """Clean up. Runs on every graceful stop and after a crash, never after a kill."""

    # -- the actor's own view of the runtime ----------------------------------

    @property
    def ref(self) -> ActorRef:
        """This incarnation's ref."""
        return self._cell.ref

    @property
    def runtime(self) -> Runtime:
        return self._runtime

    async def spawn(
        self,
        cls: type[A],
        *args: Any,
        link: bool = False,
        name: str | None = None,
        mailbox_size: int | None = None,
        placement: Placement = "task",
        worker_options: WorkerOptions | None = None,
        key: str | None = None,
        durability: Durability | None = None,
    ) -> ActorRef:
        """Start another actor; with ``link=True`` it is linked to this one (spawn_link).

        ``placement``, ``worker_options``, ``key`` and ``durability`` as for :meth:`Runtime.spawn`.
        """
        return await self.runtime.spawn(
            cls,
            *args,
            name=name,
            mailbox_size=mailbox_size,
            placement=placement,
            worker_options=worker_options,
            key=key,
            durability=durability,
            _link=self._cell if link else None,
        )

    def reply(self, caller: Caller, value: object) -> None:
        """Answer a call that ``handle_call`` left with :class:`NoReply`.

        A second reply to the same call, or one after the caller gave up, is dropped.
        A persistent actor in strict mode holds it until the state it answers is
        committed.
        """
        persist = self._cell.persist
        if persist is not None and persist.takes_replies():
            persist.hold(caller, value)
            return
        self.runtime.reply(caller, value)

    def link(self, target: ActorRef) -> None:
        """Link to ``target``: an abnormal exit of either takes the other down."""
        self.runtime.link(self._cell, target)

    def unlink(self, target: ActorRef) -> None:
        self.runtime.unlink(self._cell, target)

    def monitor(self, target: ActorRef | NamedRef) -> MonitorRef:
        """Get one :class:`~actors.Down` message when ``target`` exits."""
        return self.runtime.monitor(self._cell, target)

    def demonitor(self, monitor: MonitorRef, *, flush: bool = False) -> bool:
        """Stop monitoring; ``flush`` also removes a Down already in the mailbox.

        Returns whether the monitor was still active.
        """
        return self.runtime.demonitor(self._cell, monitor, flush=flush)

    def send_after(self, seconds: float, message: object) -> Timer:
        """Deliver ``message`` to this actor's ``handle_info`` after ``seconds``."""
        return self.runtime.send_after(self._cell, seconds, message)

    def start_soon(
        self, fn: Callable[..., Awaitable[object]], *args: object, name: object = None
    ) -> None:
        """Run ``fn(*args)`` as a task this actor owns (as ``nursery.start_soon`` does).

        An exception in it crashes the actor with that exception as its reason
        (while ``init`` runs, the start fails). The actor's tasks are cancelled
        when it stops, and have ended before its ``terminate`` runs; none
        outlives the actor, whether it stops, crashes or is killed.
        """
        self.runtime.start_soon(self._cell, fn, *args, name=name)

    async def start(
        self, fn: Callable[..., Awaitable[object]], *args: object, name: object = None
    ) -> Any:
        """Run ``fn(*args, task_status=...)`` as an owned task; return what it passes to
        ``task_status.started()`` (as ``nursery.start`` does). Before that, an exception
        in it is raised here; after, it crashes the actor, as for :meth:`start_soon`.
        """
        return await self.runtime.start(self._cell, fn, *args, name=name)

    def join(self, group: str) -> None:
        """Join ``group`` (once more, if already a member)."""
        self.runtime.join(group, self._cell)

    def leave(self, group: str) -> bool:
        """Leave ``group`` once; False when not a member."""
        return self.runtime.leave(group, self._cell)

    def watch_group(self, group: str) -> list[ActorRef]:
        """Be told of joins and leaves in ``group``; returns its members now."""
        return self.runtime.groups.watch(group, self._cell)

    def unwatch_group(self, group: str) -> None:
        self.runtime.groups.unwatch(group, self._cell)


def invalid_return(actor: Actor, handler: str, result: object, expected: str) -> InvalidReturn:
    """The crash reason of ``actor`` when ``handler`` returned ``result``."""
    return InvalidReturn(
        f"{type(actor).__qualname__}.{handler} returned {result!r}; expected {expected}"
    )


def bind(actor: Actor, cell: LocalCell, runtime: object) -> None:
    """Give ``actor`` its cell and its runtime, before its ``init`` runs (once)."""
    actor._cell = cell
    actor._runtime = runtime  # type: ignore[assignment]  # the facade that spawned it
