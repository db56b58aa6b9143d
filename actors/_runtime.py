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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import outcome
import trio

from spawn import Codec

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
from ._reasons import NOPROC, SHUTDOWN, Crash, ExitReason, Normal
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
    ) -> None:
        self.node = secrets.token_hex(3)
        self.groups = Groups()
        self.codec = Codec(registry=actor_registry(self))
        self._nursery = nursery
        self._encode = encode_messages
        self._mailbox_size = _check_mailbox_size(mailbox_size)
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

    # -- starting -------------------------------------------------------------

    async def spawn(
        self,
        cls: type[Actor],
        *args: Any,
        name: str | None = None,
        mailbox_size: int | None = None,
        _link: Cell | None = None,
    ) -> ActorRef:
        """Start ``cls`` with ``init(*args)``; return its ref once ``init`` returned.

        Raises :class:`InitError` (init raised), :class:`StartIgnored` (init
        declined), :class:`NameTaken` (``name`` is held) or :class:`NotRunning`.
        """
        if not (isinstance(cls, type) and issubclass(cls, Actor)):
            raise TypeError(f"spawn takes a subclass of actors.Actor, not {cls!r}")
        if not self._open:
            raise NotRunning("the runtime is closed")
        bound = self._mailbox_size if mailbox_size is None else _check_mailbox_size(mailbox_size)
        actor = cls()
        ref = ActorRef(self.node, next(self._ids), self)
        cell = Cell(self, ref, actor, Mailbox(bound))
        actor._cell = cell
        if name is not None:
            self._register(name, cell)
        self._cells[ref.id] = cell
        await self._nursery.start(self._actor_main, cell, args, _link)
        return ref

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
            # From here the runtime owns the actor's end: a cancellation from outside
            # does not reach it; stop() and aclose() ask, wait, then kill (cell.life).
            with trio.CancelScope(shield=True), trio.CancelScope() as cell.life:
                cell.reason = await self._serve(cell)
        finally:
            self._exit(cell)

    async def _init(self, cell: Cell, args: tuple[Any, ...]) -> None:
        qualname = type(cell.actor).__qualname__
        try:
            result = await cell.actor.init(*args)
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
            await cell.actor.terminate(reason)
        except Exception as exc:
            reason = Crash(exc)
        return reason

    async def _loop(self, cell: Cell) -> None:
        """Handle messages until a handler returns :class:`Stop`."""
        actor = cell.actor
        get = cell.mailbox.get
        while True:
            kind, payload, extra = await get()
            if kind == CALL:
                assert isinstance(extra, Caller)
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
        """Everything that happens, at once, when an actor has exited."""
        cell.exited = True
        reason = cell.reason
        ref = cell.ref
        del self._cells[ref.id]
        if cell.name is not None:
            del self._names[cell.name]
        for _kind, _payload, extra in cell.mailbox.close():
            if _kind != SYSTEM and not isinstance(extra, Caller):
                self._dead_letters += 1
        if cell.pending:
            error = outcome.Error(ActorExited(ref, reason))
            for caller in list(cell.pending):
                _resolve(caller, error)
        for timer in cell.timers:
            timer.cancel()
        if cell.started:
            self._exited += 1
            for other in cell.links:
                other.links.discard(cell)
                self._exit_signal(other, ref, reason)
            for monitor, watcher in cell.monitors.items():
                del watcher.watching[monitor]
                watcher.mailbox.put_system((SYSTEM, Down(monitor, ref, reason), None))
            for monitor, target in cell.watching.items():
                del target.monitors[monitor]
            self.groups.drop(cell)
            if isinstance(reason, Crash):
                logger.error(
                    "%r (%s) crashed: %s",
                    ref,
                    type(cell.actor).__qualname__,
                    reason,
                    exc_info=reason.exc,
                    extra={"actor": repr(ref), "event": "crashed"},
                )
        cell.links.clear()
        cell.monitors.clear()
        cell.watching.clear()
        cell.done.set()

    def _exit_signal(self, target: Cell, sender: ActorRef, reason: ExitReason) -> None:
        if target.exited:
            return
        if target.actor.trap_exits:
            target.mailbox.put_system((SYSTEM, Exit(sender, reason), None))
        elif not isinstance(reason, Normal):
            self._request_stop(target, reason)

    def _request_stop(self, cell: Cell, reason: ExitReason) -> None:
        if cell.stop_reason is not None or cell.exited:
            return
        cell.stop_reason = reason
        if cell.loop is not None:
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
        if cell.life is not None:
            cell.life.cancel()

    async def wait(self, ref: ActorRef) -> ExitReason:
        """Wait until ``ref`` has exited; its reason, or :class:`~actors.NoProc` if already gone.

        To learn the reason of an exit that may happen before you wait, take
        a :meth:`watch` first.
        """
        return await self.watch(ref).wait()

    def watch(self, ref: ActorRef) -> ExitWatch:
        """Start watching ``ref`` from outside any actor (a monitor for plain code).

        >>> # watch = runtime.watch(ref); await ref.cast("stop"); await watch.wait()
        """
        return ExitWatch(self._live_cell(ref))

    def is_alive(self, ref: ActorRef) -> bool:
        return self._live_cell(ref) is not None

    # -- messages -------------------------------------------------------------

    def _live_cell(self, address: ActorRef | NamedRef) -> Cell | None:
        if type(address) is ActorRef:
            if address._runtime is not self:
                return None
            return self._cells.get(address.id)
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
        if cell is None:
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
            if cell.actor.trap_exits:
                cell.mailbox.put_system((SYSTEM, Exit(target, NOPROC), None))
                return
            raise NoSuchActor(f"cannot link to {target}: it is not alive")
        self._link_cells(cell, other)

    def _link_cells(self, a: Cell, b: Cell) -> None:
        if a is not b:
            a.links.add(b)
            b.links.add(a)

    def unlink(self, cell: Cell, target: ActorRef) -> None:
        other = self._live_cell(target)
        if other is not None:
            cell.links.discard(other)
            other.links.discard(cell)

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

    def unregister(self, name: str) -> bool:
        cell = self._names.pop(name, None)
        if cell is None:
            return False
        cell.name = None
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
        for cell in cells:
            self._request_stop(cell, SHUTDOWN)
        with trio.move_on_after(timeout):
            for cell in cells:
                await cell.done.wait()
        for cell in cells:
            if not cell.exited:
                self._kill_cell(cell)
        with trio.move_on_after(timeout):  # a kill lands at the actor's next checkpoint
            for cell in cells:
                await cell.done.wait()
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
) -> AsyncIterator[Runtime]:
    """Open a runtime for the actors of this trio run.

    With ``encode_messages=True`` every message is encoded and decoded with the
    codec of the process layer, as if it crossed a process boundary: a program
    can be tested for process placement before it is split. On exit every
    remaining actor is stopped (newest first) within ``shutdown_timeout``
    seconds, then killed. An exception from the body comes out as itself.
    """
    caught: BaseException | None = None
    async with trio.open_nursery() as nursery:
        runtime = Runtime(nursery, encode_messages=encode_messages, mailbox_size=mailbox_size)
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


def _timed_out(caller: Caller) -> CallTimeout:
    return CallTimeout(f"{caller._cell.ref} did not reply within the call's timeout")


def _resolve(caller: Caller, result: outcome.Outcome[Any]) -> None:
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
