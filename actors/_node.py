"""Actors in other processes: proxy cells, credit-based flow control, and frame routing.

Every OS process runs one runtime, a *node*. A ref names its node, so a
runtime that meets a foreign ref makes a *proxy cell* for it: a
:class:`~actors._cell.Cell` whose mailbox sends frames instead of queueing.
Links, monitors, names and pending calls then work on the proxy exactly as on
a local cell; the node that hosts the actor reports its exit (``EXITED``) to
every node holding a proxy, and sends exit signals over links (``EXIT``).

The root process is the hub: a worker has one channel, to the root, which
relays frames between workers. Frames are ``[kind, destination node, source
node, ...]`` encoded with the runtime's codec at the sender, so a value that
cannot travel fails there, at send time.

Flow control: a sender holds credits for each remote actor (the actor's
mailbox bound when the sender spawned it, :data:`DEFAULT_WINDOW` otherwise);
a send spends one and waits (or fails, with ``_nowait``) when none are left.
The receiving node enqueues past the local bound and returns credits in
batches as the actor takes the messages out of its mailbox. Memory is bounded
at the receiving mailbox, never by a queue in the sender's process.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import outcome
import trio

from spawn import Channel, ProtocolError
from spawn._channel import HEADER

from ._behaviour import Caller
from ._cell import Cell
from ._exceptions import ActorExited, NoSuchActor
from ._mailbox import CALL, CAST, INFO, SYSTEM, Closed, Envelope, Mailbox
from ._reasons import KILLED, NOPROC, ExitReason
from ._ref import ActorRef

if TYPE_CHECKING:
    from ._runtime import Runtime

logger = logging.getLogger("actors")

DEFAULT_WINDOW: Final = 64

# Frame kinds. Every frame is [kind, destination node, source node, ...].
HELLO: Final = 0  # [src is the new node]
SPAWN: Final = 1  # request id, module, qualname, args, name, mailbox size, link-to ref
SPAWNED: Final = 2  # request id, ref or None, error box or None, ignored
CALL_FRAME: Final = 3  # target id, call id, request
REPLY: Final = 4  # call id, value
REPLY_ERROR: Final = 5  # call id, exit reason (None: no such actor)
CAST_FRAME: Final = 6  # target id, message
INFO_FRAME: Final = 7  # target id, message
SYSTEM_FRAME: Final = 8  # target id, message (past the bound, no credit)
CREDIT: Final = 9  # target id, count
SUBSCRIBE: Final = 10  # target id: tell me when it exits
EXITED: Final = 11  # target id, reason
LINK: Final = 12  # target id, from ref
UNLINK: Final = 13  # target id, from ref
EXIT: Final = 14  # target id, from ref, reason (an exit signal)
STOP: Final = 15  # target id, reason
KILL: Final = 16  # target id
NODEDOWN: Final = 17  # node
NAME: Final = 18  # name, ref or None: the root's registry, replicated to workers
JOIN: Final = 19  # group, ref: a worker's actor joined a group (the root keeps groups)
LEAVE: Final = 20  # group, ref

_ENVELOPE_FRAME: Final = {CAST: CAST_FRAME, INFO: INFO_FRAME, SYSTEM: SYSTEM_FRAME}


class RemoteCaller(Caller):
    """A call that came from another node: answering it sends a ``REPLY`` frame."""

    __slots__ = ("_call_id", "_credit", "_router", "_source")

    def __init__(
        self, cell: Cell, router: Router, source: str, call_id: int, credit: CreditSlot
    ) -> None:
        super().__init__(cell)
        self._router = router
        self._source = source
        self._call_id = call_id
        self._credit = credit

    def __repr__(self) -> str:
        return f"<Caller on {self._source} of {self._cell.ref}>"


class CreditSlot:
    """Returns credits to one sender node for one local actor, in batches."""

    __slots__ = ("_batch", "_owed", "_router", "_source", "_target")

    def __init__(self, router: Router, source: str, target: int, bound: int) -> None:
        self._router = router
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
            frame = [CREDIT, self._source, "", self._target, owed]
            self._router.post(self._source, frame, now=False)


class RemoteMailbox(Mailbox):
    """The mailbox of a proxy: each message becomes a frame, paid for with a credit.

    A put that has a credit takes no schedule point (as a write to a ready socket
    need not): a sender runs ahead by at most its window, and its casts leave in
    one write when it next waits.
    """

    __slots__ = ("_credit", "_node", "_prefixes", "_router", "_target")
    _schedule_point = False

    def __init__(self, router: Router, ref: ActorRef, window: int) -> None:
        super().__init__(window)
        self._router = router
        self._node = ref.node
        self._target = ref.id
        self._credit = window
        self._prefixes: dict[int, bytes] = {}  # frame kind -> its encoded head

    def __len__(self) -> int:
        return 0  # the messages wait in the other process

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
        self._router.encode_check(envelope[1])  # fail at the sender, not when credit comes

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
        kind, payload, extra = envelope
        if kind == CALL:
            assert isinstance(extra, Caller)
            self._router.send_call(self._node, self._target, payload, extra)
        else:
            frame_kind = _ENVELOPE_FRAME[kind]
            head = self._prefixes.get(frame_kind)
            if head is None:
                head = self._prefixes[frame_kind] = self._router.frame_head(
                    [frame_kind, self._node, "", self._target]
                )
            self._router.post_encoded(self._node, head + self._router.encode(payload), now=False)


class NodeLink:
    """One channel to another node: frames are encoded when posted and written at once.

    A frame goes straight to the socket when nothing waits before it; what the
    socket does not take waits for the writer task, and later frames queue
    behind it, so order holds and a slow peer never blocks the poster.
    """

    def __init__(self, channel: Channel, node: str) -> None:
        self.channel = channel
        self.node = node
        self._socket: socket.socket | None = getattr(channel.stream, "socket", None)
        self._limit = channel.max_frame
        self._out: list[bytes] = []  # whole frames (or the rest of one), in order
        self._wake = trio.Event()
        self._writing = False
        self._finishing = False
        self.closed = False

    def finish(self) -> None:
        """Send what is queued, then end of file; frames from the peer are still read."""
        self._finishing = True
        self._wake.set()

    def post(self, data: bytes, *, now: bool = True) -> None:
        """Queue one frame; with ``now``, write it (and what queued before it) at once.

        Casts and credits go with ``now=False``: they leave together when the
        writer task next runs, which is as soon as the poster waits.
        """
        if self.closed or self._finishing:
            return
        if len(data) > self._limit:
            raise ProtocolError(f"frame of {len(data):,} bytes is over the limit")
        self._out.append(len(data).to_bytes(HEADER, "big") + data)
        if now and not self._writing and self._socket is not None:
            self._write_now(self._socket)
        else:
            self._wake.set()

    def _write_now(self, sock: socket.socket) -> None:
        out = self._out
        data = out[0] if len(out) == 1 else b"".join(out)
        self._out = []
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.closed = True  # the reader sees the end and takes the node down
            return
        if sent < len(data):
            self._out.append(data[sent:])
            self._wake.set()

    async def write_loop(self) -> None:
        """Write what the socket did not take at once, until the link closes or breaks."""
        try:
            while not self.closed:
                if not self._out:
                    if self._finishing:
                        await self.channel.send_eof()
                        return
                    self._wake = trio.Event()
                    await self._wake.wait()
                    continue
                batch, self._out = b"".join(self._out), []
                self._writing = True
                try:
                    await self.channel.stream.send_all(batch)
                finally:
                    self._writing = False
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the peer is gone; the reader sees the end and takes the node down
        finally:
            self.closed = True


class Router:
    """Everything one runtime knows of other nodes: links, proxies, calls in flight."""

    def __init__(self, runtime: Runtime, *, hub: bool) -> None:
        self.runtime = runtime
        self.node = runtime.node
        self.hub = hub  # the root: it relays frames between workers
        self.links: dict[str, NodeLink] = {}
        self.released: set[str] = set()  # nodes whose work is done: their actors are gone
        self.upstream: NodeLink | None = None  # a worker's one link, to the hub
        self.proxies: dict[tuple[str, int], Cell] = {}
        self.calls: dict[int, Caller] = {}
        self.credit_slots: dict[tuple[str, int], CreditSlot] = {}
        self._call_ids = itertools.count(1)
        self._codec = runtime.codec

    # -- sending ----------------------------------------------------------------

    def route(self, node: str) -> NodeLink | None:
        if node in self.released:
            return None
        link = self.links.get(node)
        if link is None and not self.hub:
            link = self.upstream
        return link

    def post(
        self, node: str, frame: list[Any], *, source: str | None = None, now: bool = True
    ) -> None:
        """Encode ``frame`` now (errors reach the caller) and send it to ``node``.

        ``source`` is this node, unless the hub answers for a node that is gone.
        """
        frame[1] = node
        frame[2] = self.node if source is None else source
        self.post_encoded(node, self._codec.encode(frame), now=now)

    def post_encoded(self, node: str, data: bytes, *, now: bool = True) -> None:
        link = self.route(node)
        if link is not None:
            link.post(data, now=now)

    def encode(self, value: object) -> bytes:
        return self._codec.encode(value)

    def frame_head(self, fields: list[Any]) -> bytes:
        """The encoded start of a frame of ``fields`` plus one more (the payload).

        A msgpack array of n < 15 items starts with 0x90 | n: one more item is
        0x90 | (n + 1), the items' bytes unchanged.
        """
        fields[1:3] = [fields[1], self.node]
        encoded = self._codec.encode(fields)
        assert len(fields) < 15
        assert encoded[0] == 0x90 | len(fields)
        return bytes([0x90 | (len(fields) + 1)]) + encoded[1:]

    def forward(self, cell: Cell, kind: int, *fields: object) -> None:
        """Send a frame about the proxied actor ``cell`` to its node."""
        node = cell.ref.node
        self.post(node, [kind, node, "", cell.ref.id, *fields])

    def exited(self, cell: Cell, reason: ExitReason) -> None:
        """A local actor exited: tell every node that holds a proxy of it."""
        for node in cell.subscribers:
            self.post(node, [EXITED, node, "", cell.ref.id, reason])
        cell.subscribers.clear()
        for key in [key for key in self.credit_slots if key[1] == cell.ref.id]:
            del self.credit_slots[key]

    def reply(self, caller: RemoteCaller, result: outcome.Outcome[Any]) -> None:
        """Answer a call that came from another node."""
        if isinstance(result, outcome.Value):
            frame = [REPLY, caller._source, "", caller._call_id, result.value]
        else:
            assert isinstance(result, outcome.Error)
            error = result.error
            reason = error.reason if isinstance(error, ActorExited) else None
            frame = [REPLY_ERROR, caller._source, "", caller._call_id, reason]
        self.post(caller._source, frame)

    def name_changed(self, name: str, ref: ActorRef | None) -> None:
        """The root's registry changed: tell every worker."""
        if self.hub:
            for node in list(self.links):
                self.post(node, [NAME, node, "", name, ref])

    def send_names(self, node: str, names: dict[str, Cell]) -> None:
        """A new worker: give it the whole registry."""
        for name, cell in names.items():
            self.post(node, [NAME, node, "", name, cell.ref])

    def _on_name(self, source: str, frame: list[Any]) -> None:
        _, _, _, name, ref = frame
        names = self.runtime._names
        old = names.pop(name, None)
        if old is not None:
            old.name = None
        if ref is not None:
            cell = self.runtime._live_cell(ref)
            if cell is not None and not cell.exited:
                names[name] = cell
                cell.name = name

    def group_changed(self, kind: int, group: str, cell: Cell) -> None:
        """In a worker: a local actor joined or left ``group``; the root keeps the groups."""
        if not self.hub and self.upstream is not None:
            root = self.upstream.node
            self.post(root, [kind, root, "", group, cell.ref])

    def _on_group(self, source: str, frame: list[Any]) -> None:
        kind, _, _, group, ref = frame
        cell = self.runtime._live_cell(ref)
        if cell is None or cell.exited:
            return
        if kind == JOIN:
            self.runtime.groups.join(group, cell)
        else:
            self.runtime.groups.leave(group, cell)

    def encode_check(self, value: object) -> None:
        self._codec.encode(value)

    def send_call(self, node: str, target: int, request: object, caller: Caller) -> None:
        call_id = next(self._call_ids)
        self.post(node, [CALL_FRAME, node, "", target, call_id, request])
        self.calls[call_id] = caller
        caller._remote_id = call_id

    def forget_call(self, caller: Caller) -> None:
        if caller._remote_id is not None:
            self.calls.pop(caller._remote_id, None)

    # -- proxies ----------------------------------------------------------------

    def proxy(self, ref: ActorRef, window: int = DEFAULT_WINDOW) -> Cell | None:
        """The proxy of a foreign actor, made (and subscribed) on first use."""
        key = (ref.node, ref.id)
        cell = self.proxies.get(key)
        if cell is not None:
            return cell
        if self.route(ref.node) is None:
            return None  # a node we cannot reach: its actors are dead to us
        bound = ActorRef(ref.node, ref.id, self.runtime)
        cell = Cell(self.runtime, bound, None, RemoteMailbox(self, bound, window))
        cell.remote = True
        cell.started = True
        self.proxies[key] = cell
        self.post(ref.node, [SUBSCRIBE, ref.node, "", ref.id])
        return cell

    def credit_slot(self, source: str, cell: Cell) -> CreditSlot:
        key = (source, cell.ref.id)
        slot = self.credit_slots.get(key)
        if slot is None:
            slot = CreditSlot(self, source, cell.ref.id, cell.mailbox.bound)
            self.credit_slots[key] = slot
        return slot

    def node_down(self, node: str) -> None:
        """``node`` is gone: each of its actors we know of died with reason killed."""
        self.links.pop(node, None)
        self.released.discard(node)
        for key in [key for key in self.proxies if key[0] == node]:
            cell = self.proxies.pop(key)
            self.runtime._exit_remote(cell, KILLED, fire_links=True)
        for key in [key for key in self.credit_slots if key[0] == node]:
            del self.credit_slots[key]
        lost_hub = not self.hub and self.upstream is not None and node == self.upstream.node
        for call_id, caller in list(self.calls.items()):
            # Calls whose actor's exit was reported, waiting for the node's answer
            # (every call, when a worker loses the hub: no answer can reach it).
            ref = caller._cell.ref
            if ref.node == node or lost_hub:
                del self.calls[call_id]
                if not caller._done:
                    error = outcome.Error(ActorExited(ref, KILLED))
                    self.runtime._resolve_caller(caller, error)
        if self.hub:
            for other in list(self.links):
                self.post(other, [NODEDOWN, other, "", node])
        elif node in (self.upstream.node if self.upstream else None, None):
            # A worker that lost the hub can reach no other node either.
            for key in list(self.proxies):
                self.runtime._exit_remote(self.proxies.pop(key), KILLED, fire_links=True)
        self.runtime._on_node_down(node)

    def close(self) -> None:
        """Stop writing: the runtime is going away."""
        for link in [*self.links.values(), *([self.upstream] if self.upstream else [])]:
            link.closed = True
            link._wake.set()

    # -- receiving --------------------------------------------------------------

    def receive(self, frame: list[Any], via: NodeLink) -> None:
        """Handle one frame that arrived on ``via`` (relay it if it is not ours)."""
        kind, destination, source = frame[0], frame[1], frame[2]
        if destination != self.node:
            if self.hub:
                self._relay(frame, destination, source)
            return
        handler = self._handlers.get(kind)
        if handler is None:
            raise ValueError(f"unknown frame kind {kind!r} from {source}")
        handler(self, source, frame)

    def _relay(self, frame: list[Any], destination: str, source: str) -> None:
        link = self.route(destination)
        if link is not None:
            link.post(self._codec.encode(frame))
            return
        # The destination node is gone, and its actors with it (those who knew were
        # told, by NODEDOWN): answer for it as for any actor that was already dead.
        kind = frame[0]
        if kind == CALL_FRAME:
            self.post(source, [REPLY_ERROR, source, "", frame[4], None], source=destination)
        elif kind == SUBSCRIBE:
            self.post(source, [EXITED, source, "", frame[3], NOPROC], source=destination)
        elif kind == LINK:
            from_ref: ActorRef = frame[4]
            gone = ActorRef(destination, frame[3], self.runtime)
            frame = [EXIT, source, "", from_ref.id, gone, NOPROC]
            self.post(source, frame, source=destination)

    def _local(self, target: int) -> Cell | None:
        return self.runtime._cells.get(target)

    def _on_call(self, source: str, frame: list[Any]) -> None:
        _, _, _, target, call_id, request = frame
        cell = self._local(target)
        if cell is None or cell.stop_reason is not None:  # gone, or handling nothing more
            self.post(source, [REPLY_ERROR, source, "", call_id, None])
            return
        caller = RemoteCaller(cell, self, source, call_id, self.credit_slot(source, cell))
        cell.pending.add(caller)
        cell.mailbox.put_forced((CALL, request, caller))

    def _on_reply(self, source: str, frame: list[Any]) -> None:
        caller = self.calls.pop(frame[3], None)
        if caller is not None and not caller._done:
            self.runtime._resolve_caller(caller, outcome.Value(frame[4]))

    def _on_reply_error(self, source: str, frame: list[Any]) -> None:
        caller = self.calls.pop(frame[3], None)
        if caller is None or caller._done:
            return
        reason: ExitReason | None = frame[4]
        ref = caller._cell.ref
        error: Exception = (
            NoSuchActor(f"{ref} is not alive") if reason is None else ActorExited(ref, reason)
        )
        self.runtime._resolve_caller(caller, outcome.Error(error))

    def _on_message(self, source: str, frame: list[Any]) -> None:
        kind, _, _, target, message = frame
        cell = self._local(target)
        if cell is None:
            self.runtime._dead_letters += 1
            return
        if kind == SYSTEM_FRAME:
            cell.mailbox.put_system((SYSTEM, message, None))
        else:
            local_kind = CAST if kind == CAST_FRAME else INFO
            cell.mailbox.put_forced((local_kind, message, self.credit_slot(source, cell)))

    def _on_credit(self, source: str, frame: list[Any]) -> None:
        cell = self.proxies.get((source, frame[3]))
        if cell is not None:
            mailbox = cell.mailbox
            assert isinstance(mailbox, RemoteMailbox)
            mailbox.grant(frame[4])

    def _on_subscribe(self, source: str, frame: list[Any]) -> None:
        cell = self._local(frame[3])
        if cell is None:
            self.post(source, [EXITED, source, "", frame[3], NOPROC])
        else:
            cell.subscribers.add(source)

    def _on_exited(self, source: str, frame: list[Any]) -> None:
        cell = self.proxies.pop((source, frame[3]), None)
        if cell is not None:
            self.runtime._exit_remote(cell, frame[4], fire_links=False)

    def _on_link(self, source: str, frame: list[Any]) -> None:
        target, from_ref = frame[3], frame[4]
        cell = self._local(target)
        if cell is None:
            gone = ActorRef(self.node, target, self.runtime)
            self.post(source, [EXIT, source, "", from_ref.id, gone, NOPROC])
            return
        other = self.proxy(from_ref)
        if other is not None:
            cell.links.add(other)
            other.links.add(cell)

    def _on_unlink(self, source: str, frame: list[Any]) -> None:
        cell = self._local(frame[3])
        other = self.proxies.get((frame[4].node, frame[4].id))
        if cell is not None and other is not None:
            cell.links.discard(other)
            other.links.discard(cell)

    def _on_exit(self, source: str, frame: list[Any]) -> None:
        _, _, _, target, from_ref, reason = frame
        cell = self._local(target)
        if cell is None:
            return
        other = self.proxies.get((from_ref.node, from_ref.id))
        if other is not None:
            cell.links.discard(other)
            other.links.discard(cell)
        self.runtime._exit_signal(cell, from_ref, reason)

    def _on_stop(self, source: str, frame: list[Any]) -> None:
        cell = self._local(frame[3])
        if cell is not None:
            self.runtime._request_stop(cell, frame[4])

    def _on_kill(self, source: str, frame: list[Any]) -> None:
        cell = self._local(frame[3])
        if cell is not None:
            self.runtime._kill_cell(cell)

    def _on_nodedown(self, source: str, frame: list[Any]) -> None:
        self.node_down(frame[3])

    def _on_spawn(self, source: str, frame: list[Any]) -> None:
        self.runtime._nursery.start_soon(self.runtime._spawn_for, source, frame)

    def _on_spawned(self, source: str, frame: list[Any]) -> None:
        self.runtime._spawned_reply(frame)

    _handlers: Final[dict[int, Callable[[Router, str, list[Any]], None]]] = {
        CALL_FRAME: _on_call,
        REPLY: _on_reply,
        REPLY_ERROR: _on_reply_error,
        CAST_FRAME: _on_message,
        INFO_FRAME: _on_message,
        SYSTEM_FRAME: _on_message,
        CREDIT: _on_credit,
        SUBSCRIBE: _on_subscribe,
        EXITED: _on_exited,
        LINK: _on_link,
        UNLINK: _on_unlink,
        EXIT: _on_exit,
        STOP: _on_stop,
        KILL: _on_kill,
        NODEDOWN: _on_nodedown,
        SPAWN: _on_spawn,
        SPAWNED: _on_spawned,
        NAME: _on_name,
        JOIN: _on_group,
        LEAVE: _on_group,
    }

    # -- a link's life ----------------------------------------------------------

    async def serve(self, link: NodeLink) -> None:
        """Read frames from ``link`` until it ends; then its node is down."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(link.write_loop)
                try:
                    while True:  # until the peer's end of file, even after ours
                        # In batches and without spinning: the tasks a frame wakes
                        # run in this event loop, as soon as the reader waits.
                        for frame in await link.channel.receive_batch():
                            if type(frame) is not list or len(frame) < 3:
                                raise ProtocolError(f"malformed frame: {frame!r:.100}")
                            self.receive(frame, link)
                except (trio.EndOfChannel, trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                except Exception:
                    # A node that sends what we cannot handle is cut off, not trusted.
                    logger.exception("dropping the link to node %s", link.node)
                finally:
                    link.closed = True
                    nursery.cancel_scope.cancel()
        finally:
            link.closed = True
            self.node_down(link.node)
