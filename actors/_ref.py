"""Addresses: a ref names one incarnation of an actor; a named ref names whoever holds a name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Protocol, final

#: How long a ``call`` waits for its reply unless told otherwise, in seconds.
DEFAULT_CALL_TIMEOUT: Final = 5.0


class Messenger(Protocol):
    """What a ref sends through: the runtime it was made by (or decoded in)."""

    async def call(self, address: Address, request: object, *, timeout: float | None) -> Any: ...
    async def cast(self, address: Address, message: object) -> None: ...
    def cast_nowait(self, address: Address, message: object) -> None: ...
    async def send(self, address: Address, message: object) -> None: ...
    def send_nowait(self, address: Address, message: object) -> None: ...
    def whereis(self, name: str) -> ActorRef | None: ...


@final
@dataclass(frozen=True, slots=True)
class ActorRef:
    """One incarnation of one actor, like an Erlang pid. Made by ``spawn``, never by hand.

    Opaque, immutable and hashable. After a restart the actor has a new ref;
    to follow the current incarnation, address it by name (:class:`NamedRef`).

    Every method behaves alike whether the actor is alive or not: ``call``
    raises :class:`~actors.NoSuchActor`, ``cast`` and ``send`` drop the message
    and count a dead letter.
    """

    node: str
    id: int
    _runtime: Messenger = field(compare=False, repr=False)

    def __repr__(self) -> str:
        return f"<ActorRef {self.node}.{self.id}>"

    async def call(self, request: object, *, timeout: float | None = DEFAULT_CALL_TIMEOUT) -> Any:
        """Send ``request`` to ``handle_call`` and wait for the reply (``None`` waits forever).

        Raises :class:`~actors.CallTimeout`, :class:`~actors.ActorExited` (at once,
        when the actor dies first) or :class:`~actors.NoSuchActor`.
        """
        return await self._runtime.call(self, request, timeout=timeout)

    async def cast(self, message: object) -> None:
        """Send ``message`` to ``handle_cast``, waiting while the mailbox is full."""
        await self._runtime.cast(self, message)

    def cast_nowait(self, message: object) -> None:
        """Send to ``handle_cast`` or raise :class:`~actors.MailboxFull` at once."""
        self._runtime.cast_nowait(self, message)

    async def send(self, message: object) -> None:
        """Send ``message`` to ``handle_info`` (Erlang's ``!``); wait while the mailbox is full."""
        await self._runtime.send(self, message)

    def send_nowait(self, message: object) -> None:
        """Send to ``handle_info`` or raise :class:`~actors.MailboxFull` at once."""
        self._runtime.send_nowait(self, message)


@final
@dataclass(frozen=True, slots=True)
class NamedRef:
    """Whoever holds a registered name, resolved afresh at every send.

    Made by :meth:`Runtime.named <actors.Runtime.named>`. A call to a name that
    nobody holds raises :class:`~actors.NoSuchActor`; a cast or send to it is a
    dead letter.

    >>> import trio
    >>> from actors import Actor, Caller, Reply, open_runtime
    >>> class Answer(Actor):
    ...     async def init(self, value: int) -> None:
    ...         self.value = value
    ...     async def handle_call(self, request: object, caller: Caller) -> Reply:
    ...         return Reply(self.value)
    >>> async def main() -> None:
    ...     async with open_runtime() as runtime:
    ...         answer = runtime.named("answer")
    ...         first = await runtime.spawn(Answer, 1, name="answer")
    ...         print(await answer.call("get"))
    ...         await runtime.stop(first)
    ...         await runtime.spawn(Answer, 2, name="answer")
    ...         print(await answer.call("get"))  # the same NamedRef reaches the new holder
    >>> trio.run(main)
    1
    2
    """

    name: str
    _runtime: Messenger = field(compare=False, repr=False)

    def __repr__(self) -> str:
        return f"<NamedRef {self.name!r}>"

    def whereis(self) -> ActorRef | None:
        """The current holder of the name, if any."""
        return self._runtime.whereis(self.name)

    async def call(self, request: object, *, timeout: float | None = DEFAULT_CALL_TIMEOUT) -> Any:
        """As :meth:`ActorRef.call`; :class:`~actors.NoSuchActor` when nobody holds the name."""
        return await self._runtime.call(self, request, timeout=timeout)

    async def cast(self, message: object) -> None:
        await self._runtime.cast(self, message)

    def cast_nowait(self, message: object) -> None:
        self._runtime.cast_nowait(self, message)

    async def send(self, message: object) -> None:
        await self._runtime.send(self, message)

    def send_nowait(self, message: object) -> None:
        self._runtime.send_nowait(self, message)


@final
@dataclass(frozen=True, slots=True)
class MonitorRef:
    """One monitor, as returned by ``monitor`` and carried by its :class:`~actors.Down`."""

    node: str
    id: int

    def __repr__(self) -> str:
        return f"<MonitorRef {self.node}.{self.id}>"


Address = ActorRef | NamedRef
