"""The loop of a persistent actor: restore before init, commit by its durability mode.

A persistent actor runs this loop instead of the plain one (which stays as it
was: no cost when not opted in). What differs:

- A handler in progress is not interrupted by a stop request: the stop is taken
  between two messages, so what is committed is always the state between two
  messages. (A kill still interrupts everything; the shutdown budget still holds.)
- Strict mode: after each message, the snapshot is encoded; if its bytes differ
  from the bytes last committed it is committed, and only then are the replies
  of that message (a ``Reply``, or a deferred ``Actor.reply`` made meanwhile)
  released. A read-only message commits nothing and waits for no fsync.
- Periodic: a commit every N messages or T seconds (even when idle), and on a
  graceful stop. On shutdown only: on a graceful stop.
- A handler that raises commits nothing, and a crash never commits the state it
  crashed with. A failed commit crashes the actor with the store's error (a
  ``supervisor.PersistenceError``) or :class:`~actors.SnapshotError`; in strict
  mode the callers whose replies were held get that error, and no success.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import outcome
import trio

from spawn import Codec, DecodeError, EncodeError, Limits

from ._behaviour import NoReply, Reply, Stop, invalid_return
from ._calls import Caller, answer
from ._exceptions import NoStateStore, SnapshotError, SnapshotTooNew
from ._mailbox import CALL, CAST, SYSTEM, Envelope
from ._owned import end_all
from ._persistent import (
    Durability,
    Periodic,
    Persistent,
    StateStore,
    StateWriter,
    Strict,
    check_durability,
    check_key,
    is_persistent,
    to_data,
)
from ._reasons import Crash, ExitReason

if TYPE_CHECKING:
    from ._cell import Cell, LocalCell

Replier = Callable[[Caller, object], None]
#: A snapshot's bound: under the channel's frame limit, with room for the frame around
#: it, so that a process actor's snapshot always travels to the root in one frame.
STATE_LIMITS: Final = Limits(frame=16 * 1024 * 1024 - 64 * 1024)
#: The payload of the system message that makes a strict actor commit and release the
#: replies it gave outside a handler (from a task it owns).
_FLUSH = object()


class Persistence:
    """One persistent incarnation: its key, its generation, and what it committed last."""

    __slots__ = (
        "codec",
        "count",
        "due",
        "durability",
        "generation",
        "held",
        "in_handler",
        "key",
        "last",
        "restored",
        "wake",
        "writer",
    )

    def __init__(
        self,
        key: str,
        generation: int,
        durability: Durability,
        writer: StateWriter,
        restored: tuple[int, bytes] | None,
        codec: Codec,
    ) -> None:
        self.key = key
        self.generation = generation  # higher than any before it for this key
        self.durability = durability
        self.writer = writer
        self.restored = restored  # (version, data) read from the store, if any
        self.codec = codec
        self.last: bytes | None = None  # the bytes last committed by this incarnation
        self.held: list[tuple[Caller, object]] = []  # strict replies waiting for a commit
        self.in_handler = False
        self.count = 0  # messages since the last commit
        self.due = math.inf  # when a periodic commit is due
        self.wake: Callable[[], object] | None = None

    def restore(self, cls: type[Any]) -> object:
        """The restored state for ``init`` (``None`` when nothing was stored)."""
        if self.restored is None:
            return None
        version, data = self.restored
        running = cls.state_version
        if version > running:
            raise SnapshotTooNew(
                f"the state of {self.key!r} was written by version {version} of "
                f"{cls.__qualname__}, newer than the running {running}; it is kept as it is"
            )
        try:
            value = self.codec.decode(data)
        except DecodeError as exc:
            raise SnapshotError(f"the state of {self.key!r} cannot be decoded: {exc}") from exc
        return cls.restore(value, version)

    def encode(self, actor: Persistent[Any]) -> bytes:
        try:
            return self.codec.encode(to_data(actor.snapshot()))
        except EncodeError as exc:
            raise SnapshotError(f"the state of {self.key!r} cannot be persisted: {exc}") from exc

    async def commit(self, actor: Any, *, force: bool = False) -> None:
        """Commit the snapshot unless its bytes are those committed last."""
        data = self.encode(actor)
        if force or data != self.last:
            await self.writer.put(self.key, self.generation, type(actor).state_version, data)
            self.last = data
        self.count = 0
        periodic = self.durability
        if isinstance(periodic, Periodic) and periodic.seconds is not None:
            self.due = trio.current_time() + periodic.seconds

    def hold(self, caller: Caller, value: object) -> None:
        """A reply of a strict actor: released once the state it answers is committed."""
        self.held.append((caller, value))
        if not self.in_handler and len(self.held) == 1 and self.wake is not None:
            self.wake()  # given from an owned task: the loop commits, then releases

    def release(self, reply: Replier) -> None:
        held, self.held = self.held, []
        for caller, value in held:
            reply(caller, value)

    def fail(self, error: BaseException) -> None:
        """The commit failed: every held reply becomes that error."""
        held, self.held = self.held, []
        failure = outcome.Error(error)
        for caller, _ in held:
            answer(caller, failure)

    def takes_replies(self) -> bool:
        return type(self.durability) is Strict


async def open_persistence(
    store: StateStore | None,
    keys: dict[str, Cell],
    cls: type,
    key: str | None,
    durability: Durability | None,
    codec: Codec,
) -> Persistence:
    """The persistence of a new incarnation of ``cls``: its key, mode, generation and the
    state stored under ``key`` (``keys``: the live persistent actors, by key)."""
    qualname = cls.__qualname__
    if not is_persistent(cls):
        raise TypeError(f"key= and durability= are for Persistent actors, not {qualname}")
    if store is None:
        raise NoStateStore(f"{qualname} is Persistent: open_runtime(store=...) needs a store")
    if key is None:
        raise NoStateStore(f"{qualname} is Persistent: spawn it with key=...")
    key = check_key(key)
    holder = keys.get(key)
    if holder is not None and not holder.exited:
        raise ValueError(f"state key {key!r} is held by {holder.ref}, which is alive")
    mode: Durability = cls.durability if durability is None else check_durability(durability)  # type: ignore[attr-defined]
    stored = await store.get(key)
    if stored is None:
        return Persistence(key, 1, mode, store, None, codec)
    restored = (stored.version, stored.data)
    return Persistence(key, stored.generation + 1, mode, store, restored, codec)


async def serve_persistent(cell: LocalCell, reply: Replier, persist: Persistence) -> ExitReason:
    """Run ``cell``'s messages and its terminate; commit as its durability mode says."""
    actor: Any = cell.actor
    reason: ExitReason
    persist.wake = lambda: cell.mailbox.put_system((SYSTEM, _FLUSH, None, None))
    try:
        await _loop(cell, reply, persist)
        assert cell.stop_reason is not None
        reason = cell.stop_reason
    except Exception as exc:
        persist.fail(exc)
        reason = Crash(exc)
    cell.stop_reason = reason
    await end_all(cell)
    try:
        await actor.terminate(reason)
        if not isinstance(reason, Crash):
            await persist.commit(actor)  # a graceful stop commits, in every mode
            persist.release(reply)
    except Exception as exc:
        persist.fail(exc)
        reason = Crash(exc)
    return reason


