"""What a :class:`~actors.Runtime` passes straight to its kernel: links, monitors, groups, names."""

from __future__ import annotations

from ._cell import Cell, LocalCell
from ._exceptions import NoSuchActor
from ._kernel import Kernel
from ._ref import ActorRef, MonitorRef, NamedRef


class KernelFacade:
    """The runtime's kernel operations (a base of :class:`~actors.Runtime`)."""

    _kernel: Kernel

    def link(self, cell: Cell, target: ActorRef) -> None:
        assert isinstance(cell, LocalCell), "only a local actor links itself"
        self._kernel.link_to(cell, target)

    def unlink(self, cell: Cell, target: ActorRef) -> None:
        other = self._kernel.lookup(target)
        if other is not None:
            self._kernel.unlink(cell, other)

    def monitor(self, watcher: Cell, target: ActorRef | NamedRef) -> MonitorRef:
        return self._kernel.monitor(watcher, target)

    def demonitor(self, watcher: Cell, monitor: MonitorRef, *, flush: bool) -> bool:
        return self._kernel.demonitor(watcher, monitor, flush=flush)

    def join(self, group: str, cell: Cell) -> None:
        """``cell`` joins ``group``; in a worker the root is told, as it keeps the groups."""
        self._kernel.join(group, cell)

    def leave(self, group: str, cell: Cell) -> bool:
        return self._kernel.leave(group, cell)

    def register(self, name: str, ref: ActorRef) -> None:
        """Give ``ref`` the name ``name`` until it exits. Raises :class:`NameTaken`."""
        cell = self._kernel.lookup(ref)
        if cell is None:
            raise NoSuchActor(f"cannot register {name!r}: {ref} is not alive")
        self._kernel.register(name, cell)

    def unregister(self, name: str) -> bool:
        return self._kernel.unregister(name)

    def whereis(self, name: str) -> ActorRef | None:
        return self._kernel.whereis(name)
