"""A supervised listener: a socket that accepts connections, a temporary child for each.

``listener(id, handler)`` is a child spec. Under it, a supervisor holds two children
(rest-for-one, in this order): ``connections``, a dynamic supervisor whose temporary
children each serve one connection with ``await handler(stream, *args)``, and
``acceptor``, which binds the socket and hands each accepted stream to a connection
child started ahead of it (one waits for the next client). A handler that raises
crashes its own child only: its connection closes, the crash is reported, the
listener and the other connections keep running. The acceptor
can restart and leave open connections running; stopping the listener stops the
acceptor first (the listening socket closes), then gives each open connection its
``connection_shutdown`` budget, then kills what is left. Every stream is closed when
its child ends, however it ends.

>>> import trio
>>> from actors import open_runtime
>>> from supervisor import Supervisor, listener, listener_address, open_tree
>>> async def echo(stream: trio.SocketStream) -> None:
...     async for data in stream:
...         await stream.send_all(data)
>>> async def main() -> None:
...     async with open_runtime() as runtime:
...         spec = Supervisor(children=[listener("echo", echo)])
...         async with open_tree(spec, runtime=runtime) as root:
...             host, port = await listener_address(root.supervisor("echo"))
...             client = await trio.open_tcp_stream(host, port)
...             await client.send_all(b"ping")
...             print(await client.receive_some(4))
...             await client.aclose()
>>> trio.run(main)
b'ping'
"""

from __future__ import annotations

import errno
import logging
import os
import socket as stdlib_socket
import stat
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import trio

from actors import (
    NORMAL,
    Actor,
    ActorRef,
    Caller,
    CallResult,
    Down,
    ExitReason,
    InfoResult,
    MailboxFull,
    MonitorRef,
    NoReply,
    Reply,
    Stop,
)

from ._exceptions import InvalidSpec
from ._handles import SupervisorHandle
from ._protocol import Failed
from ._server import StartSoon
from ._siblings import INHERITED, Sibling
from ._spec import ChildSpec, Restart, ShutdownPolicy, Strategy, Supervisor

logger = logging.getLogger("supervisor")

Address = tuple[str, int] | str
"""A TCP address ``(host, port)`` (port 0: any free port) or a Unix socket's path."""

Handler = Callable[..., Awaitable[object]]

#: Accept errors that mean "out of resources": accepting pauses, as in trio.serve_listeners.
_RESOURCE_ERRORS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_PAUSE: Final = 0.1
_ADDRESS: Final = "listener: address"


class _Slots:
    """The listener's connection slots: a connection holds one until its stream closes.

    One per listener spec, shared by every acceptor incarnation, so an acceptor
    restart leaves the count right without asking who is open.
    """

    __slots__ = ("semaphore",)

    def __init__(self, limit: int | None) -> None:
        self.semaphore = None if limit is None else trio.Semaphore(limit)

    async def acquire(self) -> None:
        semaphore = self.semaphore
        if semaphore is not None:
            try:
                semaphore.acquire_nowait()  # the accept that follows is the checkpoint
            except trio.WouldBlock:
                await semaphore.acquire()

    def release(self) -> None:
        if self.semaphore is not None:
            self.semaphore.release()


@dataclass(frozen=True, slots=True)
class _Config:
    address: Address
    slots: _Slots
    backlog: int
    #: The address the first acceptor bound: a restarted one binds it again (port 0
    #: is resolved once, so clients keep the port across acceptor restarts).
    bound: list[Address] = field(default_factory=list, compare=False)

    def target(self) -> Address:
        return self.bound[0] if self.bound else self.address


