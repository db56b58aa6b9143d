"""Strict persistence against SIGKILL of the whole daemon, and the store's failures.

A real subprocess (tests/supervisor/persist_daemon.py) runs a tree with the
SQLite store in a tmp dir and acknowledges increments; it is killed with
SIGKILL, and the next run must restore every acknowledged increment (the one
in flight may or may not have committed). See docs/persistence.md.
Real time throughout (threads commit), with generous deadlines.

``LETITCRASH_KILLS=200 pytest tests/supervisor/test_persistent_kills.py`` soaks.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import trio

from supervisor import (
    ChildSpec,
    StoreFull,
    StoreLocked,
    Supervisor,
    open_sqlite_store,
    open_tree,
    read_state,
)
from tests.actors.persistent_actors import Counter
from tests.leaks import LeakCheck

DEADLINE = 60.0
KILLS = int(os.environ.get("LETITCRASH_KILLS", "20"))
ROOT = Path(__file__).resolve().parents[2]


class Daemon:
    """One run of the daemon, read line by line."""

    def __init__(self, state_dir: Path, count: int, leaks: LeakCheck) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.supervisor.persist_daemon", str(state_dir), str(count)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        leaks.watch(self.process.pid)
        assert self.process.stdout is not None
        self.out = self.process.stdout
        self.last_ack: int | None = None

    def line(self) -> str:
        text = self.out.readline().strip()  # the daemon always answers or exits (EOF)
        if text.startswith("ack "):
            self.last_ack = int(text.split()[1])
        return text

    def start(self) -> int:
        first = self.line()
        assert first.startswith("start "), first
        return int(first.split()[1])

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(DEADLINE)
        while self.line():  # what it acknowledged before it died counts
            pass
        self.out.close()


def integrity(state_dir: Path) -> str:
    with closing(sqlite3.connect(state_dir / "store" / "state.sqlite3")) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def test_a_killed_daemon_keeps_every_acknowledged_increment(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    daemon = Daemon(tmp_path, 1000, leaks)
    assert daemon.start() == 0
    while daemon.line() != "done":
        pass
    assert daemon.last_ack == 1000
    daemon.kill()
    again = Daemon(tmp_path, 1, leaks)
    assert again.start() == 1000
    again.kill()
    assert integrity(tmp_path) == "ok"


def test_kills_at_random_moments_lose_nothing_acknowledged(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    seed = random.randrange(2**32)
    print(f"seed {seed}, {KILLS} kills (LETITCRASH_KILLS)")
    chooser = random.Random(seed)
    acked = 0
    for kill in range(KILLS):
        daemon = Daemon(tmp_path, 0, leaks)
        restored = daemon.start()
        assert restored in (acked, acked + 1), f"seed {seed}, kill {kill}: {restored} vs {acked}"
        for _ in range(chooser.randrange(0, 12)):
            daemon.line()
        daemon.kill()
        acked = restored if daemon.last_ack is None else daemon.last_ack
    assert integrity(tmp_path) == "ok"


GROWING = Supervisor(children=[ChildSpec("counter", Counter)])


async def test_a_full_store_crashes_the_actor_with_no_success_reply(tmp_path: Path) -> None:
    async with (
        open_sqlite_store(tmp_path, max_page_count=40) as store,
        open_tree(GROWING, store=store) as root,
    ):
        counter = root.child("counter")
        await counter.call("add")
        error: BaseException | None = None
        for _ in range(100):  # the state grows until the store is full
            try:
                await counter.call(("grow", 8000))
            except StoreFull as exc:
                error = exc
                break
        assert isinstance(error, StoreFull)
        kept = await read_state(store, "counter")
        assert kept is not None
    async with open_sqlite_store(tmp_path) as store:
        found = await read_state(store, "counter")
        assert found == kept  # the last committed state, whole
    assert integrity(tmp_path) == "ok"


async def test_a_locked_database_is_a_typed_error_within_the_busy_timeout(
    tmp_path: Path,
) -> None:
    async with (
        open_sqlite_store(tmp_path, busy_timeout=0.5) as store,
        open_tree(GROWING, store=store) as root,
    ):
        counter = root.child("counter")
        await counter.call("add")
        other = sqlite3.connect(tmp_path / "store" / "state.sqlite3", isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            with trio.fail_after(0.5 + DEADLINE / 2), pytest.raises(StoreLocked):
                await counter.call("add")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert await counter.call("get") == 1  # restarted from the committed state
