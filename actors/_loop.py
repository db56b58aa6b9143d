"""The behaviour loop of one local actor, OTP's gen_server: init, the messages, terminate.

:class:`LocalSpawner` starts an actor as a task of the runtime's nursery and
runs it: ``init`` in the spawner's stead, then the message loop, shielded, so
that the actor's end belongs to the runtime (a stop request cancels the loop
and ``terminate`` runs; a kill cancels everything and nothing more runs).
When the task ends, the kernel is told at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, NoReturn

import outcome
import trio

from ._aio import AsyncioMailbox, AsyncioSide
from ._asyncio_actor import is_asyncio
from ._behaviour import Actor, Ignore, NoReply, Reply, Stop, bind, invalid_return
from ._calls import Caller
from ._cell import Cell, LocalCell, reported_by
from ._exceptions import InitError, NoHostLoop, StartIgnored
from ._guest import host_loop
from ._kernel import Kernel
from ._mailbox import CALL, CAST, Mailbox
from ._owned import end_all, end_all_after_kill
from ._persisted import Persistence, serve_persistent
from ._pump import PumpedMailbox, ReadTurn
from ._reasons import Crash, ExitReason
from ._ref import ActorRef

logger = logging.getLogger("actors")

Replier = Callable[[Caller, object], None]


class LocalSpawner:
    """Starts the local actors of one runtime, each as a task of ``nursery``."""

    def __init__(self, kernel: Kernel, nursery: trio.Nursery, runtime: object, reply: Replier):
        self._kernel = kernel
        self._nursery = nursery
        self._runtime = runtime  # what each actor's ``runtime`` property gives it
        self._reply = reply
        #: Whether a crash is logged here; a worker's crashes are logged by its root.
        self.log_crashes = True

    async def spawn(
        self,
        cls: type[Actor],
        args: tuple[Any, ...],
        *,
        name: str | None,
        bound: int,
        link: Cell | None,
        persist: Persistence | None = None,
        turn: ReadTurn | None = None,
    ) -> ActorRef:
        """Start ``cls`` with ``init(*args)``; its ref once ``init`` returned.

        With ``link``, the new actor is linked to that cell as soon as its init
        returned (OTP's spawn_link). With ``persist``, the state is restored first
        and given to ``init``, and committed (claiming its generation) before
        ``spawn`` returns. With ``turn``, its idle wait reads its worker's link
        (``_pump``). Raises :class:`InitError`, :class:`StartIgnored` or
        :class:`~actors.NameTaken`.
        """
        asyncio_actor = is_asyncio(cls)
        loop = host_loop() if asyncio_actor else None
        if loop is None and asyncio_actor:
            raise NoHostLoop(
                f"{cls.__qualname__} is an AsyncioActor and this trio run has no asyncio "
                "host loop: run the tree with actors.run_on_uvloop(...), or place it in a "
                'process (placement="process")'
            )
        actor = cls()
        ref = self._kernel.new_ref()
        if loop is None:
            mailbox = Mailbox(bound) if turn is None else PumpedMailbox(bound, turn)
            cell = LocalCell(ref, actor, mailbox)
        else:
            side = AsyncioSide(loop, self._nursery, repr(ref))
            cell = LocalCell(ref, actor, AsyncioMailbox(bound, side))
            cell.aio = side
        bind(actor, cell, self._runtime)
        cell.persist = persist
        cell.reported = reported_by(link) or not self.log_crashes  # logged elsewhere
        if name is not None:
            self._kernel.register(name, cell)
        self._kernel.add(cell)
        start = _Start(trio.lowlevel.current_task())
        self._nursery.start_soon(self._main, cell, args, link, start)
        await start.wait(cell)
        return ref

    async def _main(
        self, cell: LocalCell, args: tuple[Any, ...], link: Cell | None, start: _Start
    ) -> None:
        try:
            kernel = self._kernel
            cell.task = trio.lowlevel.current_task()
            try:
                # One scope for the actor's life: a kill cancels it. During init it is not
                # shielded (init runs in the spawner's stead: a cancelled spawner cancels
                # it); from the start on it is, and the runtime owns the actor's end.
                with trio.CancelScope() as life:
                    cell.life = life
                    if start.abandoned:
                        life.cancel()  # the spawner was cancelled before this task ran
                    persist = cell.persist
                    if persist is None:
                        await _init(cell, args)
                    else:
                        await _init_persistent(cell, args, persist)
                    if cell.init_failure is not None or life.cancel_called:
                        raise _init_failed(cell)
                    if link is not None:
                        kernel.link(cell, link)
                    kernel.started(cell)
                    start.done()
                    # From here a cancellation from outside does not reach it; stop() and
                    # aclose() ask, wait, then kill (cell.life).
                    life.shield = True
                    if cell.persist is None:
                        cell.reason = await self._serve(cell)
                    else:
                        cell.reason = await serve_persistent(cell, self._reply, cell.persist)
                if not cell.started:  # the scope caught a kill, or a failed task's cancel
                    raise _init_failed(cell)
            finally:
                await end_all_after_kill(cell)
                reason = cell.reason
                if cell.started and isinstance(reason, Crash) and not cell.reported:
                    logger.error(
                        "%r (%s) crashed: %s",
                        cell.ref,
                        type(cell.actor).__qualname__,
                        reason,
                        exc_info=reason.exc,
                        extra={"actor": repr(cell.ref), "event": "crashed"},
                    )
                kernel.exit_local(cell)
                cell.actor = _EXITED  # no cycle with its actor: both go without the GC
        except BaseException as exc:
            if cell.started:
                raise
            # Its init failed: the spawner raises why, as from a nursery's start.
            start.failed(exc if isinstance(exc, Exception) else _init_failed(cell))
            if not isinstance(exc, Exception):
                raise

    async def _serve(self, cell: LocalCell) -> ExitReason:
        reason: ExitReason
        try:
            with trio.CancelScope() as cell.loop:
                if cell.stop_reason is None:
                    if cell.aio is None:
                        await self._loop(cell)
                    else:  # the whole loop is one asyncio task, its handlers awaited there
                        what = f"a handler of {type(cell.actor).__qualname__}"
                        await cell.aio.run(self._loop, cell, pump=0, what=what)
            assert cell.stop_reason is not None
            reason = cell.stop_reason
        except Exception as exc:
            reason = Crash(exc)
        cell.stop_reason = reason
        await end_all(cell)  # its tasks end before its terminate runs
        try:
            await invoke(cell, cell.actor.terminate, reason)
        except Exception as exc:
            reason = Crash(exc)
        return reason

    async def _loop(self, cell: LocalCell) -> None:
        """Handle messages until a handler returns :class:`Stop`.

        A trio coroutine for a trio actor; for an asyncio actor, the body of its one
        asyncio task (its mailbox's ``get`` and its handlers are asyncio's then).
        """
        actor = cell.actor
        get = cell.mailbox.get
        reply = self._reply
        handle_call = actor.handle_call
        handle_cast = actor.handle_cast
        handle_info = actor.handle_info
        while True:
            kind, payload, caller, receipt = await get()
            if receipt is not None:
                receipt.release()
            if kind == CALL:
                assert isinstance(caller, Caller)
                result: object = await handle_call(payload, caller)
                cls = type(result)
                if cls is Reply:
                    reply(caller, result.value)  # type: ignore[attr-defined]
                    continue
                if cls is NoReply:
                    continue
                if cls is Stop:
                    assert isinstance(result, Stop)
                    if result.has_reply:
                        reply(caller, result.reply)
                    cell.stop_reason = result.reason
                    return
                expected = "Reply(...), NoReply() or Stop(...)"
                raise invalid_return(actor, "handle_call", result, expected)
            if kind == CAST:
                result = await handle_cast(payload)
                where = "handle_cast"
            else:
                result = await handle_info(payload)
                where = "handle_info"
            if type(result) is NoReply:
                continue
            if type(result) is Stop:
                assert isinstance(result, Stop)
                cell.stop_reason = result.reason
                return
            raise invalid_return(actor, where, result, "NoReply() or Stop(...)")


class _Start:
    """A spawner waiting for its actor's init: a nursery's ``start``, without a nursery.

    The actor runs in the runtime's nursery from the first; a cancelled spawner
    cancels its init (and then raises Cancelled, once the actor has ended).
    """

    __slots__ = ("abandoned", "raise_cancel", "spawner")

    def __init__(self, spawner: trio.lowlevel.Task) -> None:
        self.spawner = spawner
        self.abandoned = False
        self.raise_cancel: Callable[[], NoReturn] | None = None

    async def wait(self, cell: LocalCell) -> None:
        def abort(raise_cancel: Callable[[], NoReturn]) -> trio.lowlevel.Abort:
            self.abandoned = True
            self.raise_cancel = raise_cancel
            if cell.life is not None:
                cell.life.cancel()
            return trio.lowlevel.Abort.FAILED  # woken when its init has given up

        await trio.lowlevel.wait_task_rescheduled(abort)

    def done(self) -> None:
        """Init returned: the spawner goes on."""
        trio.lowlevel.reschedule(self.spawner)

    def failed(self, exc: Exception) -> None:
        raise_cancel = self.raise_cancel
        if raise_cancel is not None:  # the spawner was cancelled: it raises that
            trio.lowlevel.reschedule(self.spawner, outcome.capture(raise_cancel))
        else:
            trio.lowlevel.reschedule(self.spawner, outcome.Error(exc))


class _Exited(Actor):
    """What an exited cell holds instead of its actor (whose state is gone with it)."""


_EXITED: Final = _Exited()


def _init_failed(cell: LocalCell) -> InitError:
    """Why an init that returned, or was interrupted, failed the start after all."""
    failure = cell.init_failure
    if failure is None:
        return InitError(f"{cell.ref} was killed before its init returned")
    qualname = type(cell.actor).__qualname__
    error = InitError(f"{qualname}.init failed: its task raised {failure!r}")
    error.__cause__ = failure
    return error


def invoke(cell: LocalCell, fn: Callable[..., Awaitable[Any]], *args: Any) -> Awaitable[Any]:
    """``fn(*args)``, one of ``cell``'s callbacks, as trio awaits it."""
    return fn(*args) if cell.aio is None else cell.aio.run(fn, *args)


async def _init_persistent(cell: LocalCell, args: tuple[Any, ...], persist: Persistence) -> None:
    """Restore, init with the restored state, then commit it with the new generation."""
    actor = cell.actor
    qualname = type(actor).__qualname__
    try:
        state = persist.restore(type(actor))
    except Exception as exc:
        raise InitError(f"{qualname}: restoring {persist.key!r} failed: {exc!r}") from exc
    await _init(cell, (state, *args))
    try:
        await persist.commit(actor, force=True)  # from now on, an older incarnation is stale
    except Exception as exc:
        raise InitError(f"{qualname}: committing {persist.key!r} failed: {exc!r}") from exc


async def _init(cell: LocalCell, args: tuple[Any, ...]) -> None:
    actor = cell.actor
    qualname = type(actor).__qualname__
    try:
        result = await invoke(cell, actor.init, *args)
    except Exception as exc:
        raise InitError(f"{qualname}.init failed: {exc!r}") from exc
    if isinstance(result, Ignore):
        raise StartIgnored(f"{qualname}.init returned Ignore()")
    if result is not None:
        raise InitError(f"{qualname}.init returned {result!r}; expected None or Ignore()")
