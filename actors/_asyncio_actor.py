"""The asyncio flavour of an actor: callbacks that are asyncio coroutines.

An :class:`AsyncioActor` is an :class:`~actors.Actor` whose ``init``,
``handle_call``, ``handle_cast``, ``handle_info`` and ``terminate`` are asyncio
coroutines, run as tasks of the host loop (uvloop, with trio as its guest); the
runtime awaits them through the bridge of :mod:`actors._aio`. Everything else is
an actor's: its mailbox, links, monitors, name, supervision and shutdown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._behaviour import A, Actor
from ._exceptions import CallToSelf
from ._persistent import is_persistent
from ._ref import DEFAULT_CALL_TIMEOUT, ActorRef, NamedRef

if TYPE_CHECKING:
    from ._aio import AsyncioSide
    from ._persistent import Durability
    from ._placement import Placement, WorkerOptions
    from ._reasons import ExitReason


class AsyncioActor(Actor):
    """An actor whose callbacks are asyncio coroutines (asyncio libraries work in them).

    It runs as a task where trio is the guest of a uvloop loop: in a root started
    with :func:`~actors.run_on_uvloop`, or in a worker process (placed there, its
    worker runs on uvloop). Anywhere else its spawn raises :class:`~actors.NoHostLoop`.
    In its callbacks and the tasks they start, use the asyncio forms below
    (``await self.call(ref, ...)``; a ref's own ``call`` is for trio code); the
    plain methods of :class:`~actors.Actor` (``reply``, ``monitor``, ``link``,
    ``send_after``, ``join``, ...) work as they are. Tasks started with
    ``asyncio.create_task`` belong to the actor: its stop cancels them.

    >>> import asyncio
    >>> from actors import AsyncioActor, Caller, Reply, open_runtime, run_on_uvloop
    >>> class Sleeper(AsyncioActor):
    ...     async def handle_call(self, request: float, caller: Caller) -> Reply:
    ...         await asyncio.sleep(request)  # asyncio code
    ...         return Reply(type(asyncio.get_running_loop()).__name__)
    >>> async def main() -> None:
    ...     async with open_runtime() as runtime:
    ...         sleeper = await runtime.spawn(Sleeper)
    ...         print(await sleeper.call(0.01))  # from trio code
    >>> run_on_uvloop(main)
    Loop
    """

    @property
    def _side(self) -> AsyncioSide:
        side = self._cell.aio
        assert side is not None, "an asyncio actor has its asyncio side from its spawn"
        return side

    async def call(
        self,
        target: ActorRef | NamedRef,
        request: object,
        *,
        timeout: float | None = DEFAULT_CALL_TIMEOUT,
    ) -> Any:
        """From asyncio: ``target.call(request, timeout=timeout)`` (raises as that does)."""
        holder = target if isinstance(target, ActorRef) else target.whereis()
        if holder == self.ref:
            raise CallToSelf(f"{self.ref} called itself")
        return await self._side.to_trio(self.runtime.call, target, request, timeout=timeout)

    async def cast(self, target: ActorRef | NamedRef, message: object) -> None:
        """From asyncio: ``target.cast(message)``, waiting while its mailbox is full."""
        await self._side.to_trio(self.runtime.cast, target, message)

    async def send(self, target: ActorRef | NamedRef, message: object) -> None:
        """From asyncio: ``target.send(message)``, waiting while its mailbox is full."""
        await self._side.to_trio(self.runtime.send, target, message)

    async def stop(
        self, target: ActorRef, reason: ExitReason | None = None, *, timeout: float | None = 5.0
    ) -> ExitReason:
        """From asyncio: ``runtime.stop(target, reason, timeout=timeout)``."""
        if reason is None:
            return await self._side.to_trio(self.runtime.stop, target, timeout=timeout)
        return await self._side.to_trio(self.runtime.stop, target, reason, timeout=timeout)

    async def spawn(
        self,
        cls: type[A],
        *args: Any,
        link: bool = False,
        name: str | None = None,
        mailbox_size: int | None = None,
        placement: Placement = "task",
        worker_options: WorkerOptions | None = None,
        key: str | None = None,
        durability: Durability | None = None,
    ) -> ActorRef:
        """From asyncio: as :meth:`Actor.spawn <actors.Actor.spawn>`."""
        spawn = super().spawn
        return await self._side.to_trio(
            spawn,
            cls,
            *args,
            link=link,
            name=name,
            mailbox_size=mailbox_size,
            placement=placement,
            worker_options=worker_options,
            key=key,
            durability=durability,
        )

    async def start(
        self, fn: Callable[..., Awaitable[object]], *args: object, name: object = None
    ) -> Any:
        """From asyncio: start the *trio* function ``fn`` as an owned task, as
        :meth:`Actor.start <actors.Actor.start>` does (``start_soon`` works as it is)."""
        start = super().start
        return await self._side.to_trio(start, fn, *args, name=name)


def is_asyncio(cls: type[Actor]) -> bool:
    """Whether ``cls`` is an asyncio actor (TypeError for one that is also Persistent)."""
    if not issubclass(cls, AsyncioActor):
        return False
    if is_persistent(cls):
        raise TypeError(f"{cls.__qualname__}: an AsyncioActor cannot be Persistent (yet)")
    return True
