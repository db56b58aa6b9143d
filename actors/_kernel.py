"""The kernel: the one owner of a runtime's actors, names, links, monitors, groups and exits.

These are OTP's primitives (``link``, ``monitor``, ``register``, exit
signals), below the behaviour loop and beside distribution. Everything else
in :mod:`actors` reaches the kernel's state through its methods. It knows
nothing of other nodes: a foreign ref is resolved, and the news of local
exits, names and groups is passed on, through the small :class:`Distribution`
protocol it defines. A cell of an actor on another node (a proxy) behaves like
any cell here; what it does differently, it does itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

import outcome

from ._calls import answer
from ._cell import Cell, LocalCell
from ._exceptions import ActorExited, NameTaken, NoSuchActor
from ._groups import Groups
from ._mailbox import CALL, SYSTEM
from ._messages import Down, Exit
from ._reasons import NOPROC, ExitReason, NoProc
from ._ref import ActorRef, Messenger, MonitorRef, NamedRef


class Distribution(Protocol):
    """What the kernel asks of the layer that connects it to other nodes."""

    def proxy(self, ref: ActorRef) -> Cell | None:
        """The cell standing for a foreign actor (made on first use); None if unreachable."""

    def known(self, ref: ActorRef) -> Cell | None:
        """The cell of a foreign actor if there is one already (none is made)."""

    def local_exited(self, cell: Cell, reason: ExitReason) -> None:
        """A local actor exited: tell the nodes that hold a proxy of it."""

    def name_changed(self, name: str, ref: ActorRef | None) -> None:
        """A name was registered (``ref``) or released (None) here."""

    def group_changed(self, group: str, ref: ActorRef, *, joined: bool) -> None:
        """A local actor joined or left ``group``."""


class _NoDistribution:
    """A runtime with no other node: every foreign ref is unreachable."""

    def proxy(self, ref: ActorRef) -> Cell | None:
        return None

    def known(self, ref: ActorRef) -> Cell | None:
        return None

    def local_exited(self, cell: Cell, reason: ExitReason) -> None:
        pass

    def name_changed(self, name: str, ref: ActorRef | None) -> None:
        pass

    def group_changed(self, group: str, ref: ActorRef, *, joined: bool) -> None:
        pass


class Kernel:
    """Owns the cells of one node (``node``) and everything that relates them."""

    def __init__(self, node: str, messenger: Messenger) -> None:
        self.node = node
        self.groups = Groups()
        self._messenger = messenger  # what refs made here send through
        self._cells: dict[int, LocalCell] = {}
        #: The local actors by id, alive or exiting (read-only to others: the router's
        #: ``.get`` on every frame for an actor, without a call of :meth:`local`).
        self.cells: Mapping[int, LocalCell] = self._cells
        self._names: dict[str, Cell] = {}
        self._ids = itertools.count(1)
        self._distribution: Distribution = _NoDistribution()
        self._connected = False
        self._spawned = 0
        self._exited = 0
        self._dead_letters = 0

    def attach(self, distribution: Distribution) -> None:
        """Connect this node to others (once, before any foreign ref is used)."""
        if self._connected:
            raise RuntimeError(f"node {self.node} is connected already")
        self._distribution = distribution
        self._connected = True

    # -- refs and cells ---------------------------------------------------------------

    def ref(self, node: str, ident: int) -> ActorRef:
        """The ref of actor ``ident`` on ``node``, bound to this runtime."""
        return ActorRef(node, ident, self._messenger)

    def new_ref(self) -> ActorRef:
        return ActorRef(self.node, next(self._ids), self._messenger)

    def new_monitor(self) -> MonitorRef:
        return MonitorRef(self.node, next(self._ids))

    def add(self, cell: LocalCell) -> None:
        """A local actor is starting."""
        self._cells[cell.ref.id] = cell

    def local(self, ident: int) -> LocalCell | None:
        """The local actor ``ident``, if it is alive (or exiting)."""
        return self._cells.get(ident)

    def local_cells(self) -> list[LocalCell]:
        """Every local actor, newest first (the order in which a runtime stops them)."""
        return sorted(self._cells.values(), key=lambda cell: cell.ref.id, reverse=True)

    def lookup(self, address: ActorRef | NamedRef) -> Cell | None:
        """The live cell ``address`` names now (a foreign one through distribution)."""
        if type(address) is ActorRef:
            if address.node == self.node:
                return self._cells.get(address.id)
            return self._distribution.proxy(address)
        if type(address) is NamedRef:
            return self._names.get(address.name)
        raise TypeError(f"not an actor address: {address!r}")

    def existing(self, ref: ActorRef) -> Cell | None:
        """As :meth:`lookup`, but a foreign actor never met is not looked up."""
        if ref.node == self.node:
            return self._cells.get(ref.id)
        return self._distribution.known(ref)

    def started(self, cell: LocalCell) -> None:
        """``cell``'s init returned: from now on it has links and counts as spawned."""
        cell.started = True
        self._spawned += 1

    def dead_letter(self) -> None:
        """A message was dropped: its target was dead."""
        self._dead_letters += 1

    # -- names ------------------------------------------------------------------------

    def register(self, name: str, cell: Cell) -> None:
        """Give ``cell`` the name ``name`` until it exits. Raises :class:`NameTaken`."""
        self.check_name(name)
        if cell.name is not None:
            raise ValueError(f"{cell.ref} is already registered as {cell.name!r}")
        self._names[name] = cell
        cell.name = name
        self._distribution.name_changed(name, cell.ref)

    def check_name(self, name: str) -> None:
        """Raise :class:`NameTaken` (or ``TypeError``) unless ``name`` could be registered."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a name is a non-empty str, not {name!r}")
        holder = self._names.get(name)
        if holder is not None:
            raise NameTaken(name, holder.ref)

    def unregister(self, name: str) -> bool:
        cell = self._names.pop(name, None)
        if cell is None:
            return False
        cell.name = None
        self._distribution.name_changed(name, None)
        return True

    def whereis(self, name: str) -> ActorRef | None:
        cell = self._names.get(name)
        return None if cell is None else cell.ref

    def names(self) -> Mapping[str, ActorRef]:
        """The registry now, name -> ref (a snapshot)."""
        return MappingProxyType({name: cell.ref for name, cell in self._names.items()})

    def replicate_name(self, name: str, ref: ActorRef | None) -> None:
        """Another node's registry changed (the root's, replicated here)."""
        old = self._names.pop(name, None)
        if old is not None:
            old.name = None
        if ref is not None:
            cell = self.lookup(ref)
            if cell is not None and not cell.exited:
                self._names[name] = cell
                cell.name = name

    # -- links, monitors and exit signals ----------------------------------------------

    def link(self, a: Cell, b: Cell, *, tell: bool = True) -> None:
        """Link two cells; with ``tell``, each is told (a proxy tells its node)."""
        if a is b:
            return
        a.links.add(b)
        b.links.add(a)
        if tell:
            a.linked(b)
            b.linked(a)

    def link_to(self, cell: LocalCell, target: ActorRef) -> None:
        """``cell`` links to ``target``; a dead target is an exit message or an error."""
        other = self.lookup(target)
        if other is None:
            if cell.actor.trap_exits:
                cell.mailbox.put_system((SYSTEM, Exit(target, NOPROC), None, None))
                return
            raise NoSuchActor(f"cannot link to {target}: it is not alive")
        self.link(cell, other)

    def unlink(self, a: Cell, b: Cell, *, tell: bool = True) -> None:
        a.links.discard(b)
        b.links.discard(a)
        if tell:
            a.unlinked(b)
            b.unlinked(a)

    def monitor(self, watcher: Cell, target: ActorRef | NamedRef) -> MonitorRef:
        monitor = self.new_monitor()
        cell = self.lookup(target)
        if cell is None:
            watcher.mailbox.put_system((SYSTEM, Down(monitor, target, NOPROC), None, None))
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

    def signal(self, target: Cell, sender: ActorRef, reason: ExitReason) -> None:
        """An exit signal from ``sender`` reaches ``target`` (unless it is gone)."""
        if not target.exited:
            target.signal_exit(sender, reason)

    # -- groups -----------------------------------------------------------------------

    def join(self, group: str, cell: Cell) -> None:
        self.groups.join(group, cell)
        self._distribution.group_changed(group, cell.ref, joined=True)

    def leave(self, group: str, cell: Cell) -> bool:
        left = self.groups.leave(group, cell)
        if left:
            self._distribution.group_changed(group, cell.ref, joined=False)
        return left

    # -- exits ------------------------------------------------------------------------

    def exit_local(self, cell: LocalCell) -> None:
        """Everything that happens, at once, when a local actor has exited."""
        del self._cells[cell.ref.id]
        for kind, _, _, _ in cell.mailbox.close():
            if kind != SYSTEM and kind != CALL:
                self._dead_letters += 1
        for timer in cell.timers:
            timer.cancel()
        if cell.started:
            self._exited += 1
            self._distribution.local_exited(cell, cell.reason)
        self._notify_exit(cell, cell.reason, fire_links=cell.started)

    def exit_proxy(self, cell: Cell, reason: ExitReason, *, node_down: bool) -> None:
        """A foreign actor exited: its node said so, or the node is gone (``node_down``).

        Links fire, and pending calls fail, here only when the node is gone;
        otherwise the node that hosted the actor sends each linked actor its exit
        signal and answers each call that reached it (with the exit reason if the
        call was in the mailbox, else no such actor) itself.
        """
        if cell.exited:
            return
        cell.reason = reason
        cell.mailbox.close()
        self._notify_exit(cell, reason, fire_links=node_down, fail_calls=node_down)

    def _notify_exit(
        self, cell: Cell, reason: ExitReason, *, fire_links: bool, fail_calls: bool = True
    ) -> None:
        """What an exit means to everyone else: names, calls, links, monitors, groups."""
        cell.exited = True
        ref = cell.ref
        if cell.name is not None and self._names.get(cell.name) is cell:
            del self._names[cell.name]
            self._distribution.name_changed(cell.name, None)
        if cell.pending and fail_calls:
            exc: Exception
            if isinstance(reason, NoProc):  # it was dead before the call reached it
                exc = NoSuchActor(f"{ref} is not alive")
            else:
                exc = ActorExited(ref, reason)
            error = outcome.Error(exc)
            for caller in list(cell.pending):
                answer(caller, error)
        if cell.started:
            for other in cell.links:
                other.links.discard(cell)
                if fire_links:
                    self.signal(other, ref, reason)
            for monitor, watcher in cell.monitors.items():
                del watcher.watching[monitor]
                watcher.mailbox.put_system((SYSTEM, Down(monitor, ref, reason), None, None))
            self.groups.drop(cell)
        # Monitors it held go whether or not it started: one whose init monitored an
        # actor and then failed must leave nothing on that actor to notify later.
        for monitor, target in cell.watching.items():
            target.monitors.pop(monitor, None)
        cell.links.clear()
        cell.monitors.clear()
        cell.watching.clear()
        cell.done.set()

    # -- counts -----------------------------------------------------------------------

    def counts(self) -> tuple[int, int, int, int, int]:
        """(actors alive, spawned, exited, dead letters, names) since the kernel began."""
        return len(self._cells), self._spawned, self._exited, self._dead_letters, len(self._names)
