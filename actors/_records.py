"""What the runtime hands out besides refs: its statistics, and watches on one actor's exit."""

from __future__ import annotations

from dataclasses import dataclass

import trio

from ._cell import Cell
from ._reasons import NOPROC, ExitReason


@dataclass(frozen=True, slots=True)
class RuntimeStatistics:
    """A snapshot of :meth:`Runtime.statistics`."""

    actors: int  #: alive now
    spawned: int  #: started since the runtime opened (init returned)
    exited: int  #: exited since the runtime opened
    dead_letters: int  #: messages dropped because their target was dead
    names: int  #: registered names
    tasks: int  #: trio tasks the runtime runs (actors and pending timers)
    workers: int = 0  #: worker processes hosting this runtime's process actors now
    spare_workers: int = 0  #: started workers kept warm for the next process actor


class ExitWatch:
    """Made by :meth:`Runtime.watch`: the exit of one actor, awaited from plain code.

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
