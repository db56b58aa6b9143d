"""Where each child of a tree runs now (by path), and what waits for it while it restarts."""

from __future__ import annotations

import enum
from collections import deque

import trio

from actors import ActorRef, MailboxFull, Runtime

from ._exceptions import StashFull


class Status(enum.Enum):
    RUNNING = "running"
    WAITING = "waiting"  # restarting under backoff: sends are stashed
    STOPPED = "stopped"


class Entry:
    """One child path: its current (or last) incarnation and its stash."""

    __slots__ = ("callers", "changed", "ref", "stash", "stash_size", "status")

    def __init__(self) -> None:
        self.status = Status.STOPPED
        self.ref: ActorRef | None = None  # the running or the last incarnation
        self.stash: deque[tuple[bool, object]] = deque()  # (is_cast, message)
        self.stash_size = 0
        self.callers = 0  # calls waiting for the restart
        self.changed = trio.Event()

    def hold(self, is_cast: bool, message: object, path: str) -> None:
        """Stash a message for the next incarnation, or raise :class:`StashFull`."""
        if len(self.stash) + self.callers >= self.stash_size:
            raise StashFull(
                f"child {path!r} is waiting to restart and its stash is full "
                f"({self.stash_size} messages)"
            )
        self.stash.append((is_cast, message))

    def hold_caller(self, path: str) -> None:
        """Count one more call waiting for the restart, or raise :class:`StashFull`."""
        if len(self.stash) + self.callers >= self.stash_size:
            raise StashFull(
                f"child {path!r} is waiting to restart and its stash is full "
                f"({self.stash_size} messages)"
            )
        self.callers += 1

    def _set(self, status: Status, ref: ActorRef | None) -> None:
        self.status = status
        if ref is not None:
            self.ref = ref
        self.changed.set()
        self.changed = trio.Event()


class Directory:
    """Per tree: path -> :class:`Entry`. Kept by the tree's supervisors, read at every send."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def get(self, path: str) -> Entry | None:
        return self._entries.get(path)

    def running(self, path: str, ref: ActorRef) -> list[tuple[bool, object]]:
        """``path`` runs as ``ref`` now; returns the stashed messages to deliver to it first."""
        entry = self._entries.setdefault(path, Entry())
        stashed = list(entry.stash)
        entry.stash.clear()
        entry._set(Status.RUNNING, ref)
        return stashed

    def waiting(self, path: str, stash_size: int) -> None:
        entry = self._entries.setdefault(path, Entry())
        entry.stash_size = stash_size
        entry._set(Status.WAITING, None)

    def stopped(self, path: str) -> None:
        entry = self._entries.get(path)
        if entry is not None:
            entry.stash.clear()
            entry._set(Status.STOPPED, None)

    def remove(self, path: str) -> None:
        entry = self._entries.pop(path, None)
        if entry is not None:
            entry.stash.clear()
            entry._set(Status.STOPPED, None)


def deliver(runtime: Runtime, ref: ActorRef, stashed: list[tuple[bool, object]]) -> int:
    """Send stashed messages to a new incarnation, in order; returns how many were dropped.

    Not a checkpoint: nothing else reaches ``ref`` before its stash.
    """
    for index, (is_cast, message) in enumerate(stashed):
        try:
            if is_cast:
                runtime.cast_nowait(ref, message)
            else:
                runtime.send_nowait(ref, message)
        except MailboxFull:
            return len(stashed) - index
    return 0
