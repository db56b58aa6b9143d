"""The router: one runtime's distribution, what it knows of other nodes and how frames go.

It is the kernel's :class:`~actors._kernel.Distribution`: it makes the proxy
of a foreign actor on first use, tells other nodes of local exits, names and
groups, and turns each frame that arrives into kernel operations. Frames go to
a node over its :class:`~actors._link.Transport`; a node with no link of its
own is reached through the default route (a worker's link to the root). The
root is the hub: it relays frames between workers, and answers for a node
that is gone as for any actor already dead.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Final

import trio

from spawn import Codec, ProtocolError

from . import _frames as frames
from ._cell import Cell
from ._exceptions import ActorExited, NoSuchActor
from ._kernel import Kernel
from ._link import Transport
from ._mailbox import CALL, CAST, INFO, SYSTEM
from ._proxy import (
    DEFAULT_WINDOW,
    CreditSlot,
    OutboundCaller,
    ProxyCell,
    ProxyMailbox,
    RemoteCaller,
)
from ._pump import ReadTurn
from ._reasons import KILLED, NOPROC, Crash, ExitReason
from ._ref import ActorRef

logger = logging.getLogger("actors")

#: Called with the source node and the frame, for SPAWN (in a worker) and SPAWNED (root).
FrameHook = Callable[[str, frames.Frame], None]


class Router:
    """Everything one runtime knows of other nodes: links, proxies, calls in flight."""

    #: The codec's own encode (a bound method: no frame of ours on every message's path).
    encode: Callable[[object], bytes]

    def __init__(
        self,
        kernel: Kernel,
        codec: Codec,
        *,
        hub: bool,
        on_spawn: FrameHook | None = None,
        on_spawned: FrameHook | None = None,
        on_put: FrameHook | None = None,
        on_committed: FrameHook | None = None,
        on_node_down: Callable[[str], None] | None = None,
    ) -> None:
        self.node = kernel.node
        self.hub = hub  # the root: it relays frames between workers
        self._kernel = kernel
        self._cells = kernel.cells  # kernel.local, without its frame: every message's path
        self._codec = codec
        self.encode = codec.encode
        self._links: dict[str, Transport] = {}
        self._default: Transport | None = None  # a worker's link to the hub
        self._released: set[str] = set()  # nodes whose work is done: their actors are gone
        self._proxies: dict[tuple[str, int], ProxyCell] = {}
        self._calls: dict[int, OutboundCaller] = {}
        self._credit_slots: dict[tuple[str, int], CreditSlot] = {}
        self._subscribers: dict[int, set[str]] = {}  # local actor -> nodes with a proxy of it
        self._call_ids = itertools.count(1)
        self._reply_heads: dict[str, bytes] = {}  # node -> the head of a REPLY to it
        self._spawn_hook = on_spawn
        self._spawned_hook = on_spawned
        self._put_hook = on_put  # the root: a worker's actor commits its state
        self._committed_hook = on_committed  # a worker: the root's answer to a put
        self._node_down_hook = on_node_down

    # -- links --------------------------------------------------------------------

    def add_link(self, link: Transport, *, default: bool = False) -> None:
        """Reach ``link.node`` over ``link``; with ``default``, every node without a link too."""
        if default:
            self._default = link
        else:
            self._links[link.node] = link

    def release(self, node: str) -> None:
        """``node``'s work is done: it is unreachable from now on, and its link finishes."""
        self._released.add(node)
        link = self._links.get(node)
        if link is not None:
            link.finish()

    def close(self) -> None:
        """Stop writing: the runtime is going away."""
        for link in [*self._links.values(), *([self._default] if self._default else [])]:
            link.close()

    def _route(self, node: str) -> Transport | None:
        if node in self._released:
            return None
        link = self._links.get(node)
        if link is None and not self.hub:
            link = self._default
        return link

    # -- sending (the Wire of proxies) ----------------------------------------------

    def post(self, frame: frames.Frame, *, now: bool = True) -> None:
        """Encode ``frame`` now (errors reach the caller) and send it to its destination."""
        self.post_encoded(frame[1], self._codec.encode(frame), now=now)

    def post_encoded(self, node: str, data: bytes, *, now: bool = True) -> None:
        link = self._route(node)
        if link is not None:
            link.post(data, now=now)

    def register_call(self, caller: OutboundCaller) -> int:
        """The wire id of a call about to be sent; its REPLY answers ``caller``."""
        call_id = caller.call_id = next(self._call_ids)
        self._calls[call_id] = caller
        return call_id

    def forget_call(self, call_id: int) -> None:
        self._calls.pop(call_id, None)

    # -- the kernel's Distribution ----------------------------------------------------

    def proxy(self, ref: ActorRef, window: int = DEFAULT_WINDOW) -> ProxyCell | None:
        """The proxy of a foreign actor, made (and subscribed) on first use."""
        key = (ref.node, ref.id)
        cell = self._proxies.get(key)
        if cell is not None:
            return cell
        link = self._route(ref.node)
        if link is None:
            return None  # a node we cannot reach: its actors are dead to us
        cell = ProxyCell(self._kernel.ref(ref.node, ref.id), self, link, window)
        self._proxies[key] = cell
        self.post(frames.subscribe(ref.node, self.node, ref.id))
        return cell

    def known(self, ref: ActorRef) -> ProxyCell | None:
        return self._proxies.get((ref.node, ref.id))

    def local_exited(self, cell: Cell, reason: ExitReason) -> None:
        ident = cell.ref.id
        for node in self._subscribers.pop(ident, ()):
            self.post(frames.exited(node, self.node, ident, reason))
        for key in [key for key in self._credit_slots if key[1] == ident]:
            del self._credit_slots[key]

    def name_changed(self, name: str, ref: ActorRef | None) -> None:
        if self.hub:
            for node in list(self._links):
                self.post(frames.name(node, self.node, name, ref))

    def group_changed(self, group: str, ref: ActorRef, *, joined: bool) -> None:
        if not self.hub and self._default is not None:
            root = self._default.node
            kind = frames.JOIN if joined else frames.LEAVE
            self.post(frames.group(kind, root, self.node, group, ref))

    def subscribe(self, node: str, ident: int) -> None:
        """Tell ``node`` when the local actor ``ident`` exits."""
        self._subscribers.setdefault(ident, set()).add(node)

    def send_names(self, node: str) -> None:
        """A new worker: give it the whole registry."""
        for name, ref in self._kernel.names().items():
            self.post(frames.name(node, self.node, name, ref))

    # -- nodes going away -----------------------------------------------------------

    def node_down(self, node: str) -> None:
        """``node`` is gone: each of its actors we know of died with reason killed."""
        self._links.pop(node, None)
        self._released.discard(node)
        for key in [key for key in self._proxies if key[0] == node]:
            self._proxy_exited(self._proxies.pop(key), KILLED, node_down=True)
        for key in [key for key in self._credit_slots if key[0] == node]:
            del self._credit_slots[key]
        lost_hub = self._default is not None and node == self._default.node
        for call_id, caller in list(self._calls.items()):
            # Calls whose actor's exit was reported, waiting for the node's answer
            # (every call, when a worker loses the hub: no answer can reach it).
            ref = caller.target
            if ref.node == node or lost_hub:
                del self._calls[call_id]
                caller.failed(ActorExited(ref, KILLED))
        for subscribers in self._subscribers.values():
            subscribers.discard(node)
        if self.hub:
            for other in list(self._links):
                self.post(frames.nodedown(other, self.node, node))
        elif lost_hub:
            # A worker that lost the hub can reach no other node either.
            for key in list(self._proxies):
                self._proxy_exited(self._proxies.pop(key), KILLED, node_down=True)
        if self._node_down_hook is not None:
            self._node_down_hook(node)

    def _proxy_exited(self, cell: ProxyCell, reason: ExitReason, *, node_down: bool) -> None:
        self._kernel.exit_proxy(cell, reason, node_down=node_down)
        if cell.host is not None:
            if isinstance(reason, Crash) and not cell.reported:  # its worker does not log it
                logger.error(
                    "%r (in a worker process) crashed: %s",
                    cell.ref,
                    reason,
                    exc_info=reason.exc,
                    extra={"actor": repr(cell.ref), "event": "crashed"},
                )
            cell.host.actor_exited(cell)

    # -- receiving -----------------------------------------------------------------

    async def serve(self, link: Transport, turn: ReadTurn | None = None) -> None:
        """Read frames from ``link`` until it ends; then its node is down.

        With ``turn``, an idle actor may read the link in this task's stead (``_pump``).
        """
        dispatch = self.dispatch
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(link.write_loop)
                try:
                    if turn is None:
                        while True:  # until the peer's end of file, even after ours
                            dispatch(await link.receive_batch())
                    while True:
                        batch = await turn.read()
                        if batch is not None:
                            dispatch(batch)
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

    def dispatch(self, batch: list[object]) -> None:
        """Handle the frames that arrived, in order."""
        handlers, node = self._handlers, self.node
        for frame in batch:
            if type(frame) is not list or len(frame) < frames.ROUTING:
                raise ProtocolError(f"malformed frame: {frame!r:.100}")
            # self.receive(frame), inline: every frame's path
            kind, destination = frame[0], frame[1]
            handler = handlers.get(kind) if destination == node else None
            if handler is not None:
                handler(self, frame[2], frame)
            else:
                self.receive(frame)

    def receive(self, frame: frames.Frame) -> None:
        """Handle one frame that arrived (relay it if it is not ours)."""
        kind, destination, source = frame[0], frame[1], frame[2]
        if destination != self.node:
            if self.hub:
                self._relay(frame, destination, source)
            return
        handler = self._handlers.get(kind)
        if handler is None:
            raise ProtocolError(f"unknown frame kind {kind!r} from {source}")
        handler(self, source, frame)

    def _relay(self, frame: frames.Frame, destination: str, source: str) -> None:
        link = self._route(destination)
        if link is not None:
            link.post(self._codec.encode(frame))
            return
        # The destination node is gone, and its actors with it (those who knew were
        # told, by NODEDOWN): answer for it as for any actor that was already dead.
        kind = frame[0]
        if kind == frames.CALL:
            _, call_id, _ = frames.read_call(frame)
            self.post(frames.reply_error(source, destination, call_id, None))
        elif kind == frames.SUBSCRIBE:
            target = frames.read_target(frame)
            self.post(frames.exited(source, destination, target, NOPROC))
        elif kind == frames.LINK:
            target, from_ref = frames.read_link(frame)
            gone = self._kernel.ref(destination, target)
            self.post(frames.exit_signal(source, destination, from_ref.id, gone, NOPROC))

    def _on_call(self, source: str, frame: frames.Frame) -> None:
        if len(frame) != 6:  # frames.read_call, inline: every call's path
            frames.read_call(frame)  # raises the ProtocolError
        target, call_id, request = frame[3], frame[4], frame[5]
        cell = self._cells.get(target)
        if cell is None or not cell.taking_calls():  # gone, or handling nothing more
            self.post(frames.reply_error(source, self.node, call_id, None))
            return
        link = self._route(source)
        if link is None:
            return  # the caller's node is gone: nobody waits for the answer
        head = self._reply_heads.get(source) or self._reply_head(source)
        caller = RemoteCaller(cell, self, source, call_id, link, head)
        cell.pending.add(caller)
        slot = self._credit_slots.get((source, target)) or self._credit_slot(source, cell)
        cell.mailbox.put_forced((CALL, request, caller, slot))

    def _reply_head(self, source: str) -> bytes:
        head = self._reply_heads.get(source)
        if head is None:
            encoded = self._codec.encode([frames.REPLY, source, self.node])
            head = self._reply_heads[source] = frames.extend_head(encoded, 3, 2)
        return head

    def _on_reply(self, source: str, frame: frames.Frame) -> None:
        if len(frame) != 5:  # frames.read_reply, inline: every call's path
            frames.read_reply(frame)  # raises the ProtocolError
        caller = self._calls.pop(frame[3], None)
        if caller is not None:
            caller.call_id = None  # forgotten already
            caller.replied(frame[4])

    def _on_reply_error(self, source: str, frame: frames.Frame) -> None:
        call_id, reason = frames.read_reply(frame)
        caller = self._calls.pop(call_id, None)
        if caller is None:
            return
        ref = caller.target
        caller.failed(
            NoSuchActor(f"{ref} is not alive") if reason is None else ActorExited(ref, reason)
        )

    def _on_reply_failed(self, source: str, frame: frames.Frame) -> None:
        call_id, reason = frames.read_reply(frame)
        caller = self._calls.pop(call_id, None)
        if caller is not None:
            if not isinstance(reason, Crash) or not isinstance(reason.exc, Exception):
                raise ProtocolError(f"REPLY_FAILED without an error: {reason!r:.100}")
            caller.failed(reason.exc)

    def _on_message(self, source: str, frame: frames.Frame) -> None:
        if len(frame) != 5:  # frames.read_message, inline: every cast's path
            frames.read_message(frame)  # raises the ProtocolError
        target, payload = frame[3], frame[4]
        cell = self._cells.get(target)
        if cell is None:
            self._kernel.dead_letter()
            return
        kind = frame[0]
        if kind == frames.SYSTEM:
            cell.mailbox.put_system((SYSTEM, payload, None, None))
        else:
            local_kind = CAST if kind == frames.CAST else INFO
            slot = self._credit_slots.get((source, target)) or self._credit_slot(source, cell)
            cell.mailbox.put_forced((local_kind, payload, None, slot))

    def _credit_slot(self, source: str, cell: Cell) -> CreditSlot:
        key = (source, cell.ref.id)
        slot = self._credit_slots.get(key)
        if slot is None:
            slot = CreditSlot(self, source, cell.ref.id, cell.mailbox.bound)
            self._credit_slots[key] = slot
        return slot

    def _on_credit(self, source: str, frame: frames.Frame) -> None:
        target, count = frames.read_credit(frame)
        cell = self._proxies.get((source, target))
        if cell is not None:
            mailbox = cell.mailbox
            assert isinstance(mailbox, ProxyMailbox)
            mailbox.grant(count)

    def _on_subscribe(self, source: str, frame: frames.Frame) -> None:
        target = frames.read_target(frame)
        if self._kernel.local(target) is None:
            self.post(frames.exited(source, self.node, target, NOPROC))
        else:
            self.subscribe(source, target)

    def _on_exited(self, source: str, frame: frames.Frame) -> None:
        target, reason = frames.read_reason(frame)
        cell = self._proxies.pop((source, target), None)
        if cell is not None:
            self._proxy_exited(cell, reason, node_down=False)

    def _on_link(self, source: str, frame: frames.Frame) -> None:
        target, from_ref = frames.read_link(frame)
        cell = self._kernel.local(target)
        if cell is None:
            gone = self._kernel.ref(self.node, target)
            self.post(frames.exit_signal(source, self.node, from_ref.id, gone, NOPROC))
            return
        other = self.proxy(from_ref)
        if other is not None:
            self._kernel.link(cell, other, tell=False)

    def _on_unlink(self, source: str, frame: frames.Frame) -> None:
        target, from_ref = frames.read_link(frame)
        cell = self._kernel.local(target)
        other = self.known(from_ref)
        if cell is not None and other is not None:
            self._kernel.unlink(cell, other, tell=False)

    def _on_exit(self, source: str, frame: frames.Frame) -> None:
        target, sender, reason = frames.read_exit(frame)
        cell = self._kernel.local(target)
        if cell is None:
            return
        other = self.known(sender)
        if other is not None:
            self._kernel.unlink(cell, other, tell=False)
        self._kernel.signal(cell, sender, reason)

    def _on_stop(self, source: str, frame: frames.Frame) -> None:
        target, reason = frames.read_reason(frame)
        cell = self._kernel.local(target)
        if cell is not None:
            cell.request_stop(reason)

    def _on_kill(self, source: str, frame: frames.Frame) -> None:
        cell = self._kernel.local(frames.read_target(frame))
        if cell is not None:
            cell.kill()

    def _on_nodedown(self, source: str, frame: frames.Frame) -> None:
        self.node_down(frames.read_nodedown(frame))

    def _on_name(self, source: str, frame: frames.Frame) -> None:
        self._kernel.replicate_name(*frames.read_name(frame))

    def _on_group(self, source: str, frame: frames.Frame) -> None:
        group, ref = frames.read_group(frame)
        cell = self._kernel.lookup(ref)
        if cell is None or cell.exited:
            return
        if frame[0] == frames.JOIN:
            self._kernel.groups.join(group, cell)
        else:
            self._kernel.groups.leave(group, cell)

    def _on_spawn(self, source: str, frame: frames.Frame) -> None:
        if self._spawn_hook is None:
            raise ProtocolError(f"node {source} asked {self.node} to spawn, which it does not")
        self._spawn_hook(source, frame)

    def _on_spawned(self, source: str, frame: frames.Frame) -> None:
        if self._spawned_hook is not None:
            self._spawned_hook(source, frame)

    def _on_put(self, source: str, frame: frames.Frame) -> None:
        if self._put_hook is None:
            raise ProtocolError(
                f"node {source} sent {self.node} a state to commit; it has no store"
            )
        self._put_hook(source, frame)

    def _on_committed(self, source: str, frame: frames.Frame) -> None:
        if self._committed_hook is not None:
            self._committed_hook(source, frame)

    _handlers: Final[dict[int, Callable[[Router, str, frames.Frame], None]]] = {
        frames.CALL: _on_call,
        frames.REPLY: _on_reply,
        frames.REPLY_ERROR: _on_reply_error,
        frames.REPLY_FAILED: _on_reply_failed,
        frames.PUT: _on_put,
        frames.COMMITTED: _on_committed,
        frames.CAST: _on_message,
        frames.INFO: _on_message,
        frames.SYSTEM: _on_message,
        frames.CREDIT: _on_credit,
        frames.SUBSCRIBE: _on_subscribe,
        frames.EXITED: _on_exited,
        frames.LINK: _on_link,
        frames.UNLINK: _on_unlink,
        frames.EXIT: _on_exit,
        frames.STOP: _on_stop,
        frames.KILL: _on_kill,
        frames.NODEDOWN: _on_nodedown,
        frames.SPAWN: _on_spawn,
        frames.SPAWNED: _on_spawned,
        frames.NAME: _on_name,
        frames.JOIN: _on_group,
        frames.LEAVE: _on_group,
    }
