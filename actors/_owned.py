"""Tasks an actor owns: trio tasks that live inside it, end before it, and crash it.

An actor starts them with ``self.start_soon(fn, *args)`` or ``await
self.start(fn, *args)`` (which waits for ``task_status.started()``, as a
nursery's ``start`` does). They run in the runtime's nursery, each in a cancel
scope of its own that the actor's cell holds, so an actor that starts none pays
nothing. An exception in one crashes the actor with that exception as its
reason (before ``started()``, it goes to the caller of ``start`` instead);
while ``init`` runs it makes the start fail. When the actor stops they are
cancelled, and waited for, before its ``terminate`` runs; when it is killed,
before its death is reported. None outlives the actor.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import trio

from ._cell import LocalCell
from ._exceptions import NotRunning
from ._reasons import Crash

logger = logging.getLogger("actors")

#: How long a killed actor waits for its tasks to end (a task that shields itself
#: from cancellation can hold it up; past this it is reported and left).
KILL_WAIT: Final = 10.0

TaskFn = Callable[..., Awaitable[object]]


class Owned:
    """The live tasks of one actor (a cell has one once it started a task)."""

    __slots__ = ("done", "scopes")

    def __init__(self) -> None:
        self.scopes: set[trio.CancelScope] = set()
        self.done: trio.Event | None = None  # set when the last one ends, if awaited

    def cancel(self) -> None:
        for scope in self.scopes:
            scope.cancel()

    async def wait(self) -> None:
        """Until every task has ended."""
        while self.scopes:
            self.done = trio.Event()
            await self.done.wait()

    def ended(self, scope: trio.CancelScope) -> None:
        self.scopes.discard(scope)
        if not self.scopes and self.done is not None:
            self.done.set()


def start_soon(
    nursery: trio.Nursery, cell: LocalCell, fn: TaskFn, args: tuple[Any, ...], name: object
) -> None:
    """Start ``fn(*args)`` as a task ``cell``'s actor owns."""
    owned = _owned(cell)
    nursery.start_soon(_run, cell, owned, fn, args, False, name=name)


async def start(
    nursery: trio.Nursery, cell: LocalCell, fn: TaskFn, args: tuple[Any, ...], name: object
) -> Any:
    """Start ``fn(*args, task_status=...)``; its ``started()`` value once it called it."""
    owned = _owned(cell)
    return await nursery.start(_run, cell, owned, fn, args, True, name=name)


def _owned(cell: LocalCell) -> Owned:
    if cell.exited or (cell.stop_reason is not None and cell.started):
        raise NotRunning(f"{cell.ref} is stopping: it starts no more tasks")
    if cell.owned is None:
        cell.owned = Owned()
    return cell.owned


async def _run(
    cell: LocalCell,
    owned: Owned,
    fn: TaskFn,
    args: tuple[Any, ...],
    wants_status: bool,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    status = _Status(task_status)
    with trio.CancelScope() as scope:
        owned.scopes.add(scope)
        try:
            if wants_status:
                await fn(*args, task_status=status)
            else:
                status.started()
                await fn(*args)
        except Exception as exc:
            if not status.done:
                raise  # before started(): the caller of start gets it, as from a nursery
            _failed(cell, exc)
        finally:
            owned.ended(scope)


def _failed(cell: LocalCell, exc: Exception) -> None:
    """An owned task raised: the actor crashes with it (or fails to start)."""
    if not cell.started:
        if cell.init_failure is None:
            cell.init_failure = exc
        if cell.life is not None:
            cell.life.cancel()
        return
    if cell.stop_reason is None:
        cell.request_stop(Crash(exc))
        return
    logger.error(
        "a task of %r failed while it stopped",
        cell.ref,
        exc_info=exc,
        extra={"actor": repr(cell.ref), "event": "task failed"},
    )


async def end_all(cell: LocalCell) -> None:
    """Cancel the actor's tasks and wait until they ended (a kill interrupts the wait)."""
    owned = cell.owned
    if owned is not None:
        owned.cancel()
    if cell.aio is not None:
        await cell.aio.end_tasks()
    if owned is not None:
        await owned.wait()


async def end_all_after_kill(cell: LocalCell) -> None:
    """As :func:`end_all`, shielded and bounded: the actor was killed, or cancelled."""
    if cell.aio is not None:
        await cell.aio.after_kill(repr(cell.ref))
    owned = cell.owned
    if owned is None or not owned.scopes:
        return
    owned.cancel()
    with trio.move_on_after(KILL_WAIT) as waited:
        waited.shield = True
        await owned.wait()
    if waited.cancelled_caught:
        logger.error(
            "%d task(s) of %r did not end within %s s of its kill",
            len(owned.scopes),
            cell.ref,
            KILL_WAIT,
            extra={"actor": repr(cell.ref), "event": "task left"},
        )


class _Status:
    """A task status that remembers whether ``started`` was called."""

    __slots__ = ("done", "inner")

    def __init__(self, inner: trio.TaskStatus[Any]) -> None:
        self.inner = inner
        self.done = False

    def started(self, value: object = None) -> None:
        self.done = True
        self.inner.started(value)
