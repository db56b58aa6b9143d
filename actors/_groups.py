"""Process groups in the spirit of Erlang's ``pg``: counted membership, watchers."""

from __future__ import annotations

from collections.abc import Iterable

from ._cell import Cell
from ._mailbox import SYSTEM
from ._messages import GroupJoined, GroupLeft
from ._ref import ActorRef


class Groups:
    """The groups of one runtime. An actor joins as often as it likes and leaves as often.

    Members leave every group when they exit; watchers are told of each change.
    """

    def __init__(self) -> None:
        self._members: dict[str, list[Cell]] = {}
        self._watchers: dict[str, set[Cell]] = {}
        self._watched_by: dict[Cell, set[str]] = {}

    def members(self, group: str) -> list[ActorRef]:
        """The members of ``group``, once per join, in joining order."""
        return [cell.ref for cell in self._members.get(group, ())]

    def which_groups(self) -> list[str]:
        return list(self._members)

    def join(self, group: str, cell: Cell) -> None:
        _check_group(group)
        if cell.exited:
            return
        self._members.setdefault(group, []).append(cell)
        cell.groups[group] = cell.groups.get(group, 0) + 1
        self._notify(group, GroupJoined(group, (cell.ref,)))

    def leave(self, group: str, cell: Cell) -> bool:
        count = cell.groups.get(group, 0)
        if not count:
            return False
        if count == 1:
            del cell.groups[group]
        else:
            cell.groups[group] = count - 1
        members = self._members[group]
        members.remove(cell)
        if not members:
            del self._members[group]
        self._notify(group, GroupLeft(group, (cell.ref,)))
        return True

    def watch(self, group: str, watcher: Cell) -> list[ActorRef]:
        _check_group(group)
        self._watchers.setdefault(group, set()).add(watcher)
        self._watched_by.setdefault(watcher, set()).add(group)
        return self.members(group)

    def unwatch(self, group: str, watcher: Cell) -> None:
        watchers = self._watchers.get(group)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[group]
        groups = self._watched_by.get(watcher)
        if groups is not None:
            groups.discard(group)
            if not groups:
                del self._watched_by[watcher]

    def drop(self, cell: Cell) -> None:
        """``cell`` exited: it leaves every group and watches nothing more."""
        for group in list(self._watched_by.get(cell, ())):
            self.unwatch(group, cell)
        for group, count in list(cell.groups.items()):
            members = self._members[group]
            self._members[group] = rest = [m for m in members if m is not cell]
            if not rest:
                del self._members[group]
            self._notify(group, GroupLeft(group, (cell.ref,) * count))
        cell.groups.clear()

    def _notify(self, group: str, event: GroupJoined | GroupLeft) -> None:
        watchers: Iterable[Cell] = self._watchers.get(group, ())
        for watcher in watchers:
            watcher.mailbox.put_system((SYSTEM, event, None, None))


def _check_group(group: object) -> None:
    if not isinstance(group, str) or not group:
        raise TypeError(f"a group is a non-empty str, not {group!r}")
