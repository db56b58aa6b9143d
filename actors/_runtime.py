"""The runtime: the facade over everything of one trio run's actors (no module globals).

>>> import trio
>>> from actors import Actor, Reply, open_runtime
>>> class Echo(Actor):
...     async def handle_call(self, request: object, caller: object) -> Reply:
...         return Reply(request)
>>> async def main() -> None:
...     async with open_runtime() as runtime:
...         echo = await runtime.spawn(Echo)
...         print(await echo.call("hi"))
>>> trio.run(main)
hi

A :class:`Runtime` is made of parts that each own one thing: the kernel (actors, names,
links, monitors, exits), the behaviour loop of local actors, the call deadlines, and, once
an actor is placed in a process, the root's worker set with its router: this facade.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import trio

from spawn import Channel, Codec, SocketStream

from . import _calls, _owned
from ._behaviour import Actor
from ._calls import Caller, Deadlines
from ._cell import Cell, LocalCell
from ._exceptions import MailboxFull, NoSuchActor, NotRunning
from ._kernel import Kernel
from ._kernel_facade import KernelFacade
from ._link import NodeLink
from ._loop import LocalSpawner
from ._mailbox import CAST, INFO, Closed, Envelope, WouldBlock, check_mailbox_size
from ._persisted import STATE_LIMITS, open_persistence
from ._persistent import Durability, StateStore, is_persistent
from ._placement import Placement, WorkerOptions, check_placement, placed_options
from ._reasons import SHUTDOWN, ExitReason
from ._records import ExitWatch, RuntimeStatistics
from ._ref import ActorRef, NamedRef
from ._timers import Timer, start_timer
from ._wire import LentErrors, actor_registry
from ._worker_node import WorkerNode
from ._workers import WorkerSet

if TYPE_CHECKING:
    from ._groups import Groups

DEFAULT_MAILBOX_SIZE: Final = 1024
DEFAULT_SHUTDOWN_TIMEOUT: Final = 5.0
#: How long a worker may take to start and answer its handshake.
WORKER_START_TIMEOUT: Final = 30.0


class Runtime(KernelFacade):
    """Spawns actors and carries their messages, links, monitors, names and groups.

    Made by :func:`open_runtime`; all of its state lives in it, so two runtimes
    can share one process.
    """

    node: str  #: this runtime's node id, as its refs carry it
    groups: Groups  #: its process groups (``members(group)``, ``which_groups()``)

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        encode_messages: bool,
        mailbox_size: int,
        max_workers: int = 64,
        worker_options: WorkerOptions | None = None,
        store: StateStore | None = None,
    ) -> None:
        self.node = secrets.token_hex(3)
        self._lent = LentErrors(self.node)  # store errors sent to workers, to come back as such
        self.codec = Codec(registry=actor_registry(self, self._lent))
        self._state_codec = Codec(limits=STATE_LIMITS)
        self._kernel = kernel = Kernel(self.node, self)
        self.groups = kernel.groups
        self._nursery = nursery
        codec = self.codec
        self._prepare = (lambda m: codec.decode(codec.encode(m))) if encode_messages else None
        self._mailbox_size = check_mailbox_size(mailbox_size)
        defaults = placed_options("process", worker_options)
        assert defaults is not None
        defaults = defaults.over(WorkerOptions(start_timeout=WORKER_START_TIMEOUT))
        args = (kernel, nursery, self.codec, store, self._lent, max_workers, defaults)
        self._new_workers = partial(WorkerSet, *args)  # the root's worker set, on first use
        self._open = True
        self._deadlines = Deadlines()
        self._deadline_task: trio.lowlevel.Task | None = None
        self._system = trio.CancelScope()
        self._local = LocalSpawner(kernel, nursery, self, self.reply)
        self._workers: WorkerSet | None = None  # the root's actor workers, once used
        self._worker_node: WorkerNode | None = None  # in a worker: its link to the root
        self._store = store
        self._keys: dict[str, Cell] = {}  # the persistent actors alive, by state key
        self._call_observer: Callable[[float], None] | None = None  # observe_calls

    @property
    def store(self) -> StateStore | None:
        """The store of its persistent actors (``open_runtime(store=...)``), if any."""
        return self._store

    # -- starting -------------------------------------------------------------

    async def spawn(
        self,
        cls: type[Actor],
        *args: Any,
        name: str | None = None,
        mailbox_size: int | None = None,
        placement: Placement = "task",
        worker_options: WorkerOptions | None = None,
        key: str | None = None,
        durability: Durability | None = None,
        _link: Cell | None = None,
    ) -> ActorRef:
        """Start ``cls`` with ``init(*args)``; return its ref once ``init`` returned.

        A :class:`Persistent` actor needs the runtime's store and a ``key`` (unique among
        the live actors); its stored state is restored and given to ``init`` first (in
        its worker, for a process actor: the root keeps the store), and ``durability``
        overrides the class's mode. ``placement``: ``"task"`` (here), ``"process"`` (a
        worker process of its own, from a warm pool) or ``SharedWorker(name, options=...)``
        (one worker for every actor placed there); ``worker_options`` (with ``"process"``)
        add limits and environment to the runtime's. An actor in a process needs an
        importable class and arguments the codec can carry. Raises :class:`InitError`
        (init raised, for a process actor with the cause boxed, or its worker did not
        start within its ``start_timeout``), :class:`StartIgnored` (init declined),
        :class:`NameTaken`, :class:`~spawn.NotByReference`, :class:`~spawn.EncodeError`,
        :class:`NoStateStore` or :class:`NotRunning`.
        """
        if not (isinstance(cls, type) and issubclass(cls, Actor)):
            raise TypeError(f"spawn takes a subclass of actors.Actor, not {cls!r}")
        if not self._open:
            raise NotRunning("the runtime is closed")
        bound = self._mailbox_size if mailbox_size is None else check_mailbox_size(mailbox_size)
        persist = None
        if key is not None or durability is not None or is_persistent(cls):
            persist = await open_persistence(
                self._store, self._keys, cls, key, durability, self._state_codec
            )
        options = placed_options(check_placement(placement), worker_options)
        if options is None:
            ref = await self._local.spawn(
                cls, args, name=name, bound=bound, link=_link, persist=persist
            )
            cell = self._kernel.existing(ref)
            if persist is not None and cell is not None:
                self._keys[persist.key] = cell
            return ref
        if self._worker_node is not None:
            raise ValueError("an actor in a worker spawns its own actors as tasks")
        if name is not None:
            self._kernel.check_name(name)
        if self._workers is None:
            self._workers = self._new_workers()
        cell = await self._workers.spawn(
            cls,
            args,
            bound=bound,
            placement=placement,
            options=options,
            link=_link,
            persist=persist,
        )
        if cell.exited:  # it died at once (its exit came with its answer): nothing to hold
            return cell.ref
        if persist is not None:
            self._keys[persist.key] = cell
        if _link is not None:
            self._kernel.link(cell, _link, tell=False)  # the worker linked its side at start
        if name is not None:
            self._kernel.register(name, cell)
        return cell.ref

    # -- messages -------------------------------------------------------------

    async def call(
        self, address: ActorRef | NamedRef, request: object, *, timeout: float | None
    ) -> Any:
        """See :meth:`ActorRef.call`."""
        if self._prepare is not None:
            request = self._prepare(request)
        call = _calls.call(self._kernel.lookup(address), address, request, timeout, self._deadlines)
        observer = self._call_observer  # observe_calls: None unless metrics are on
        return await (call if observer is None else _calls.timed(call, observer))

    def reply(self, caller: Caller, value: object) -> None:
        """See :meth:`Actor.reply`."""
        _calls.reply(caller, value, self._prepare)

    async def cast(self, address: ActorRef | NamedRef, message: object) -> None:
        if self._prepare is not None:  # self._encoded, inline: every cast's path
            message = self._prepare(message)
        await self._put(address, (CAST, message, None, None))

    def cast_nowait(self, address: ActorRef | NamedRef, message: object) -> None:
        self._put_nowait(address, (CAST, self._encoded(message), None, None))

    async def send(self, address: ActorRef | NamedRef, message: object) -> None:
        await self._put(address, (INFO, self._encoded(message), None, None))

    def send_nowait(self, address: ActorRef | NamedRef, message: object) -> None:
        self._put_nowait(address, (INFO, self._encoded(message), None, None))

    def _encoded(self, message: object) -> object:
        return message if self._prepare is None else self._prepare(message)

    async def _put(self, address: ActorRef | NamedRef, envelope: Envelope) -> None:
        cell = self._kernel.lookup(address)
        if cell is None:
            self._kernel.dead_letter()
            await trio.lowlevel.checkpoint()
            return
        try:
            await cell.mailbox.put(envelope)
        except Closed:
            pass  # counted by the kernel among the mailbox's leftovers

    def _put_nowait(self, address: ActorRef | NamedRef, envelope: Envelope) -> None:
        cell = self._kernel.lookup(address)
        if cell is None:
            self._kernel.dead_letter()
            return
        try:
            cell.mailbox.put_nowait(envelope)
        except WouldBlock:
            raise MailboxFull(
                f"the mailbox of {cell.ref} is full ({cell.mailbox.bound} messages)"
            ) from None
        except Closed:  # pragma: no cover - a closed mailbox belongs to a removed cell
            self._kernel.dead_letter()

    def send_after(self, cell: Cell, seconds: float, message: object) -> Timer:
        """See :meth:`Actor.send_after`."""
        assert isinstance(cell, LocalCell), "only a local actor has timers"
        message = self._encoded(message)
        return start_timer(self._nursery, cell.timers, cell.mailbox, seconds, message)

    def start_soon(
        self, cell: Cell, fn: Callable[..., Awaitable[object]], *args: object, name: object = None
    ) -> None:
        """See :meth:`Actor.start_soon`."""
        assert isinstance(cell, LocalCell), "only a local actor owns tasks"
        _owned.start_soon(self._nursery, cell, fn, args, name)

    async def start(
        self, cell: Cell, fn: Callable[..., Awaitable[object]], *args: object, name: object = None
    ) -> Any:
        """See :meth:`Actor.start`."""
        assert isinstance(cell, LocalCell), "only a local actor owns tasks"
        return await _owned.start(self._nursery, cell, fn, args, name)

    # -- names (links, monitors, groups and registration: KernelFacade) --------

    def named(self, name: str) -> NamedRef:
        """An address that resolves ``name`` at every send."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a name is a non-empty str, not {name!r}")
        return NamedRef(name, self)

    # -- stopping and watching --------------------------------------------------

    async def stop(
        self,
        ref: ActorRef,
        reason: ExitReason = SHUTDOWN,
        *,
        timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> ExitReason:
        """Ask ``ref`` to stop with ``reason`` and wait until it has; kill it at ``timeout``.

        Its current handler is interrupted and ``terminate(reason)`` runs. If it
        is not dead within ``timeout`` seconds (``None``: wait as long as it
        takes) it is killed. Returns the reason it died of; raises
        :class:`NoSuchActor` if it was already dead.
        """
        cell = self._kernel.lookup(ref)
        if cell is None:
            raise NoSuchActor(f"{ref} is not alive")
        return await cell.stop(reason, timeout)

    def kill(self, ref: ActorRef) -> bool:
        """Kill ``ref`` now (no ``terminate``); returns False if it was already dead.

        Its links and monitors see reason :class:`~actors.Killed`. Wait for the
        death with :meth:`wait`.
        """
        cell = self._kernel.lookup(ref)
        if cell is None:
            return False
        cell.kill()
        return True

    async def wait(self, ref: ActorRef) -> ExitReason:
        """Wait until ``ref`` has exited; its reason, or :class:`~actors.NoProc` if already gone.

        To learn the reason of an exit that may happen before you wait, take
        a :meth:`watch` first.
        """
        return await self.watch(ref).wait()

    def watch(self, ref: ActorRef) -> ExitWatch:
        """Start watching ``ref`` from outside any actor (a monitor for plain code).

        Take the watch before the exit can happen, and no exit is missed (see
        :class:`ExitWatch`).
        """
        return ExitWatch(self._kernel.lookup(ref))

    def is_alive(self, ref: ActorRef) -> bool:
        """Whether ``ref`` is alive and not exiting, as far as this runtime knows.

        As Erlang's ``is_process_alive``: an actor that is stopping (in its
        ``terminate``) is no longer alive. For an actor in another process: whether
        this runtime holds a live proxy of it (an actor it spawned there, or one it
        has sent to).
        """
        cell = self._kernel.existing(ref)
        return cell is not None and cell.taking_calls() and not cell.exited

    # -- introspection --------------------------------------------------------

    def statistics(self) -> RuntimeStatistics:
        actors, spawned, exited, dead_letters, names = self._kernel.counts()
        workers, spares = (0, 0) if self._workers is None else self._workers.statistics()
        deadline_task = self._deadline_task
        return RuntimeStatistics(
            actors=actors,
            spawned=spawned,
            exited=exited,
            dead_letters=dead_letters,
            names=names,
            tasks=sum(1 for task in self._nursery.child_tasks if task is not deadline_task),
            workers=workers,
            spare_workers=spares,
        )

    def pid(self, ref: ActorRef) -> int | None:
        """The pid of the worker process that runs ``ref``, placed there from this runtime.

        ``None`` for an actor that runs as a task, and for one no longer alive.
        """
        cell = self._kernel.existing(ref)
        return None if cell is None or self._workers is None else self._workers.pid(cell)

    def mailbox_depth(self, ref: ActorRef) -> int:
        """Messages waiting for ``ref`` (0 if it is dead); see ``depth`` of its mailbox."""
        cell = self._kernel.lookup(ref)
        return 0 if cell is None else cell.mailbox.depth()

    def observe_calls(self, observer: Callable[[float], None] | None) -> None:
        """Tell ``observer(seconds)`` each call's duration here; ``None`` (default): time none."""
        self._call_observer = observer

    # -- closing --------------------------------------------------------------

    async def aclose(
        self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT, *, kill: bool = False
    ) -> None:
        """Stop every actor (newest first, all within ``timeout``), then refuse new ones;
        with ``kill=True``, kill every actor at once (no ``terminate`` runs)."""
        self._open = False
        cells: list[Cell] = list(self._kernel.local_cells())
        workers = self._workers
        if workers is not None:
            cells += workers.actors()  # actors this runtime placed in workers
        if not kill:
            for cell in cells:
                cell.request_stop(SHUTDOWN)
            with trio.move_on_after(timeout):
                for cell in cells:
                    await cell.done.wait()
        for cell in cells:
            if not cell.exited:
                cell.kill()
        if workers is not None:
            with trio.move_on_after(timeout):
                for cell in cells:
                    await cell.done.wait()
            workers.kill_all()  # whatever did not answer dies with its worker
        with trio.move_on_after(timeout):  # a kill lands at the actor's next checkpoint
            for cell in cells:
                await cell.done.wait()
        if workers is not None:
            workers.close()
        if self._worker_node is not None:
            self._worker_node.close()
        self._system.cancel()

    async def _serve_deadlines(self) -> None:
        self._deadline_task = trio.lowlevel.current_task()
        with self._system:
            await self._deadlines.serve()


@asynccontextmanager
async def open_runtime(
    *,
    encode_messages: bool = False,
    mailbox_size: int = DEFAULT_MAILBOX_SIZE,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    max_workers: int = 64,
    worker_options: WorkerOptions | None = None,
    store: StateStore | None = None,
) -> AsyncIterator[Runtime]:
    """Open a runtime for the actors of this trio run.

    ``store`` is where :class:`~actors.Persistent` actors spawned here keep their
    state (a ``supervisor`` store: ``MemoryStore()``, ``open_sqlite_store(dir)``);
    the runtime does not close it.

    With ``encode_messages=True`` every message is encoded and decoded with the codec of the
    process layer, as if it crossed a process boundary: a program can be tested for process
    placement before it is split. On exit every remaining actor is stopped (newest first) within
    ``shutdown_timeout`` seconds, then killed. Actors placed in worker processes run in at most
    ``max_workers`` workers (plus a warm spare per set of worker options), started on first use
    with ``worker_options`` (:class:`WorkerOptions`: limits, environment and start timeout) unless
    an actor adds its own. An exception from the body comes out as itself.
    """
    caught: BaseException | None = None
    async with trio.open_nursery() as nursery:
        runtime = Runtime(
            nursery,
            encode_messages=encode_messages,
            mailbox_size=mailbox_size,
            max_workers=max_workers,
            worker_options=worker_options,
            store=store,
        )
        nursery.start_soon(runtime._serve_deadlines)
        try:
            yield runtime
        except BaseException as exc:
            # Actor tasks never raise out of the nursery (an error is an exit reason),
            # so the body's exception is the only one: raise it as itself, not in a group.
            caught = exc
        finally:
            with trio.CancelScope(shield=True):
                await runtime.aclose(shutdown_timeout)
    if caught is not None:
        raise caught


async def serve_worker(fd: int, root: str) -> None:
    """In a worker process: a runtime linked to the root node ``root`` over ``fd``.

    It serves until the channel reaches end of file (the root stopped it, or
    died), then stops its actors in order.
    """
    stream = SocketStream(socket.socket(fileno=fd))
    async with open_runtime() as runtime:
        runtime._local.log_crashes = False  # the root logs them, as the proxies exit
        link = NodeLink(Channel(stream, runtime.codec), root)
        runtime._worker_node = node = WorkerNode(
            runtime._kernel, runtime.codec, runtime._local, link, runtime._state_codec
        )
        await node.serve()