async def _loop(cell: LocalCell, reply: Replier, persist: Persistence) -> None:
    actor: Any = cell.actor
    get = cell.mailbox.get
    mode = persist.durability
    strict = type(mode) is Strict
    every = mode.messages if isinstance(mode, Periodic) else None
    send = persist.hold if strict else reply

    async def handle(envelope: Envelope) -> bool:
        """One message, and the commit it calls for; True when the actor stops."""
        kind, payload, caller, receipt = envelope
        if receipt is not None:
            receipt.release()
        if kind == SYSTEM and payload is _FLUSH:
            await persist.commit(actor)
            persist.release(reply)
            return False
        persist.in_handler = True
        try:
            stop = await _handle(actor, kind, payload, caller, send)
        finally:
            persist.in_handler = False
        persist.count += 1
        if strict or (every is not None and persist.count >= every):
            await persist.commit(actor)
            persist.release(reply)
        if stop is None:
            return False
        cell.stop_reason = stop
        return True

    if not (isinstance(mode, Periodic) and mode.seconds is not None):
        # No commit ever falls due while idle: one scope for the whole loop, which a stop
        # request cancels only while the actor waits for a message (cell.loop is None
        # while it handles one, so that the message ends, and its commit, first).
        with trio.CancelScope() as scope:
            while cell.stop_reason is None:
                cell.loop = scope
                envelope = await get()
                cell.loop = None
                if await handle(envelope):
                    return
        return
    while cell.stop_reason is None:
        with trio.CancelScope(deadline=persist.due) as scope:
            cell.loop = scope
            envelope = await get()
        cell.loop = None  # a stop request now waits for this message's end
        if scope.cancelled_caught:
            if not cell.taking_calls():  # asked to stop
                return
            await persist.commit(actor)  # a periodic commit came due while idle
            continue
        if await handle(envelope):
            return


async def _handle(
    actor: Any, kind: int, payload: object, caller: object, send: Callable[[Caller, object], None]
) -> ExitReason | None:
    """Run one handler; the reason to stop, if it returned :class:`Stop`."""
    if kind == CALL:
        assert isinstance(caller, Caller)
        result: object = await actor.handle_call(payload, caller)
        if type(result) is Reply:
            send(caller, result.value)
            return None
        if type(result) is NoReply:
            return None
        if isinstance(result, Stop):
            if result.has_reply:
                send(caller, result.reply)
            return result.reason
        raise invalid_return(actor, "handle_call", result, "Reply(...), NoReply() or Stop(...)")
    where = "handle_cast" if kind == CAST else "handle_info"
    result = await getattr(actor, where)(payload)
    if type(result) is NoReply:
        return None
    if isinstance(result, Stop):
        return result.reason
    raise invalid_return(actor, where, result, "NoReply() or Stop(...)")
