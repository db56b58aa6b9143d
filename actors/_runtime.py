"""The runtime: everything of one trio run's actors (no module globals).

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
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import outcome
import trio

from spawn import Codec
from spawn._fnworker import resolve

from ._behaviour import Actor, Caller, Ignore, NoReply, Reply, Stop, Timer
from ._cell import Cell
from ._deadlines import Deadlines
from ._exceptions import (
    ActorExited,
    CallTimeout,
    CallToSelf,
    InitError,
    InvalidReturn,
    MailboxFull,
    NameTaken,
    NoSuchActor,
    NotRunning,
    StartIgnored,
)
from ._groups import Groups
from ._mailbox import CALL, CAST, INFO, SYSTEM, Closed, Envelope, Mailbox, WouldBlock
from ._messages import Down, Exit
from ._node import (
    EXIT,
    JOIN,
    KILL,
    LEAVE,
    LINK,
    SPAWNED,
    STOP,
    UNLINK,
    CreditSlot,
    RemoteCaller,
    Router,
)
from ._placement import Placement, WorkerSet, check_placement
from ._reasons import KILLED, NOPROC, SHUTDOWN, Crash, ExitReason, NoProc, Normal
from ._ref import ActorRef, MonitorRef, NamedRef
from ._wire import actor_registry

logger = logging.getLogger("actors")

DEFAULT_MAILBOX_SIZE: Final = 1024
DEFAULT_SHUTDOWN_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class RuntimeStatistics:
    """A snapshot of :meth:`Runtime.statistics`."""

    actors: int  #: alive now
    spawned: int  #: started since the runtime opened (init returned)
    exited: int  #: exited since the runtime opened
    dead_letters: int  #: messages dropped because their target was dead
    names: int  #: registered names
    tasks: int  #: trio tasks the runtime runs (actors and pending timers)


class ExitWatch:
    """Made by :meth:`Runtime.watch`: the exit of one actor, awaited from plain code."""

    __slots__ = ("_cell",)

    def __init__(self, cell: Cell | None) -> None:
        self._cell = cell

    async def wait(self) -> ExitReason:
        """The watched actor's exit reason (:class:`~actors.NoProc` if it was already dead)."""
        cell = self._cell
        if cell is None:
            await trio.lowlevel.checkpoint()
            return NOPROC
        await cell.done.wait()
        return cell.reason