def listener(
    id: str,
    handler: Handler,
    *,
    address: Address = ("127.0.0.1", 0),
    args: Sequence[Any] = (),
    max_connections: int | None = None,
    backlog: int = 128,
    connection_shutdown: ShutdownPolicy = 5.0,
    restart: Restart = Restart.PERMANENT,
    intensity: int = 5,
    period: float = 5.0,
) -> ChildSpec:
    """A child spec: a listener on ``address`` serving each connection with ``handler``.

    ``handler(stream, *args)`` is an async function given a :class:`trio.SocketStream`;
    each connection runs it in an actor of its own. ``args`` may hold
    :class:`Sibling` placeholders naming the listener's own siblings. The listener
    binds loopback unless ``address`` names another host (the caller's explicit
    choice). A Unix socket is made 0600; a stale socket file there is replaced, a live
    one is ``EADDRINUSE``. At ``max_connections`` open connections it stops accepting
    until one closes (the kernel's backlog holds the next clients). A socket that
    cannot be bound fails the listener's start with the OS error in its reason.
    ``intensity`` and ``period`` are those of the listener's own supervisor (its
    acceptor's restarts); connections are temporary and never restarted.
    """
    _check(id, handler, address, max_connections, backlog)
    config = _Config(address, _Slots(max_connections), backlog)
    connection = ChildSpec(
        "connection",
        _Connection,
        args=(handler, config.slots),
        restart=Restart.TEMPORARY,
        shutdown=connection_shutdown,
    )
    connections = Supervisor(Strategy.SIMPLE_ONE_FOR_ONE, intensity=0, children=[connection])
    acceptor = ChildSpec("acceptor", _Acceptor, args=(config, Sibling("connections"), INHERITED))
    inner = Supervisor(
        Strategy.REST_FOR_ONE,
        intensity=intensity,
        period=period,
        children=[ChildSpec("connections", connections), acceptor],
    )
    return ChildSpec(id, inner, args=tuple(args), restart=restart)


async def listener_address(listener: SupervisorHandle) -> Address:
    """The address a listener is bound to (its port when it was given port 0).

    ``listener`` is the listener's supervisor, as ``root.supervisor("path/to/it")``.
    """
    return _as_address(await listener.child("acceptor").call(_ADDRESS))


def listener_paths(spec: Supervisor, prefix: str = "") -> list[str]:
    """The paths of the listeners among the static children of the tree ``spec``."""
    found: list[str] = []
    if spec.strategy is Strategy.SIMPLE_ONE_FOR_ONE:
        return found  # its one spec is a template: nothing of it starts with the tree
    for child in spec.children:
        start = child.start
        if not isinstance(start, Supervisor):
            continue
        path = prefix + child.id
        if any(grandchild.start is _Acceptor for grandchild in start.children):
            found.append(path)
        else:
            found += listener_paths(start, path + "/")
    return found


def _as_address(value: object) -> Address:
    if isinstance(value, str):
        return value
    assert isinstance(value, tuple | list)
    return (str(value[0]), int(value[1]))


def _check(
    id: str, handler: object, address: object, max_connections: object, backlog: object
) -> None:
    if isinstance(handler, type) and issubclass(handler, Actor):
        raise InvalidSpec(
            id,
            "handler",
            f"{handler.__qualname__} is an actor class; a listener's handler is an async "
            "function handler(stream, *args), run in an actor of its own per connection "
            "(it can call other actors)",
        )
    if not callable(handler):
        raise InvalidSpec(id, "handler", f"must be an async function, not {handler!r}")
    if isinstance(address, str):
        if not address:
            raise InvalidSpec(id, "address", "a Unix socket's path must not be empty")
    elif not (
        isinstance(address, tuple)
        and len(address) == 2
        and isinstance(address[0], str)
        and isinstance(address[1], int)
        and not isinstance(address[1], bool)
        and 0 <= address[1] <= 65535
    ):
        raise InvalidSpec(
            id, "address", f"must be (host, port) or a Unix socket's path, not {address!r}"
        )
    if max_connections is not None and not (_positive_int(max_connections)):
        raise InvalidSpec(id, "max_connections", f"must be an int >= 1, not {max_connections!r}")
    if not _positive_int(backlog):
        raise InvalidSpec(id, "backlog", f"must be an int >= 1, not {backlog!r}")


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


# -- the acceptor -----------------------------------------------------------------


