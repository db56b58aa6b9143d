"""The child processes this process owns: registered at spawn, forgotten once reaped.

``waitpid`` is process-wide, so this registry is too. A pid is *owned* while a
handle (a :class:`~spawn.Process`) will reap it; the orphan reaper
(:func:`~spawn.open_reaper`) reaps only children that nothing owns, so it never
takes an exit status from a pidfd waiter. :func:`spawn_owned` spawns and
registers under one lock, which the reaper also holds while it decides, so a
child that has just been spawned is never seen as unowned. Stdlib only and free
of trio (``SpawnTemplate`` imports it).

>>> import sys
>>> from spawn import Process, SpawnTemplate
>>> template = SpawnTemplate.program([sys.executable, "-I", "-S", "-c", "pass"], env={})
>>> process = Process.spawn(template)
>>> process.pid in owned_pids()
True
>>> import trio
>>> trio.run(process.wait)
0
>>> process.pid in owned_pids()
False
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable

_LOCK = threading.Lock()
_OWNED: set[int] = set()


def spawn_owned(start: Callable[[], int]) -> int:
    """Run ``start`` (it spawns one child and returns its pid) and own the pid, atomically."""
    with _LOCK:
        pid = start()
        _OWNED.add(pid)
    return pid


def own(pid: int) -> None:
    """Mark ``pid`` as owned: the orphan reaper leaves it alone until :func:`disown`."""
    with _LOCK:
        _OWNED.add(pid)


def disown(pid: int) -> None:
    """Forget ``pid``: its owner reaped it."""
    with _LOCK:
        _OWNED.discard(pid)


def owned_pids() -> frozenset[int]:
    """The pids owned now (a snapshot)."""
    with _LOCK:
        return frozenset(_OWNED)


def child_states(parent: int | None = None) -> dict[int, str]:
    """Pid -> state letter (``R``, ``S``, ``Z``...) of every process whose parent is ``parent``.

    ``parent`` defaults to this process. Read from ``/proc``, zombies included.
    """
    parent = os.getpid() if parent is None else parent
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _stat(int(name))) is not None and stat[1] == parent:
            found[int(name)] = stat[0]
    return found


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of ``pid``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return fields[0].decode(), int(fields[1])


def reap_unowned(pids: Iterable[int]) -> list[tuple[int, int]]:
    """``waitpid(pid, WNOHANG)`` each of ``pids`` that nothing owns; return (pid, code) reaped.

    ``code`` is as :attr:`~spawn.Process.returncode` (``-signum`` for a signal).
    """
    reaped = []
    with _LOCK:
        for pid in pids:
            if pid in _OWNED:
                continue
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child (any more)
                continue
            if done:
                reaped.append((pid, os.waitstatus_to_exitcode(status)))
    return reaped


def unowned(pids: Iterable[int]) -> list[int]:
    """Those of ``pids`` that nothing owns."""
    with _LOCK:
        return [pid for pid in pids if pid not in _OWNED]


def prune_owned(children: Iterable[int]) -> None:
    """Forget owned pids that are no child of ours any more (reaped by their owner's own waitpid).

    ``children`` is a scan taken before: an owned pid missing from it is checked
    again under the lock, so a child spawned after the scan stays owned.
    """
    me = os.getpid()
    seen = set(children)
    with _LOCK:
        for pid in [pid for pid in _OWNED if pid not in seen]:
            stat = _stat(pid)
            if stat is None or stat[1] != me:
                _OWNED.discard(pid)