class Runtime:
    """Spawns actors and carries their messages, links, monitors, names and groups.

    Made by :func:`open_runtime`; all of its state lives here, so two runtimes
    can share one process.
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        encode_messages: bool,
        mailbox_size: int,
        max_workers: int = 64,
    ) -> None:
        self.node = secrets.token_hex(3)
        self.groups = Groups()
        self.codec = Codec(registry=actor_registry(self))
        self._nursery = nursery
        self._encode = encode_messages
        self._mailbox_size = _check_mailbox_size(mailbox_size)
        self._max_workers = max_workers
        self._cells: dict[int, Cell] = {}
        self._names: dict[str, Cell] = {}
        self._ids = itertools.count(1)
        self._open = True
        self._spawned = 0
        self._exited = 0
        self._dead_letters = 0
        self._deadlines = Deadlines(_timed_out)
        self._system = trio.CancelScope()
        self._deadline_task: trio.lowlevel.Task | None = None
        self._router: Router | None = None
        self._workers: WorkerSet | None = None  # the root's actor workers, once used

    # -- starting -------------------------------------------------------------

    async def spawn(
        self,
        cls: type[Actor],
        *args: Any,
        name: str | None = None,
        mailbox_size: int | None = None,
        placement: Placement = "task",
        _link: Cell | None = None,
    ) -> ActorRef:
        """Start ``cls`` with ``init(*args)``; return its ref once ``init`` returned.

        ``placement`` is ``"task"`` (here), ``"process"`` (a worker process of its
        own, taken from a warm pool) or ``SharedWorker(name)`` (one worker process
        for every actor placed there). An actor in a process needs an importable
        class and arguments the codec can carry. Raises :class:`InitError` (init
        raised; for a process actor the cause is boxed), :class:`StartIgnored`
        (init declined), :class:`NameTaken` (``name`` is held),
        :class:`~spawn.EncodeError` or :class:`NotRunning`.
        """
        if not (isinstance(cls, type) and issubclass(cls, Actor)):
            raise TypeError(f"spawn takes a subclass of actors.Actor, not {cls!r}")
        if not self._open:
            raise NotRunning("the runtime is closed")
        bound = self._mailbox_size if mailbox_size is None else _check_mailbox_size(mailbox_size)
        if check_placement(placement) != "task":
            return await self._spawn_remote(cls, args, name, bound, placement, _link)
        actor = cls()
        ref = ActorRef(self.node, next(self._ids), self)
        cell = Cell(self, ref, actor, Mailbox(bound))
        actor._cell = cell
        if name is not None:
            self._register(name, cell)
        self._cells[ref.id] = cell
        await self._nursery.start(self._actor_main, cell, args, _link)
        return ref

    async def _spawn_remote(
        self,
        cls: type[Actor],
        args: tuple[Any, ...],
        name: str | None,
        bound: int,
        placement: Placement,
        link: Cell | None,
    ) -> ActorRef:
        if self._workers is None:
            if self._router is not None and not self._router.hub:
                raise ValueError("an actor in a worker spawns its own actors as tasks")
            self._workers = WorkerSet(self, max_workers=self._max_workers, start_timeout=30.0)
        if name is not None and name in self._names:
            raise NameTaken(name, self._names[name].ref)
        self.codec.encode(list(args))  # EncodeError here, before a worker is taken
        cell = await self._workers.spawn(cls, args, bound=bound, placement=placement, link=link)
        if link is not None:
            self._link_cells(cell, link, tell=False)  # the worker linked its side at start
        if name is not None:
            self._register(name, cell)
        return cell.ref

    def _ensure_router(self, *, hub: bool) -> Router:
        if self._router is None:
            self._router = Router(self, hub=hub)
        return self._router

    async def _spawn_for(self, source: str, frame: list[Any]) -> None:
        """In a worker: start an actor the root asked for, and answer."""
        _, _, _, request, module, qualname, args, bound, link_ref = frame
        router = self._ensure_router(hub=False)
        ref: ActorRef | None = None
        box: object = None
        ignored = False
        try:
            cls = resolve(module, qualname)
            if not (isinstance(cls, type) and issubclass(cls, Actor)):
                raise TypeError(f"{module}.{qualname} is not an actors.Actor")
            link = None if link_ref is None else router.proxy(link_ref)
            ref = await self.spawn(cls, *args, mailbox_size=bound, _link=link)
            cell = self._cells.get(ref.id)
            if cell is not None:
                cell.subscribers.add(source)  # before SPAWNED: no exit can be missed
        except StartIgnored:
            ignored = True
        except Exception as exc:
            cause = exc.__cause__ if isinstance(exc, InitError) and exc.__cause__ else exc
            text = "".join(traceback.format_exception(cause))
            box = [f"{type(cause).__module__}.{type(cause).__qualname__}", str(cause), text]
        router.post(source, [SPAWNED, source, "", request, ref, box, ignored, bound])

    def _spawned_reply(self, frame: list[Any]) -> None:
        if self._workers is not None:
            self._workers.spawned(frame)

    def _on_node_down(self, node: str) -> None:
        if self._workers is not None:
            self._workers.node_down(node)

    def _resolve_caller(self, caller: Caller, result: outcome.Outcome[Any]) -> None:
        _resolve(caller, result)

    async def _actor_main(
        self,
        cell: Cell,
        args: tuple[Any, ...],
        link: Cell | None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        cell.task = trio.lowlevel.current_task()
        try:
            # init runs in the spawner's stead: a cancelled spawner interrupts it.
            with trio.CancelScope() as cell.life:
                await self._init(cell, args)
            if cell.life.cancelled_caught:
                raise InitError(f"{cell.ref} was killed before its init returned")
            if link is not None:
                self._link_cells(cell, link)
            cell.started = True
            self._spawned += 1
            task_status.started()
            if trio.lowlevel.current_task().parent_nursery is not self._nursery:
                # The spawner was cancelled while this actor started, so trio left it
                # in the spawner's nursery, which waits for it: it must not serve.
                cell.reason = KILLED
                return
            # From here the runtime owns the actor's end: a cancellation from outside
            # does not reach it; stop() and aclose() ask, wait, then kill (cell.life).
            with trio.CancelScope(shield=True), trio.CancelScope() as cell.life:
                cell.reason = await self._serve(cell)
        finally:
            self._exit(cell)

    async def _init(self, cell: Cell, args: tuple[Any, ...]) -> None:
        actor = _actor(cell)
        qualname = type(actor).__qualname__
        try:
            result = await actor.init(*args)
        except Exception as exc:
            raise InitError(f"{qualname}.init failed: {exc!r}") from exc
        if isinstance(result, Ignore):
            raise StartIgnored(f"{qualname}.init returned Ignore()")
        if result is not None:
            raise InitError(f"{qualname}.init returned {result!r}; expected None or Ignore()")

    # -- the actor's life -----------------------------------------------------

    async def _serve(self, cell: Cell) -> ExitReason:
        reason: ExitReason
        try:
            with trio.CancelScope() as cell.loop:
                if cell.stop_reason is None:
                    await self._loop(cell)
            assert cell.stop_reason is not None
            reason = cell.stop_reason
        except Exception as exc:
            reason = Crash(exc)
        cell.stop_reason = reason
        try:
            await _actor(cell).terminate(reason)
        except Exception as exc:
            reason = Crash(exc)
        return reason

    async def _loop(self, cell: Cell) -> None:
        """Handle messages until a handler returns :class:`Stop`."""
        actor = _actor(cell)
        get = cell.mailbox.get
        while True:
            kind, payload, extra = await get()
            if kind == CALL:
                assert isinstance(extra, Caller)
                if type(extra) is RemoteCaller:
                    extra._credit.release()
                result: object = await actor.handle_call(payload, extra)
                cls = type(result)
                if cls is Reply:
                    self.reply(extra, result.value)  # type: ignore[attr-defined]
                    continue
                if cls is NoReply:
                    continue
                if cls is Stop:
                    assert isinstance(result, Stop)
                    if result.has_reply:
                        self.reply(extra, result.reply)
                    cell.stop_reason = result.reason
                    return
                raise _invalid(actor, "handle_call", result, "Reply(...), NoReply() or Stop(...)")
            if type(extra) is CreditSlot:
                extra.release()
            if kind == CAST:
                result = await actor.handle_cast(payload)
                where = "handle_cast"
            else:
                result = await actor.handle_info(payload)
                where = "handle_info"
            if type(result) is NoReply:
                continue
            if type(result) is Stop:
                assert isinstance(result, Stop)
                cell.stop_reason = result.reason
                return
            raise _invalid(actor, where, result, "NoReply() or Stop(...)")

    def _exit(self, cell: Cell) -> None:
        """Everything that happens, at once, when a local actor has exited."""
        reason = cell.reason
        ref = cell.ref
        del self._cells[ref.id]
        for _kind, _payload, extra in cell.mailbox.close():
            if _kind != SYSTEM and not isinstance(extra, Caller):
                self._dead_letters += 1
        for timer in cell.timers:
            timer.cancel()
        if cell.started:
            self._exited += 1
            if self._router is not None:
                self._router.exited(cell, reason)
            if isinstance(reason, Crash):
                logger.error(
                    "%r (%s) crashed: %s",
                    ref,
                    type(cell.actor).__qualname__,
                    reason,
                    exc_info=reason.exc,
                    extra={"actor": repr(ref), "event": "crashed"},
                )
        self._notify_exit(cell, reason, fire_links=cell.started)

    def _exit_remote(self, cell: Cell, reason: ExitReason, *, fire_links: bool) -> None:
        """A proxy's actor exited: its node said so, or the node is gone.

        Links fire, and pending calls fail, here only when the node is gone;
        otherwise the node that hosted the actor sends each linked actor its exit
        signal and answers each call that reached it (with the exit reason if the
        call was in the mailbox, else no such actor) itself.
        """
        if cell.exited:
            return
        cell.reason = reason
        cell.mailbox.close()
        self._notify_exit(cell, reason, fire_links=fire_links, fail_calls=fire_links)
        if self._workers is not None:
            self._workers.actor_exited(cell)

    def _notify_exit(
        self, cell: Cell, reason: ExitReason, *, fire_links: bool, fail_calls: bool = True
    ) -> None:
        """What an exit means to everyone else: names, calls, links, monitors, groups."""
        cell.exited = True
        ref = cell.ref
        if cell.name is not None and self._names.get(cell.name) is cell:
            del self._names[cell.name]
            if self._router is not None:
                self._router.name_changed(cell.name, None)
        if cell.pending and fail_calls:
            exc: Exception
            if isinstance(reason, NoProc):  # it was dead before the call reached it
                exc = NoSuchActor(f"{ref} is not alive")
            else:
                exc = ActorExited(ref, reason)
            error = outcome.Error(exc)
            for caller in list(cell.pending):
                _resolve(caller, error)
        if cell.started:
            for other in cell.links:
                other.links.discard(cell)
                if fire_links:
                    self._exit_signal(other, ref, reason)
            for monitor, watcher in cell.monitors.items():
                del watcher.watching[monitor]
                watcher.mailbox.put_system((SYSTEM, Down(monitor, ref, reason), None))
            for monitor, target in cell.watching.items():
                del target.monitors[monitor]
            self.groups.drop(cell)
        cell.links.clear()
        cell.monitors.clear()
        cell.watching.clear()
        cell.done.set()

    def _exit_signal(self, target: Cell, sender: ActorRef, reason: ExitReason) -> None:
        if target.exited:
            return
        if target.remote:
            assert self._router is not None
            self._router.forward(target, EXIT, sender, reason)
            return
        assert target.actor is not None
        if target.actor.trap_exits:
            target.mailbox.put_system((SYSTEM, Exit(sender, reason), None))
        elif not isinstance(reason, Normal):
            self._request_stop(target, reason)

    def _request_stop(self, cell: Cell, reason: ExitReason) -> None:
        if cell.stop_reason is not None or cell.exited:
            return
        cell.stop_reason = reason
        if cell.remote:
            assert self._router is not None
            self._router.forward(cell, STOP, reason)
        elif cell.loop is not None:
            cell.loop.cancel()

    # -- stopping -------------------------------------------------------------

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
        cell = self._live_cell(ref)
        if cell is None:
            raise NoSuchActor(f"{ref} is not alive")
        if cell.remote and self._workers is not None:
            await self._workers.stop(cell, reason, timeout)
            return cell.reason
        self._request_stop(cell, reason)
        with trio.move_on_after(math.inf if timeout is None else timeout):
            await cell.done.wait()
        if not cell.exited:
            self._kill_cell(cell)
            await cell.done.wait()
        return cell.reason

    def kill(self, ref: ActorRef) -> bool:
        """Kill ``ref`` now (no ``terminate``); returns False if it was already dead.

        Its links and monitors see reason :class:`~actors.Killed`. Wait for the
        death with :meth:`wait`.
        """
        cell = self._live_cell(ref)
        if cell is None:
            return False
        self._kill_cell(cell)
        return True

    def _kill_cell(self, cell: Cell) -> None:
        if cell.remote:
            assert self._router is not None
            if not cell.exited:
                self._router.forward(cell, KILL)
        elif cell.life is not None:
            cell.life.cancel()

    async def wait(self, ref: ActorRef) -> ExitReason:
        """Wait until ``ref`` has exited; its reason, or :class:`~actors.NoProc` if already gone.

        To learn the reason of an exit that may happen before you wait, take
        a :meth:`watch` first.
        """
        return await self.watch(ref).wait()

    def watch(self, ref: ActorRef) -> ExitWatch:
        """Start watching ``ref`` from outside any actor (a monitor for plain code).

        Take the watch before the exit can happen, and no exit is missed:

        >>> import trio
        >>> from actors import Actor, Shutdown, Stop, open_runtime
        >>> class Quits(Actor):
        ...     async def handle_cast(self, message: object) -> Stop:
        ...         return Stop(Shutdown(message))
        >>> async def main() -> None:
        ...     async with open_runtime() as runtime:
        ...         ref = await runtime.spawn(Quits)
        ...         watch = runtime.watch(ref)
        ...         await ref.cast("asked to")
        ...         print(await watch.wait())
        ...         print(await runtime.watch(ref).wait())  # taken too late
        >>> trio.run(main)
        shutdown ('asked to')
        noproc
        """
        return ExitWatch(self._live_cell(ref))

    def is_alive(self, ref: ActorRef) -> bool:
        """Whether ``ref`` is alive and not exiting, as far as this runtime knows.

        As Erlang's ``is_process_alive``: an actor that is stopping (in its
        ``terminate``) is no longer alive. For an actor in another process: whether
        this runtime holds a live proxy of it (an actor it spawned there, or one it
        has sent to).
        """
        if ref.node == self.node:
            cell = self._cells.get(ref.id)
            return cell is not None and cell.stop_reason is None
        router = self._router
        cell = None if router is None else router.proxies.get((ref.node, ref.id))
        return cell is not None and not cell.exited

    # -- messages -------------------------------------------------------------

    def _live_cell(self, address: ActorRef | NamedRef) -> Cell | None:
        if type(address) is ActorRef:
            if address.node == self.node:
                return self._cells.get(address.id)
            router = self._router
            return None if router is None else router.proxy(address)
        if type(address) is NamedRef:
            return self._names.get(address.name)
        raise TypeError(f"not an actor address: {address!r}")

    def _prepare(self, message: object) -> object:
        if self._encode:
            return self.codec.decode(self.codec.encode(message))
        return message

    async def call(
        self, address: ActorRef | NamedRef, request: object, *, timeout: float | None
    ) -> Any:
        """See :meth:`ActorRef.call`."""
        cell = self._live_cell(address)
        if cell is None or (cell.stop_reason is not None and not cell.remote):
            # An exiting actor handles nothing more: for a call it is already gone.
            await trio.lowlevel.checkpoint()
            raise NoSuchActor(f"{address} is not alive")
        if cell.task is trio.lowlevel.current_task():
            raise CallToSelf(f"{cell.ref} called itself")
        if self._encode:
            request = self._prepare(request)
        caller = Caller(cell)
        cell.pending.add(caller)
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
            deadline = math.inf if timeout is None else trio.current_time() + timeout
            envelope = (CALL, request, caller)
            try:
                # With room in the mailbox, the wait for the reply is the checkpoint.
                if not cell.mailbox.try_put(envelope):
                    with trio.move_on_at(deadline) as waited:
                        await cell.mailbox.put(envelope)
                    if waited.cancelled_caught:
                        raise CallTimeout(f"{address} did not take the call within {timeout} s")
            except Closed:
                pass  # it died; _exit has resolved the caller
            result = caller._result
            if result is not None:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return result.unwrap()
            if deadline != math.inf:
                self._deadlines.add(deadline, caller)
            caller._task = trio.lowlevel.current_task()
            return await trio.lowlevel.wait_task_rescheduled(caller._abort)
        finally:
            if not caller._done:
                caller._done = True
                cell.pending.discard(caller)
                if caller._timed:
                    self._deadlines.discard()
                if caller._remote_id is not None and self._router is not None:
                    self._router.forget_call(caller)

    def reply(self, caller: Caller, value: object) -> None:
        """See :meth:`Actor.reply`."""
        if caller._done:
            return
        if self._encode:
            value = self._prepare(value)
        _resolve(caller, outcome.Value(value))

    async def cast(self, address: ActorRef | NamedRef, message: object) -> None:
        await self._put(address, (CAST, self._prepare(message), None))

    def cast_nowait(self, address: ActorRef | NamedRef, message: object) -> None:
        self._put_nowait(address, (CAST, self._prepare(message), None))

    async def send(self, address: ActorRef | NamedRef, message: object) -> None:
        await self._put(address, (INFO, self._prepare(message), None))

    def send_nowait(self, address: ActorRef | NamedRef, message: object) -> None:
        self._put_nowait(address, (INFO, self._prepare(message), None))

    async def _put(self, address: ActorRef | NamedRef, envelope: Envelope) -> None:
        cell = self._live_cell(address)
        if cell is None:
            self._dead_letters += 1
            await trio.lowlevel.checkpoint()
            return
        try:
            await cell.mailbox.put(envelope)
        except Closed:
            pass  # counted by _exit among the mailbox's leftovers

    def _put_nowait(self, address: ActorRef | NamedRef, envelope: Envelope) -> None:
        cell = self._live_cell(address)
        if cell is None:
            self._dead_letters += 1
            return
        try:
            cell.mailbox.put_nowait(envelope)
        except WouldBlock:
            raise MailboxFull(
                f"the mailbox of {cell.ref} is full ({cell.mailbox.bound} messages)"
            ) from None
        except Closed:  # pragma: no cover - a closed mailbox belongs to a removed cell
            self._dead_letters += 1

    def send_after(self, cell: Cell, seconds: float, message: object) -> Timer:
        """See :meth:`Actor.send_after`."""
        if not seconds >= 0:
            raise ValueError(f"send_after needs seconds >= 0, not {seconds!r}")
        timer = Timer()
        cell.timers.add(timer)
        self._nursery.start_soon(self._timer, cell, timer, seconds, self._prepare(message))
        return timer

    async def _timer(self, cell: Cell, timer: Timer, seconds: float, message: object) -> None:
        with timer._scope:
            await trio.sleep(seconds)
            timer._fired = True
            cell.mailbox.put_system((SYSTEM, message, None))
        cell.timers.discard(timer)

    # -- links and monitors ---------------------------------------------------

    def link(self, cell: Cell, target: ActorRef) -> None:
        other = self._live_cell(target)
        if other is None:
            if _actor(cell).trap_exits:
                cell.mailbox.put_system((SYSTEM, Exit(target, NOPROC), None))
                return
            raise NoSuchActor(f"cannot link to {target}: it is not alive")
        self._link_cells(cell, other)

    def _link_cells(self, a: Cell, b: Cell, *, tell: bool = True) -> None:
        """Link two cells; a proxy's node is told (unless it knows already)."""
        if a is b:
            return
        a.links.add(b)
        b.links.add(a)
        if tell and self._router is not None:
            for remote, local in ((a, b), (b, a)):
                if remote.remote and not local.remote:
                    self._router.forward(remote, LINK, local.ref)

    def unlink(self, cell: Cell, target: ActorRef) -> None:
        other = self._live_cell(target)
        if other is not None:
            cell.links.discard(other)
            other.links.discard(cell)
            if other.remote and self._router is not None:
                self._router.forward(other, UNLINK, cell.ref)

    def monitor(self, watcher: Cell, target: ActorRef | NamedRef) -> MonitorRef:
        monitor = MonitorRef(self.node, next(self._ids))
        cell = self._live_cell(target)
        if cell is None:
            watcher.mailbox.put_system((SYSTEM, Down(monitor, target, NOPROC), None))
        else:
            cell.monitors[monitor] = watcher
            watcher.watching[monitor] = cell
        return monitor

    def demonitor(self, watcher: Cell, monitor: MonitorRef, *, flush: bool) -> bool:
        target = watcher.watching.pop(monitor, None)
        if target is not None:
            del target.monitors[monitor]
        elif flush:
            watcher.mailbox.remove_system(
                lambda message: isinstance(message, Down) and message.monitor == monitor
            )
        return target is not None

    # -- groups ---------------------------------------------------------------

    def join(self, group: str, cell: Cell) -> None:
        """``cell`` joins ``group``; in a worker the root is told, as it keeps the groups."""
        self.groups.join(group, cell)
        if self._router is not None:
            self._router.group_changed(JOIN, group, cell)

    def leave(self, group: str, cell: Cell) -> bool:
        left = self.groups.leave(group, cell)
        if left and self._router is not None:
            self._router.group_changed(LEAVE, group, cell)
        return left

    # -- names ----------------------------------------------------------------

    def register(self, name: str, ref: ActorRef) -> None:
        """Give ``ref`` the name ``name`` until it exits. Raises :class:`NameTaken`."""
        cell = self._live_cell(ref)
        if cell is None:
            raise NoSuchActor(f"cannot register {name!r}: {ref} is not alive")
        self._register(name, cell)

    def _register(self, name: str, cell: Cell) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a name is a non-empty str, not {name!r}")
        holder = self._names.get(name)
        if holder is not None:
            raise NameTaken(name, holder.ref)
        if cell.name is not None:
            raise ValueError(f"{cell.ref} is already registered as {cell.name!r}")
        self._names[name] = cell
        cell.name = name
        if self._router is not None:
            self._router.name_changed(name, cell.ref)

    def unregister(self, name: str) -> bool:
        cell = self._names.pop(name, None)
        if cell is None:
            return False
        cell.name = None
        if self._router is not None:
            self._router.name_changed(name, None)
        return True

    def whereis(self, name: str) -> ActorRef | None:
        cell = self._names.get(name)
        return None if cell is None else cell.ref

    def named(self, name: str) -> NamedRef:
        """An address that resolves ``name`` at every send."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a name is a non-empty str, not {name!r}")
        return NamedRef(name, self)

    # -- introspection --------------------------------------------------------

    def statistics(self) -> RuntimeStatistics:
        return RuntimeStatistics(
            actors=len(self._cells),
            spawned=self._spawned,
            exited=self._exited,
            dead_letters=self._dead_letters,
            names=len(self._names),
            tasks=sum(1 for task in self._nursery.child_tasks if task is not self._deadline_task),
        )

    def mailbox_depth(self, ref: ActorRef) -> int:
        """Messages waiting in ``ref``'s mailbox (0 if it is dead)."""
        cell = self._live_cell(ref)
        return 0 if cell is None else len(cell.mailbox)

    # -- closing --------------------------------------------------------------

    async def aclose(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
        """Stop every actor (newest first, all within ``timeout``), then refuse new ones."""
        self._open = False
        cells = sorted(self._cells.values(), key=lambda cell: cell.ref.id, reverse=True)
        workers = self._workers
        if workers is not None:
            cells += list(workers.owner)  # actors this runtime placed in workers
        for cell in cells:
            self._request_stop(cell, SHUTDOWN)
        with trio.move_on_after(timeout):
            for cell in cells:
                await cell.done.wait()
        for cell in cells:
            if not cell.exited:
                self._kill_cell(cell)
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
        if self._router is not None and not self._router.hub:
            self._router.close()
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
) -> AsyncIterator[Runtime]:
    """Open a runtime for the actors of this trio run.

    With ``encode_messages=True`` every message is encoded and decoded with the
    codec of the process layer, as if it crossed a process boundary: a program
    can be tested for process placement before it is split. On exit every
    remaining actor is stopped (newest first) within ``shutdown_timeout``
    seconds, then killed. Actors placed in worker processes run in at most
    ``max_workers`` workers (plus a warm spare), started on first use. An
    exception from the body comes out as itself.
    """
    caught: BaseException | None = None
    async with trio.open_nursery() as nursery:
        runtime = Runtime(
            nursery,
            encode_messages=encode_messages,
            mailbox_size=mailbox_size,
            max_workers=max_workers,
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


def _actor(cell: Cell) -> Actor:
    """The actor of a local cell (a proxy has none)."""
    actor = cell.actor
    assert actor is not None, f"{cell} is a proxy"
    return actor


def _timed_out(caller: Caller) -> CallTimeout:
    return CallTimeout(f"{caller._cell.ref} did not reply within the call's timeout")


def _resolve(caller: Caller, result: outcome.Outcome[Any]) -> None:
    if type(caller) is RemoteCaller:
        caller._done = True
        caller._cell.pending.discard(caller)
        # An EncodeError reaches the replier (it crashes, as in encode mode);
        # the caller then fails with that crash reason when the exit arrives.
        caller._router.reply(caller, result)
        return
    if caller._timed:
        caller._cell.runtime._deadlines.discard()
    caller._done = True
    caller._result = result
    caller._cell.pending.discard(caller)
    task = caller._task
    if task is not None:
        caller._task = None
        trio.lowlevel.reschedule(task, result)


def _invalid(actor: Actor, handler: str, result: object, expected: str) -> InvalidReturn:
    return InvalidReturn(
        f"{type(actor).__qualname__}.{handler} returned {result!r}; expected {expected}"
    )


def _check_mailbox_size(size: int) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"mailbox_size must be an int >= 1, not {size!r}")
    return size