class _Acceptor(Actor):
    """Binds the socket in init; an owned task accepts and starts connection children.

    A connection child is started with :class:`StartSoon`, a message: the acceptor
    does not wait for the start (a failed one comes back as :class:`Failed` and
    crashes the acceptor, as a failed ``start_child`` would).
    """

    async def init(self, config: _Config, connections: SupervisorHandle, *args: Any) -> None:
        supervisor = connections.ref
        if supervisor is None:
            raise RuntimeError("the listener's connections supervisor is not running")
        self.supervisor = supervisor  # a sibling before us: if it ends, so do we
        self.args = args
        self.slots = config.slots
        #: Handoffs no connection has taken yet: the acceptor's end closes them.
        self.untaken: set[_Handoff] = set()
        sock = await _bind(config.target(), config.backlog)
        self.bound = _as_address(sock.getsockname())
        if not config.bound:
            config.bound.append(self.bound)
        listening = trio.SocketListener(sock)
        self.start_soon(self._serve, listening, config.address, config.slots, name=repr(self))

    async def _serve(self, listener: trio.SocketListener, address: Address, slots: _Slots) -> None:
        inode = os.stat(address).st_ino if isinstance(address, str) else None
        spare: _Handoff | None = None
        try:
            while True:
                await slots.acquire()
                handed = False
                try:
                    if spare is None or spare.state is not _WAITING:
                        spare = await self._spare()  # started ahead: a stream waits for no start
                    stream = await listener.accept()
                    handed = spare.give(stream)  # no checkpoint since the accept: nothing lost
                    spare = None
                    if not handed:  # that spare ended meanwhile: one more, for this stream
                        handed = await self._hand_over(stream)
                except OSError as exc:
                    if exc.errno not in _RESOURCE_ERRORS:
                        raise
                    logger.error("listener %s: accept failed, pausing: %s", self.bound, exc)
                    await trio.sleep(_PAUSE)
                finally:
                    if not handed:
                        slots.release()
        finally:
            listener.socket.close()  # synchronous: the task may be cancelled already
            if isinstance(address, str):
                _unlink_own(address, inode)
            given = [handoff.close() for handoff in list(self.untaken)]
            for left in given:
                if left is not None:
                    _close(left, slots)

    async def _spare(self) -> _Handoff:
        """A connection child started ahead of its stream (its start not waited for)."""
        handoff = _Handoff(self)
        message = StartSoon((handoff, *self.args), self.ref)
        try:
            self.supervisor.send_nowait(message)
        except MailboxFull:
            await self.supervisor.send(message)
        return handoff

    async def _hand_over(self, stream: trio.SocketStream) -> bool:
        """Give ``stream`` to a new connection child, which then holds its slot."""
        handed = False
        try:
            handed = (await self._spare()).give(stream)
        finally:
            if not handed:
                await trio.aclose_forcefully(stream)
        return handed

    async def handle_info(self, message: Any) -> InfoResult:
        if isinstance(message, Failed):
            raise message.error  # a connection child could not start
        if isinstance(message, Down):  # a child ended before it took its stream
            for handoff in list(self.untaken):
                if handoff.watch == message.monitor:
                    stream = handoff.close()
                    if stream is not None:
                        _close(stream, self.slots)
        return NoReply()

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        if request == _ADDRESS:
            return Reply(self.bound)
        raise ValueError(f"a listener's acceptor answers no {request!r}")


async def _bind(address: Address, backlog: int) -> trio.socket.SocketType:
    """A listening socket on ``address`` (OSError if it cannot be had)."""
    if isinstance(address, str):
        sock = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
        try:
            await _clear_stale(address)
            await sock.bind(address)
            os.chmod(address, 0o600)  # before listen(): no one can connect in between
            sock.listen(backlog)
        except BaseException:
            sock.close()
            raise
        return sock
    host, port = address
    family = stdlib_socket.AF_INET6 if ":" in host else stdlib_socket.AF_INET
    sock = trio.socket.socket(family, stdlib_socket.SOCK_STREAM)
    try:
        sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR, 1)
        await sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


