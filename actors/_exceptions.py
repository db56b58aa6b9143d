"""The actor runtime's exceptions; every one derives from :class:`ActorError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._reasons import ExitReason
    from ._ref import ActorRef


class ActorError(Exception):
    """Base of every error raised by :mod:`actors`."""


class NoSuchActor(ActorError):
    """Raised by ``call`` (and ``stop``) when the target is already dead or the name is free.

    A ``cast`` or ``send`` to such a target never raises: the message is dropped
    and counted as a dead letter, as in Erlang.
    """


class ActorExited(ActorError):
    """Raised by ``call`` when the target exited before it answered.

    Raised at once when the target dies, not at the timeout. ``reason`` is the
    target's exit reason (a :class:`~actors.Crash` carries the exception).
    """

    def __init__(self, ref: ActorRef, reason: ExitReason) -> None:
        super().__init__(f"{ref} exited before replying: {reason}")
        self.ref = ref
        self.reason = reason


class CallTimeout(ActorError, TimeoutError):
    """Raised by ``call`` when no reply came within its timeout (5 s by default).

    A reply that arrives later is dropped; it is never delivered to another call.
    """


class CallToSelf(ActorError):
    """Raised by ``call`` when an actor calls itself, which could only time out."""


class MailboxFull(ActorError):
    """Raised by the ``*_nowait`` forms when the target's mailbox is at its bound.

    The message was not delivered. The waiting forms (``cast``, ``send``,
    ``call``) wait for room instead.
    """


class NameTaken(ActorError):
    """Raised when registering a name that a live actor holds; ``holder`` is that actor."""

    def __init__(self, name: str, holder: ActorRef) -> None:
        super().__init__(f"name {name!r} is already registered to {holder}")
        self.name = name
        self.holder = holder


class InitError(ActorError):
    """Raised by ``spawn`` when the actor's ``init`` raised; the exception is ``__cause__``."""


class StartIgnored(ActorError):
    """Raised by ``spawn`` when the actor's ``init`` returned :class:`~actors.Ignore`.

    Nothing runs; this is OTP's ``ignore``, which a supervisor records as a
    child with a spec but no running actor.
    """


class InvalidReturn(ActorError, TypeError):
    """The crash reason of an actor whose handler returned something it may not.

    ``handle_call`` returns :class:`~actors.Reply`, :class:`~actors.NoReply` or
    :class:`~actors.Stop`; ``handle_cast`` and ``handle_info`` return
    :class:`~actors.NoReply` or :class:`~actors.Stop`. ``None`` is a mistake,
    not a default.
    """


class NotRunning(ActorError):
    """Raised when an operation needs the runtime to be open and it is closed."""


class StateError(ActorError):
    """Base of every persistence error: a persistent actor crashes with one as its reason.

    The store's own errors (``supervisor.PersistenceError``, such as ``StoreFull``)
    are ones too, so ``except StateError`` catches every failure to persist.
    """


class RootStateError(StateError):
    """A state store error raised in the root process, as a process actor's worker sees it.

    A persistent actor in a worker commits through the root, whose store raised
    the error: in the worker it is this (``type_name`` and ``message`` of the
    original); back in the root (the actor's exit reason, the error of a strict
    call) it is the store's own error again.

    >>> error = RootStateError("supervisor._store_errors.StoreFull", "store x is full", "n", 1)
    >>> print(error)
    supervisor._store_errors.StoreFull: store x is full
    """

    def __init__(self, type_name: str, message: str, node: str, ident: int) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.node = node  # the root's node, which keeps the original under ``ident``
        self.ident = ident


class SnapshotError(StateError):
    """A persistent actor's snapshot could not be encoded (a value msgpack cannot carry,
    or over the frame limit: there is no chunking), or its stored bytes could not be
    decoded. The key is named; nothing was committed."""


class SnapshotTooNew(StateError):
    """The stored state was written by a newer ``state_version`` than the running code.

    The actor does not start (its ``spawn`` raises :class:`InitError` with this as
    ``__cause__``), and the stored state is never overwritten.
    """


class NoStateStore(ActorError, ValueError):
    """Raised by ``spawn`` for a :class:`~actors.Persistent` actor when the runtime has
    no store (``open_runtime(store=...)``), or when no key was given."""


class NoHostLoop(ActorError, TypeError):
    """Raised by ``spawn`` when an :class:`~actors.AsyncioActor` is placed as a task in a
    trio run that has no asyncio host loop: run the tree with
    :func:`~actors.run_on_uvloop`, or place the actor in a process (its worker then
    runs on uvloop)."""
