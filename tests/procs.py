"""Processes seen through /proc: stdlib only, for the leak check and the subreaper wrapper."""

from __future__ import annotations

import os


def child_states(of: int | None = None) -> dict[int, str]:
    """Pid -> state letter (``Z`` for a zombie) of each process whose parent is ``of``.

    ``of`` defaults to this process.
    """
    parent = os.getpid() if of is None else of
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found[int(name)] = fields[0].decode()
    return found


def children(of: int | None = None) -> set[int]:
    """Pids whose parent is ``of`` (default: this process), zombies included."""
    return set(child_states(of))
