"""Trio as a guest of uvloop on the main thread: the host runner of asyncio actors.

:func:`run_on_uvloop` is ``trio.run`` with uvloop as the host loop: the asyncio
callbacks of :class:`~actors.AsyncioActor` run as tasks of that loop, on the same
thread as trio (trio's guest mode waits for I/O on a thread of its own, which runs
no event loop). Signals stay with trio (its SIGINT handler, its signal receivers):
the loop is not started with ``uvloop.run``, which would own SIGINT, and it runs
until trio's done callback, so trio's cleanup (``finally`` blocks, a runtime's
orderly stop) runs before the loop closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar, TypeVarTuple, Unpack

import outcome
import trio
import uvloop

from ._aio import describe_task, track_task

logger = logging.getLogger("actors")

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: The asyncio loop that hosts this trio run, when it runs under :func:`run_on_uvloop`.
HOST_LOOP: trio.lowlevel.RunVar[asyncio.AbstractEventLoop] = trio.lowlevel.RunVar("host_loop")
#: How long tasks left on the loop after trio finished have to end once cancelled.
LEFTOVER_GRACE: Final = 1.0


def run_on_uvloop(async_fn: Callable[[Unpack[Ts]], Awaitable[T]], *args: *Ts) -> T:
    """Run ``async_fn(*args)`` in trio, as a guest of a uvloop loop on this thread.

    As ``trio.run``: returns what ``async_fn`` returns, raises what it raises
    (Ctrl-C included, as ``KeyboardInterrupt``). Inside it, trio code and asyncio
    code (``asyncio.get_running_loop()`` is the ``uvloop.Loop``) share the thread,
    and :class:`~actors.AsyncioActor` can be spawned as tasks. Tasks still on the
    loop when trio is done are cancelled; one that ignores it is logged and left.

    >>> import asyncio
    >>> async def main() -> str:
    ...     await trio.sleep(0)
    ...     return type(asyncio.get_running_loop()).__module__
    >>> run_on_uvloop(main)
    'uvloop'
    """
    loop = uvloop.new_event_loop()
    loop.set_task_factory(track_task)  # type: ignore[arg-type]  # typeshed: no context=
    results: list[outcome.Outcome[T]] = []
    scope = trio.CancelScope()

    def done(result: outcome.Outcome[T]) -> None:
        results.append(result)
        loop.stop()

    trio.lowlevel.start_guest_run(
        _guest,
        loop,
        scope,
        async_fn,
        args,
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        run_sync_soon_not_threadsafe=loop.call_soon,
        done_callback=done,
        host_uses_signal_set_wakeup_fd=True,
        strict_exception_groups=True,
    )
    escaped: BaseException | None = None
    try:
        while not results:
            try:
                loop.run_forever()
            except BaseException as exc:  # from a host callback: trio must still finish
                escaped = escaped or exc
                loop.call_soon(scope.cancel)
    finally:
        _close(loop)
    if escaped is not None:
        raise escaped
    return results[0].unwrap()


async def _guest(
    loop: asyncio.AbstractEventLoop,
    scope: trio.CancelScope,
    async_fn: Callable[[Unpack[Ts]], Awaitable[T]],
    args: tuple[*Ts],
) -> T:
    HOST_LOOP.set(loop)
    with scope:
        return await async_fn(*args)
    raise RuntimeError("cancelled: a callback on the host loop raised")


def host_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop hosting the current trio run, or None under a plain ``trio.run``."""
    try:
        return HOST_LOOP.get()
    except LookupError:
        return None


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on the loop, give it a moment, log what ignores it, close."""
    left = asyncio.all_tasks(loop)
    for task in left:
        task.cancel()
    if left:
        loop.run_until_complete(asyncio.wait(left, timeout=LEFTOVER_GRACE))
    for task in left:
        if not task.done():
            logger.error(
                "an asyncio task ignored its cancellation and was left at the loop's close:\n%s",
                describe_task(task),
                extra={"event": "task left"},
            )
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
