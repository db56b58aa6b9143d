"""Acknowledged writes through the state store against a bare ``sqlite3`` loop.

``persist``: ``strict_acked_writes N``: N concurrent writers (trio tasks), each
putting an incrementing counter under its own key, put after put, each put
acknowledged only once its transaction committed (WAL, ``synchronous=FULL``),
against a bare ``sqlite3`` loop with the same pragmas committing one write per
transaction, on the same filesystem, in the same run. Every sample checks,
after reopening the store, that each key holds exactly the count its writer
saw acknowledged.

The directory is on the filesystem of the default state directory (not a
tmpfs): ``$XDG_STATE_HOME/letitcrash-bench`` or ``~/.local/state/letitcrash-bench``.
Its filesystem type and the latency of one fsync there are printed first.

The writer is :func:`counter_writer`; a writer is any ``Writer`` (store, key,
count, clock) that does ``count`` acknowledged writes, so the scenario can drive
other writers (persistent actors) without changing the rest. Only the writes are
timed, as the bare loop's are: each writer sets up (its runtime, its actor),
says it is ready, waits for the :class:`Clock` to start, writes, tells the clock
it has finished, then tears down; the clock runs from the start to the last
writer's last acknowledgement.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import msgpack
import trio

from supervisor import StateStore, open_sqlite_store

from ._core import OURS, Case


class Clock:
    """Times the writes of ``writers`` writers, from :meth:`start` to the last :meth:`finished`."""

    def __init__(self, writers: int) -> None:
        self.go = trio.Event()
        self.done = trio.Event()
        self._remaining = writers
        self._started = self.elapsed = 0.0

    def start(self) -> None:
        self._started = time.perf_counter()
        self.go.set()

    def finished(self) -> None:
        """One writer's last write was acknowledged."""
        self._remaining -= 1
        if not self._remaining:
            self.elapsed = time.perf_counter() - self._started
            self.done.set()


#: Sets up, says it is ready (``task_status.started()``), waits for ``clock.go``, does
#: ``count`` acknowledged writes under ``key`` (the value of the n-th is ``n``), tells
#: ``clock.finished()``, then tears down.
Writer = Callable[..., Awaitable[None]]
BARE = "bare sqlite3 loop (FULL, WAL)"
_UPSERT = (
    "INSERT INTO snapshots (key, generation, version, data) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET generation = excluded.generation, "
    "version = excluded.version, data = excluded.data"
)


async def counter_writer(
    store: StateStore, key: str, count: int, clock: Clock, *, task_status: trio.TaskStatus[None]
) -> None:
    task_status.started()
    await clock.go.wait()
    for n in range(1, count + 1):
        await store.put(key, 1, n, msgpack.packb(n))
    clock.finished()


def bench_dir() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    path = Path(state_home) / "letitcrash-bench"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def filesystem_type(path: Path) -> str:
    """The type of the filesystem ``path`` is on, from the longest mount point above it."""
    real, best, kind = os.path.realpath(path), "", "unknown"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1].replace("\\040", " ")
            inside = real == point or real.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, kind = point, fields[2]
    return kind


def fsync_latency(directory: Path, rounds: int) -> float:
    """Median seconds of one 4 kB write + fsync in ``directory``."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    times = []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)


async def _ours(state_dir: Path, writers: int, per_writer: int, writer: Writer) -> float:
    clock = Clock(writers)
    async with open_sqlite_store(state_dir) as store, trio.open_nursery() as nursery:
        for w in range(writers):
            await nursery.start(writer, store, f"writer/{w}", per_writer, clock)
        clock.start()
        await clock.done.wait()
    async with open_sqlite_store(state_dir) as store:
        for w in range(writers):
            _check(f"writer/{w}", await store.get(f"writer/{w}"), per_writer)
    return writers * per_writer / clock.elapsed


def _check(key: str, snapshot: object, acked: int) -> None:
    data = getattr(snapshot, "data", None)
    if data is None or msgpack.unpackb(data) != acked:
        raise AssertionError(f"{key}: stored {snapshot!r}, but {acked} writes were acknowledged")


def sample_ours(state_dir: Path, writers: int, per_writer: int, writer: Writer) -> float:
    return trio.run(_ours, state_dir, writers, per_writer, writer)


def sample_bare(path: Path, writes: int) -> float:
    """One write per ``BEGIN IMMEDIATE`` transaction, in a loop, with the store's pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS snapshots (key TEXT PRIMARY KEY NOT NULL, "
            "generation INTEGER NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL)"
        )
        started = time.perf_counter()
        for n in range(1, writes + 1):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_UPSERT, ("writer/0", 1, n, msgpack.packb(n)))
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        row = conn.execute("SELECT data FROM snapshots WHERE key = 'writer/0'").fetchone()
        if msgpack.unpackb(row[0]) != writes:
            raise AssertionError(f"bare loop: stored {row!r} after {writes} commits")
    finally:
        conn.close()
    return writes / elapsed


def cases(quick: bool, writer: Writer = counter_writer) -> list[Case]:
    base = bench_dir()
    latency = fsync_latency(base, 5 if quick else 50)
    print(
        f"persist: in {base} ({filesystem_type(base)}); "
        f"one 4 kB write + fsync: median {latency * 1e3:.2f} ms",
        flush=True,
    )
    found: list[Case] = []
    bare_writes = 20 if quick else 200  # one fsync each: a rate, whatever the count
    for writers, per_writer in ((1, bare_writes), (100, 3 if quick else 20)):
        scenario = f"strict_acked_writes {writers}"
        state_dir = base / f"ours-{writers}"
        state_dir.mkdir(mode=0o700, exist_ok=True)
        ours = partial(sample_ours, state_dir, writers, per_writer, writer)
        bare = partial(sample_bare, base / f"bare-{writers}.sqlite3", bare_writes)
        found += [Case(scenario, OURS, "writes/s", ours), Case(scenario, BARE, "writes/s", bare)]
    return found