async def _clear_stale(path: str) -> None:
    """Remove a Unix socket file nobody listens on; a live one is EADDRINUSE."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EADDRINUSE, f"{path} exists and is not a socket")
    probe = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    try:
        await probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)  # stale: its listener is gone
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"a listener is already on {path}")


def _unlink_own(path: str, inode: int | None) -> None:
    """Remove our socket file, unless another one has replaced it since."""
    try:
        if os.lstat(path).st_ino == inode:
            os.unlink(path)
    except FileNotFoundError:
        pass


# -- one connection ---------------------------------------------------------------


_WAITING: Final = "waiting"  # for a stream
_GIVEN: Final = "given"  # a stream is there; no connection has taken it yet
_TAKEN: Final = "taken"  # a connection serves it
_CLOSED: Final = "closed"  # no stream will be taken: the child or the acceptor ended


class _Go:
    """Sent to a connection child: its handoff has a stream, or was closed."""

    __slots__ = ()


_GO: Final = _Go()


class _Handoff:
    """Where the acceptor gives an accepted stream to a connection child started ahead.

    The child is started before its client arrives (as a pool keeps a warm worker), so
    an accepted stream reaches its handler in one task switch, not after a start. The
    acceptor may give a stream before the child has started. Until a child takes it,
    the handoff is in the acceptor's ``untaken`` set and the acceptor monitors the
    child: the acceptor's end, or the child's end without taking it, closes it.
    """

    __slots__ = ("acceptor", "reader", "state", "stream", "watch")

    def __init__(self, acceptor: _Acceptor) -> None:
        self.acceptor = acceptor
        self.reader: ActorRef | None = None
        self.watch: MonitorRef | None = None
        self.stream: trio.SocketStream | None = None
        self.state = _WAITING
        acceptor.untaken.add(self)

    def attach(self, reader: ActorRef) -> None:
        """The child ``reader`` waits on this handoff (told with _GO when to look)."""
        if self.state is _CLOSED:
            reader.send_nowait(_GO)
            return
        self.reader = reader
        # The acceptor watches the child until it takes its stream (same thread: the
        # monitor is made at once); a child gone without taking it leaves nothing open.
        self.watch = self.acceptor.monitor(reader)
        if self.state is _GIVEN:
            reader.send_nowait(_GO)

    def give(self, stream: trio.SocketStream) -> bool:
        """Hand ``stream`` over; False if the child has ended (the caller keeps it)."""
        if self.state is not _WAITING:
            return False
        reader = self.reader
        if reader is not None and not self.acceptor.runtime.is_alive(reader):
            return False  # it ended, or is stopping: its Down is on its way to the acceptor
        self.state = _GIVEN
        self.stream = stream
        if reader is not None:
            reader.send_nowait(_GO)
        return True

    def take(self) -> trio.SocketStream | None:
        """The stream, now the taker's (None: there is none, and none will come)."""
        self._detach()
        if self.state is not _GIVEN:
            self.state = _CLOSED
            return None
        self.state = _TAKEN
        return self.stream

    def close(self) -> trio.SocketStream | None:
        """No child will take this handoff: a stream given to it, for the acceptor to close."""
        self._detach()
        stream = self.stream if self.state is _GIVEN else None
        self.state = _CLOSED
        if self.reader is not None:
            self.reader.send_nowait(_GO)
        return stream

    def _detach(self) -> None:
        self.acceptor.untaken.discard(self)
        if self.watch is not None:
            self.acceptor.demonitor(self.watch)
            self.watch = None


class _Connection(Actor):
    """Waits for its stream, then serves it with the handler, in its own loop.

    The stream closes, and its slot frees, when the handler ends, however it ends. A
    child still waiting when its acceptor ends stops: no stream will come.
    """

    async def init(self, handler: Handler, slots: _Slots, handoff: _Handoff, *args: Any) -> None:
        self.handler = handler
        self.slots = slots
        self.handoff = handoff
        self.args = args
        handoff.attach(self.ref)

    async def handle_info(self, message: Any) -> InfoResult:
        if message is not _GO:
            return NoReply()
        stream = self.handoff.take()
        if stream is not None:
            try:
                await self.handler(stream, *self.args)
            finally:
                _close(stream, self.slots)
        return Stop(NORMAL)

    async def terminate(self, reason: ExitReason) -> None:
        stream = self.handoff.take()  # stopped between its _GO and the handling of it
        if stream is not None:
            _close(stream, self.slots)


def _close(stream: trio.SocketStream, slots: _Slots) -> None:
    """Free the stream's slot and close it (synchronously: what ``aclose`` does, without
    its checkpoint, so it cannot be interrupted)."""
    slots.release()
    stream.socket.close()
