"""Proxies: a cell standing for an actor on another node, its mailbox, credits and callers.

A proxy behaves like any cell in the kernel; what it is asked to do (deliver
a message, an exit signal, a stop or a kill, make a link) it does by sending
a frame over its :class:`Wire` to the actor's node.

Flow control: a sender holds credits for each remote actor (the actor's
mailbox bound when the sender spawned it, :data:`DEFAULT_WINDOW` otherwise);
a send spends one and waits (or fails, with ``_nowait``) when none are left.
The receiving node enqueues past the local bound and returns credits in
batches (:class:`CreditSlot`) as the actor takes the messages out of its
mailbox. Memory is bounded at the receiving mailbox, never by a queue in the
sender's process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

import outcome
import trio

from spawn import EncodeError

from . import _frames as frames
from ._calls import Caller
from ._cell import Cell
from ._exceptions import ActorExited, StateError
from ._link import Transport
from ._mailbox import CALL, CAST, INFO, SYSTEM, Closed, Envelope, Mailbox
from ._reasons import Crash, ExitReason
from ._ref import ActorRef

DEFAULT_WINDOW: Final = 64

_KINDS: Final = {CAST: frames.CAST, INFO: frames.INFO, SYSTEM: frames.SYSTEM}
#: What a message of each kind is to its sender, for the errors that name it.
_WHAT: Final = {
    CALL: "the request of a call to",
    CAST: "the message cast to",
    INFO: "the message sent to",
    SYSTEM: "the signal sent to",
}


class Wire(Protocol):
    """What proxies, credits and remote callers need of the router."""

    node: str

    def post(self, frame: frames.Frame, *, now: bool = True) -> None: ...
    def encode(self, value: object) -> bytes: ...
    def register_call(self, caller: OutboundCaller) -> int: ...
    def forget_call(self, call_id: int) -> None: ...


class Host(Protocol):
    """Who hosts a proxy's actor in a worker of this node, and stops it as a process."""

    async def stop_actor(self, cell: ProxyCell, reason: ExitReason, timeout: float | None) -> None:
        """OTP's shutdown of the actor: ask, then signals or a kill, within ``timeout``."""

    def actor_exited(self, cell: ProxyCell) -> None:
        """The actor is gone (its node said so, or the node is gone)."""


class ProxyCell(Cell):
    """The cell of an actor on another node."""

    __slots__ = ("host", "link", "wire")

    def __init__(self, ref: ActorRef, wire: Wire, link: Transport, window: int) -> None:
        super().__init__(ref, ProxyMailbox(wire, link, ref, window))
        self.wire = wire
        self.link = link  # the way to the actor's node
        self.host: Host | None = None  # set when this node placed the actor in a worker
        self.started = True

    def new_caller(self) -> Caller:
        caller = OutboundCaller(self)  # Caller.__init__ only: one frame less per call
        caller.wire = self.wire
        caller.call_id = None  # once sent
        return caller

    def signal_exit(self, sender: ActorRef, reason: ExitReason) -> None:
        ref = self.ref
        self.wire.post(frames.exit_signal(ref.node, self.wire.node, ref.id, sender, reason))

    def request_stop(self, reason: ExitReason) -> None:
        if self.stop_reason is not None or self.exited:
            return
        self.stop_reason = reason
        self.wire.post(frames.stop(self.ref.node, self.wire.node, self.ref.id, reason))

    def kill(self) -> None:
        if not self.exited:
            self.wire.post(frames.kill(self.ref.node, self.wire.node, self.ref.id))

    def linked(self, other: Cell) -> None:
        self._tell_link(frames.LINK, other)

    def unlinked(self, other: Cell) -> None:
        self._tell_link(frames.UNLINK, other)

    def _tell_link(self, kind: int, other: Cell) -> None:
        if other.ref.node == self.wire.node:  # a local actor: the actor's node must know
            ref = self.ref
            self.wire.post(frames.link(kind, ref.node, self.wire.node, ref.id, other.ref))

    async def stop(self, reason: ExitReason, timeout: float | None) -> ExitReason:
        if self.host is None:
            return await super().stop(reason, timeout)
        await self.host.stop_actor(self, reason, timeout)
        return self.reason


