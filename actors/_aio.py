"""The bridge between an asyncio actor and the trio runtime, both ways, on one thread.

Trio to asyncio: the runtime awaits an asyncio callback with :meth:`AsyncioSide.run`,
which runs it as a task of the host loop and parks the trio task until that task
ends. A trio cancellation (a stop request, a kill) cancels the asyncio task; a stop
waits for it to end, a kill does not (:meth:`AsyncioSide.abandon`). The message
loop is one such task for the actor's life: its :class:`AsyncioMailbox` is read
from asyncio, and a writer (trio code or asyncio code) wakes it directly.

Asyncio to trio: :meth:`AsyncioSide.to_trio` runs a trio operation (a call, a
send that may wait, a spawn) as a trio task and gives asyncio a future of it.
Synchronous runtime operations (``cast_nowait``, ``monitor``, ``reply``, ...) need
no bridge: trio's guest mode lets host code on the same thread wake trio tasks.

Every asyncio task started while an actor's context is current (its callbacks,
and the tasks they start with ``asyncio.create_task``) is tracked by the loop's
task factory (:func:`track_task`), so the actor's stop cancels them.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, TypeVar, TypeVarTuple, Unpack

import outcome
import trio
from trio.lowlevel import Abort, RaiseCancelT, Task

from ._mailbox import GET_BURST, Envelope, Mailbox

logger = logging.getLogger("actors")

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: How long the tasks of a killed asyncio actor that were not cancelled before have
#: to end once cancelled; any still running then is logged with its stack and left.
KILL_GRACE: Final = 0.5
#: How many times a trio task yields before it parks to wait for an asyncio callback.
SPIN: Final = 6


class _Abandoned(Exception):
    """Internal: the actor was killed while it waited for an asyncio task."""


class _Waiter:
    """One trio task waiting for one asyncio task: spinning first, then parked."""

    __slots__ = ("atask", "cancelled", "result", "side", "task")

    def __init__(self, side: AsyncioSide) -> None:
        self.side = side
        self.task: Task | None = None  # the trio task, while parked
        self.atask: asyncio.Task[Any] | None = None
        self.result: outcome.Outcome[Any] | None = None  # the first answer wins
        self.cancelled = False

    def finish(self, result: outcome.Outcome[Any]) -> None:
        if self.result is None:
            self.result = result
            task = self.task
            if task is not None:
                self.task = None
                trio.lowlevel.reschedule(task)

    def abort(self, _: RaiseCancelT) -> Abort:
        if not self.cancelled:
            self.cancelled = self.side.stopping = True
            if self.atask is not None:
                self.atask.cancel()
        return Abort.FAILED  # the asyncio task ends first, or the actor is killed

    def done(self, task: asyncio.Task[Any]) -> None:
        self.finish(outcome.capture(task.result))


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _foreign_cancel(what: str, actor: str) -> RuntimeError:
    """The crash reason of a callback whose task asyncio code cancelled (not its actor)."""
    return RuntimeError(f"{actor}: {what} was cancelled from asyncio code, not by the actor's stop")


class AsyncioSide:
    """The asyncio half of one asyncio actor: its context, its tasks, the bridge."""

    __slots__ = (
        "_asked",
        "_closed",
        "_idle",
        "_waiting",
        "context",
        "loop",
        "name",
        "nursery",
        "stopping",
        "tasks",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, nursery: trio.Nursery, name: str) -> None:
        self.loop = loop
        self.nursery = nursery
        self.name = name
        # A fresh context: nothing of trio's (sniffio's "trio" marker) leaks into asyncio.
        self.context = contextvars.Context()
        self.context.run(ACTOR.set, self)
        self.tasks: set[asyncio.Task[Any]] = set()
        self._asked: set[asyncio.Task[Any]] = set()  # tasks cancelled by the actor's end
        self._idle: trio.Event | None = None
        self._waiting: _Waiter | None = None
        self._closed = False
        #: A callback was cancelled by the actor's stop (or kill): it handles no more.
        self.stopping = False

    # -- tracking -------------------------------------------------------------------

    def add(self, task: asyncio.Task[Any]) -> None:
        if self._closed:
            return
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        self._asked.discard(task)
        if not self.tasks and self._idle is not None:
            self._idle.set()

    # -- trio awaits asyncio --------------------------------------------------------

    async def run(
        self,
        fn: Callable[[Unpack[Ts]], Awaitable[T]],
        *args: *Ts,
        pump: int = SPIN,
        what: str | None = None,
    ) -> T:
        """In trio: ``await fn(*args)`` as an asyncio task of the actor; its result.

        A trio cancellation cancels the asyncio task and waits for it to end (it
        then raises ``Cancelled``), unless the actor is killed first.

        ``what`` names the callback in the crash reason of a foreign cancellation
        (its task cancelled by asyncio code, not by the actor's stop).

        The trio task first yields ``pump`` times before it parks: while trio has
        a task to run it does not wait for I/O on its thread, so an asyncio callback
        that ends within a few loop iterations wakes trio without the hop through
        that thread (a round trip six times longer, measured).
        """
        waiter = _Waiter(self)
        awaitable = self.context.run(fn, *args)
        coro = awaitable if asyncio.iscoroutine(awaitable) else _awaited(awaitable)
        waiter.atask = atask = self.loop.create_task(coro, context=self.context)
        atask.add_done_callback(waiter.done)
        self._waiting = waiter
        try:
            for _ in range(pump):
                await trio.lowlevel.cancel_shielded_checkpoint()
                if waiter.result is not None:
                    break
            else:
                waiter.task = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(waiter.abort)
        finally:
            self._waiting = None
        result = waiter.result
        assert result is not None
        if isinstance(result, outcome.Error):
            error = result.error
            if waiter.cancelled or isinstance(error, _Abandoned):
                await trio.lowlevel.checkpoint()  # the cancellation that interrupted it
            if isinstance(error, asyncio.CancelledError):
                callback = what or str(getattr(fn, "__qualname__", fn))
                raise _foreign_cancel(callback, self.name) from error
        elif waiter.cancelled:
            await trio.lowlevel.checkpoint()
        return result.unwrap()  # type: ignore[no-any-return]

    def abandon(self) -> None:
        """The actor is killed: the trio task waiting for an asyncio one stops waiting."""
        waiter = self._waiting
        if waiter is not None:
            if waiter.atask is not None:
                waiter.atask.cancel()
            waiter.finish(outcome.Error(_Abandoned()))

    # -- asyncio awaits trio --------------------------------------------------------

    async def to_trio(self, fn: Callable[..., Awaitable[T]], *args: object, **kwargs: Any) -> T:
        """In asyncio: run ``fn(*args, **kwargs)`` as a trio task and await its result.

        Cancelling the asyncio side cancels the trio task.
        """
        future: asyncio.Future[T] = self.loop.create_future()
        self.nursery.start_soon(_serve_future, future, fn, args, kwargs)
        return await future

    # -- the end --------------------------------------------------------------------

    def _cancel_all(self) -> bool:
        """Cancel every task not asked yet; whether there was one."""
        fresh = [task for task in self.tasks if task not in self._asked]
        for task in fresh:
            self._asked.add(task)
            task.cancel()
        return bool(fresh)

    async def end_tasks(self) -> None:
        """Cancel the actor's asyncio tasks and wait until they ended (a kill interrupts)."""
        self._cancel_all()
        while self.tasks:
            self._idle = trio.Event()
            await self._idle.wait()

    async def after_kill(self, actor: str) -> None:
        """Cancel what is left; briefly wait for tasks cancelled only now; log the rest."""
        self._closed = True
        if self._cancel_all():
            with trio.move_on_after(KILL_GRACE) as waited:
                waited.shield = True
                while self.tasks:
                    self._idle = trio.Event()
                    await self._idle.wait()
        for task in list(self.tasks):
            logger.error(
                "an asyncio task of %s ignored its cancellation and is left running:\n%s",
                actor,
                describe_task(task),
                extra={"actor": actor, "event": "task left"},
            )
            task.remove_done_callback(self._task_done)
        self.tasks.clear()
        self._asked.clear()

    def close(self) -> None:
        """The actor exited: tasks it starts from now on are not tracked."""
        self._closed = True


class AsyncioMailbox(Mailbox):
    """The mailbox of an asyncio actor, whose message loop is one asyncio task.

    A writer wakes that task directly (it sets the future the task awaits); a trio
    caller spins a few ticks before it parks (:data:`SPIN`), so that trio is awake
    when the answer comes and takes it without a hop through its I/O thread.
    """

    __slots__ = ("_future", "side")
    reply_spins = SPIN

    def __init__(self, bound: int, side: AsyncioSide) -> None:
        super().__init__(bound)
        self.side = side
        self._future: asyncio.Future[None] | None = None

    def _wake_reader(self) -> None:
        future = self._future
        if future is not None:
            self._future = None
            if not future.done():
                future.set_result(None)

    async def get(self) -> Envelope:  # an asyncio coroutine, where Mailbox.get is trio's
        """In asyncio: the oldest message, waiting for one if there is none.

        Raises ``CancelledError`` once the actor is stopping (its callback may have
        swallowed the stop's cancellation). With messages waiting, it yields to the
        loop once in :data:`GET_BURST` messages, as a trio actor's ``get`` does.
        """
        if self.side.stopping:
            raise asyncio.CancelledError
        if not self._queue:
            self._streak = 0
            future = self._future = self.side.loop.create_future()
            try:
                await future
            finally:
                self._future = None
        else:
            self._streak += 1
            if self._streak >= GET_BURST:
                self._streak = 0
                await asyncio.sleep(0)
        return self._pop()


async def _serve_future(
    future: asyncio.Future[T],
    fn: Callable[..., Awaitable[T]],
    args: tuple[object, ...],
    kwargs: dict[str, Any],
) -> None:
    with trio.CancelScope() as scope:
        future.add_done_callback(lambda _: scope.cancel())
        try:
            value = await fn(*args, **kwargs)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        except BaseException:
            if not future.done():
                future.cancel()  # the runtime is closing
            raise
        if not future.done():
            future.set_result(value)


#: The asyncio actor whose code is running (its callbacks' context, inherited by its tasks).
ACTOR: contextvars.ContextVar[AsyncioSide | None] = contextvars.ContextVar(
    "letitcrash_asyncio_actor", default=None
)


def track_task(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, Any],
    *,
    context: contextvars.Context | None = None,
) -> asyncio.Task[Any]:
    """The host loop's task factory: a task started in an actor's context is the actor's."""
    task = asyncio.Task(coro, loop=loop, context=context)
    side = ACTOR.get() if context is None else context.get(ACTOR)
    if side is not None:
        side.add(task)
    return task


def describe_task(task: asyncio.Task[Any]) -> str:
    """``task`` and its stack, as ``Task.print_stack`` writes them."""
    out = io.StringIO()
    task.print_stack(file=out)
    return f"{task!r}\n{out.getvalue()}"
