"""Program children that may survive us: a record on disk, and stopping them at the next start.

Inside ``with record_programs(path):`` every program child this process starts
(:class:`~spawn.ProgramChild`) is written to the file ``path``: its pid (also its
process group's id) and its start time from ``/proc/<pid>/stat``, so that a
recycled pid is never taken for it; it is removed once reaped. The file is
replaced atomically (a temporary file renamed over it) and is mode 0600. If this
process dies by ``kill -9``, its program children die of their parent-death
signal, but what they started in their process group lives on:
:func:`stop_survivors` at the next start stops those groups (SIGTERM, then SIGKILL).
One record per process (one daemon per process); without ``record_programs``
nothing is written.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "programs.json")
>>> with record_programs(path):
...     pass
>>> stop_survivors(path)
[]
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

#: How long :func:`stop_survivors` waits after SIGTERM before SIGKILL, by default.
SURVIVOR_BUDGET: Final = 2.0
_POLL: Final = 0.02


@dataclass(frozen=True, slots=True)
class _Entry:
    pid: int
    start: int


class _Record:
    """The programs alive now, and the file they are written to."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.entries: dict[int, _Entry] = {}

    def write(self) -> None:
        rows = [{"pid": e.pid, "pgid": e.pid, "start": e.start} for e in self.entries.values()]
        write_private(self.path, json.dumps({"programs": rows}).encode())


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file ``path`` with ``data`` at once (a temporary file renamed over it),
    mode 0600.

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_private(os.path.join(tmp, "f"), b"hi")
    ...     print(oct(os.stat(os.path.join(tmp, "f")).st_mode & 0o777))
    0o600
    """
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with open(fd, "wb") as file:
        os.fchmod(fd, 0o600)  # a stale temporary file of another mode is reused
        file.write(data)
    os.replace(tmp, path)


_RECORD: list[_Record] = []  # process-wide: at most one, the daemon's


@contextlib.contextmanager
def record_programs(path: str | os.PathLike[str]) -> Iterator[None]:
    """Record every program child started in this process in the file ``path``, meanwhile.

    The file holds the programs alive now; it is written at entry (empty) and at
    every start and reap. Raises :class:`RuntimeError` when a record is already
    kept (one per process).
    """
    if _RECORD:
        raise RuntimeError(f"program children are already recorded in {_RECORD[0].path}")
    record = _Record(os.fspath(path))
    record.write()
    _RECORD.append(record)
    try:
        yield
    finally:
        _RECORD.clear()


def record_program(pid: int) -> None:
    """Program child ``pid`` (unreaped, so its pid is still its own) has started."""
    if _RECORD and (start := start_time(pid)) is not None:
        _RECORD[0].entries[pid] = _Entry(pid, start)
        _RECORD[0].write()


def forget_program(pid: int) -> None:
    """Program child ``pid`` was reaped, with no process of its group left."""
    if _RECORD and _RECORD[0].entries.pop(pid, None) is not None:
        _RECORD[0].write()


def start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat``); None if gone."""
    stat = _stat(pid)
    return None if stat is None else int(stat[19])


def _stat(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after the command's name (state first)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            return file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def stop_survivors(path: str | os.PathLike[str], budget: float = SURVIVOR_BUDGET) -> list[int]:
    """Stop the process groups recorded in ``path`` by an earlier run; the ids of those stopped.

    A group counts as a survivor when its leader still runs with the recorded start
    time, or, once its leader is gone, while processes started after it remain in
    it; a pid now held by another process (another start time) is left alone. Each
    survivor gets SIGTERM, then SIGKILL if anything of it is left after ``budget``
    seconds. The file is removed afterwards. Blocks (call it before the event loop,
    or in a thread).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as file:
            rows = json.load(file)["programs"]
        entries = [_Entry(int(row["pgid"]), int(row["start"])) for row in rows]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a record of program children: {exc}") from exc
    found = [entry.pid for entry in entries if _members(entry)]
    _signal_groups(found, signal.SIGTERM)
    deadline = time.monotonic() + budget
    left = found
    while left and time.monotonic() < deadline:
        time.sleep(_POLL)
        left = [pgid for pgid in left if _members_of(pgid)]
    _signal_groups(left, signal.SIGKILL)
    os.unlink(path)
    return found


def _members(entry: _Entry) -> list[int]:
    """The live processes of the recorded group ``entry``, if it is still that group."""
    leader = start_time(entry.pid)
    if leader is not None and leader != entry.start:
        return []  # the pid is another process's now, and so is the group of that id
    return [pid for pid, start in _members_of(entry.pid) if start >= entry.start]


def _members_of(pgid: int) -> list[tuple[int, int]]:
    """``(pid, start time)`` of each live process (not a zombie) in process group ``pgid``."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = _stat(int(name))
        if stat is not None and stat[0] != b"Z" and int(stat[2]) == pgid:
            members.append((int(name), int(stat[19])))
    return members


def _signal_groups(groups: list[int], sig: int) -> None:
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