class ProxyMailbox(Mailbox):
    """The mailbox of a proxy: each message becomes a frame, paid for with a credit.

    A put that has a credit takes no schedule point (as a write to a ready socket
    need not): a sender runs ahead by at most its window, and its casts leave in
    one write when it next waits.
    """

    __slots__ = ("_credit", "_heads", "_link", "_node", "_ref", "_target", "_wire")
    _schedule_point = False

    def __init__(self, wire: Wire, link: Transport, ref: ActorRef, window: int) -> None:
        super().__init__(window)
        self._wire = wire
        self._link = link
        self._node = ref.node
        self._target = ref.id
        self._ref = ref
        self._credit = window
        self._heads: dict[int, bytes] = {}  # frame kind -> its encoded head

    def __len__(self) -> int:
        return 0  # the messages wait in the other process

    def depth(self) -> int:
        """Messages sent from here that the actor has not taken out yet, by the credits
        spent (returned in batches, so it may count up to a batch too many), and those
        waiting here for a credit."""
        return self._bound - self._credit + len(self._blocked)

    def put_system(self, envelope: Envelope) -> bool:
        if self._closed:
            return False
        self._send(envelope)
        return True

    def try_put(self, envelope: Envelope) -> bool:
        if self._closed:
            raise Closed
        if self._credit <= 0 or self._blocked:
            return False
        self._send(envelope)  # raises EncodeError before a credit is spent
        self._credit -= 1
        return True

    def _before_waiting(self, envelope: Envelope) -> None:
        self._encode(envelope)  # fail at the sender, not when credit comes

    def _encode(self, envelope: Envelope) -> bytes:
        """The encoded payload; an EncodeError names it (``the message cast to <ref>``)."""
        try:
            return self._wire.encode(envelope[1])
        except EncodeError as exc:
            raise exc.naming(f"{_WHAT[envelope[0]]} {self._ref}") from exc

    def grant(self, count: int) -> None:
        """Credits came back: send what waited, in order."""
        self._credit += count
        while self._blocked and self._credit > 0:
            waiter = self._blocked.popleft()
            try:
                self._send(waiter.envelope)
            except Exception as exc:  # pragma: no cover - checked before it waited
                trio.lowlevel.reschedule(waiter.task, outcome.Error(exc))
                continue
            self._credit -= 1
            trio.lowlevel.reschedule(waiter.task)

    def remove_system(self, predicate: Callable[[object], bool]) -> int:
        return 0

    def _send(self, envelope: Envelope) -> None:
        kind, payload, caller, _ = envelope
        try:  # self._encode, inline: every message's path
            data = self._wire.encode(payload)  # an EncodeError leaves nothing behind
        except EncodeError as exc:
            raise exc.naming(f"{_WHAT[kind]} {self._ref}") from exc
        if kind == CALL:
            assert isinstance(caller, OutboundCaller)
            call_id = self._wire.register_call(caller)
            head = self._heads.get(frames.CALL) or self._head(frames.CALL, 2)
            if call_id < 0x100000000:  # frames.uint, inline
                self._link.post(head + b"\xce" + call_id.to_bytes(4, "big") + data)
            else:
                self._link.post(head + frames.uint(call_id) + data)
            return
        kind = _KINDS[kind]
        head = self._heads.get(kind) or self._head(kind, 1)
        self._link.post(head + data, now=False)

    def _head(self, kind: int, extra: int) -> bytes:
        """The encoded [kind, node, here, target] that starts every frame to the actor."""
        head = self._heads.get(kind)
        if head is None:
            wire = self._wire
            encoded = wire.encode([kind, self._node, wire.node, self._target])
            head = self._heads[kind] = frames.extend_head(encoded, 4, extra)
        return head


class OutboundCaller(Caller):
    """A call from here to an actor on another node, answered by a REPLY frame."""

    __slots__ = ("call_id", "wire")
    wire: Wire  # both set by ProxyCell.new_caller, its one maker
    call_id: int | None  # once sent

    @property
    def target(self) -> ActorRef:
        return self._cell.ref

    def replied(self, value: object) -> None:
        self._answer(outcome.Value(value))

    def failed(self, error: Exception) -> None:
        self._answer(outcome.Error(error))

    def _settle(self) -> None:
        super()._settle()
        if self.call_id is not None:
            self.wire.forget_call(self.call_id)


class RemoteCaller(Caller):
    """A call that came from another node: answering it sends a REPLY frame back."""

    __slots__ = ("call_id", "head", "link", "source", "wire")

    def __init__(
        self, cell: Cell, wire: Wire, source: str, call_id: int, link: Transport, head: bytes
    ) -> None:
        super().__init__(cell)
        self.wire = wire
        self.source = source
        self.call_id = call_id
        self.link = link  # the way back to the source
        self.head = head  # the encoded [REPLY, source, here], extended by two

    def __repr__(self) -> str:
        return f"<Caller on {self.source} of {self._cell.ref}>"

    def _answer(self, result: outcome.Outcome[Any]) -> None:
        if self._done:
            return
        if isinstance(result, outcome.Value):
            # An EncodeError reaches the replier, which crashes with it; the call is
            # still pending then, so its caller fails with that crash as the reason.
            try:
                data = self.wire.encode(result.value)
            except EncodeError as exc:
                actor = getattr(self._cell, "actor", None)
                raise exc.naming(f"the reply of {type(actor).__qualname__}.handle_call") from exc
            self._settle()
            call_id = self.call_id
            if call_id < 0x100000000:  # frames.uint, inline: every call's path
                self.link.post(self.head + b"\xce" + call_id.to_bytes(4, "big") + data)
            else:
                self.link.post(self.head + frames.uint(call_id) + data)
            return
        self._settle()
        assert isinstance(result, outcome.Error)
        error = result.error
        if isinstance(error, StateError):  # a strict actor's commit failed: its caller gets it
            failed = frames.reply_failed(self.source, self.wire.node, self.call_id, Crash(error))
            self.wire.post(failed)
            return
        reason = error.reason if isinstance(error, ActorExited) else None
        self.wire.post(frames.reply_error(self.source, self.wire.node, self.call_id, reason))


class CreditSlot:
    """Returns credits to one sender node for one local actor, in batches."""

    __slots__ = ("_batch", "_owed", "_source", "_target", "_wire")

    def __init__(self, wire: Wire, source: str, target: int, bound: int) -> None:
        self._wire = wire
        self._source = source
        self._target = target
        self._owed = 0
        # At most a quarter of the smallest window a sender may hold, so it never stalls.
        self._batch = max(1, min(bound, DEFAULT_WINDOW) // 4)

    def release(self) -> None:
        """One message from this sender left the mailbox."""
        self._owed += 1
        if self._owed >= self._batch:
            owed, self._owed = self._owed, 0
            wire = self._wire
            wire.post(frames.credit(self._source, wire.node, self._target, owed), now=False)
