"""The SQLite store's files, pragmas, locks and errors (docs/persistence.md)."""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
import trio.testing

from supervisor import (
    Snapshot,
    StoreFull,
    StoreIOError,
    StoreLocked,
    UnsafeStoreDirectory,
    open_sqlite_store,
)
from tests.leaks import LeakCheck


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask, so that only the modes the store asks for can protect it."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


async def test_pragmas_are_read_back_from_the_connection(tmp_path: Path) -> None:
    async with open_sqlite_store(tmp_path, busy_timeout=2.5, max_page_count=1000) as store:
        settings = await store.settings()
    assert settings.path == str(tmp_path / "store" / "state.sqlite3")
    assert settings.journal_mode == "wal"
    assert settings.synchronous == "FULL"
    assert settings.busy_timeout == 2.5
    assert settings.max_page_count == 1000


async def test_files_are_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir(0o755)  # as systemd makes StateDirectory=
    async with open_sqlite_store(state_dir) as store:
        await store.put("k", 1, 1, b"v")  # the -wal and -shm files exist now
        directory = Path(store.directory)
        assert directory == state_dir / "store"
        names = {name: mode(directory / name) for name in os.listdir(directory)}
        assert names == {
            "lock": 0o600,
            "state.sqlite3": 0o600,
            "state.sqlite3-wal": 0o600,
            "state.sqlite3-shm": 0o600,
        }
        assert mode(directory) == 0o700
    assert mode(state_dir) == 0o755


async def test_an_existing_store_directory_open_to_others_is_refused_naming_chmod(
    tmp_path: Path, open_umask: None
) -> None:
    (tmp_path / "store").mkdir(0o755)
    with pytest.raises(UnsafeStoreDirectory) as caught:
        async with open_sqlite_store(tmp_path):
            pass
    assert str(caught.value) == (
        f"{tmp_path / 'store'} has mode 0755: group and others may read or write it; "
        f"fix it with: chmod 700 {tmp_path / 'store'}"
    )


async def test_an_existing_database_open_to_others_is_refused_naming_chmod(
    tmp_path: Path, open_umask: None
) -> None:
    (tmp_path / "store").mkdir(0o700)
    (tmp_path / "store" / "state.sqlite3").touch(0o644)
    with pytest.raises(UnsafeStoreDirectory, match=r"mode 0644.*: chmod 600 .*/state\.sqlite3$"):
        async with open_sqlite_store(tmp_path):
            pass


async def test_a_symlinked_store_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir(0o700)
    (tmp_path / "store").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StoreIOError, match="symbolic links are refused"):
        async with open_sqlite_store(tmp_path):
            pass


async def test_a_missing_state_directory_and_bad_options_are_named(tmp_path: Path) -> None:
    with pytest.raises(StoreIOError, match=f"{tmp_path / 'nope'}: the state directory does not"):
        async with open_sqlite_store(tmp_path / "nope"):
            pass
    with pytest.raises(ValueError, match=r"busy_timeout must be .* not -1"):
        async with open_sqlite_store(tmp_path, busy_timeout=-1):
            pass
    with pytest.raises(ValueError, match="max_page_count must be a positive int or None, not 0"):
        async with open_sqlite_store(tmp_path, max_page_count=0):
            pass
    with pytest.raises(TypeError, match=r"state_dir must be a path, not int \(3\)"):
        async with open_sqlite_store(3):  # type: ignore[arg-type]
            pass


OTHER_PROCESS = """
import sys, trio
from supervisor import StoreInUse, open_sqlite_store

async def main():
    try:
        async with open_sqlite_store(sys.argv[1]) as store:
            print("opened", await store.get("k"))
    except StoreInUse as exc:
        print("StoreInUse:", exc)

trio.run(main)
"""


async def run_script(script: str, state_dir: Path) -> str:
    """What ``python -c script state_dir`` printed, in a process of its own (awaited)."""
    with trio.fail_after(60):
        done = await trio.run_process(
            [sys.executable, "-c", script, str(state_dir)],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip()


async def test_a_second_process_gets_store_in_use_until_the_first_closes(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    async with open_sqlite_store(tmp_path) as store:
        await store.put("k", 1, 1, b"v")
        out = await run_script(OTHER_PROCESS, tmp_path)
        assert out == f"StoreInUse: store directory {tmp_path / 'store'} is in use by another " + (
            f"process (it holds {tmp_path / 'store'}/lock)"
        )
    out = await run_script(OTHER_PROCESS, tmp_path)
    assert out == "opened Snapshot(generation=1, version=1, data=b'v')"


async def test_a_full_store_keeps_its_previous_state_across_reopening(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    async with open_sqlite_store(tmp_path, max_page_count=8) as store:
        await store.put("small", 1, 1, b"s" * 100)
        with pytest.raises(StoreFull, match=r"state\.sqlite3 is full: SQLITE_FULL"):
            await store.put("big", 1, 1, b"b" * 100_000)
        await store.put("small", 1, 2, b"t" * 100)  # the store goes on
    async with open_sqlite_store(tmp_path) as store:
        assert await store.keys() == ["small"]
        assert await store.get("small") == Snapshot(1, 2, b"t" * 100)
        assert await store.integrity_check() == ["ok"]


async def test_another_connection_holding_the_write_lock_gives_store_locked(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    async with open_sqlite_store(tmp_path, busy_timeout=0.5) as store:
        await store.put("k", 1, 1, b"before")
        other = sqlite3.connect(store.path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            with trio.fail_after(0.5 + 30):  # the busy timeout, and a generous margin
                started = trio.current_time()
                with pytest.raises(StoreLocked, match=r"locked: SQLITE_BUSY.*busy timeout 0\.5 s"):
                    await store.put("k", 1, 2, b"during")
                assert trio.current_time() - started >= 0.45  # it waited out the busy timeout
            assert await store.get("k") == Snapshot(1, 1, b"before")  # WAL readers go on
            other.execute("ROLLBACK")
        finally:
            other.close()
        await store.put("k", 1, 3, b"after")
        assert await store.get("k") == Snapshot(1, 3, b"after")


async def test_a_put_is_visible_to_another_connection_when_it_returns(tmp_path: Path) -> None:
    async with open_sqlite_store(tmp_path) as store:
        other = sqlite3.connect(store.path, isolation_level=None)
        try:

            async def writer(n: int) -> None:
                await store.put(f"w{n}", 1, 1, b"x")
                row = other.execute("SELECT version FROM snapshots WHERE key = ?", (f"w{n}",))
                assert row.fetchone() == (1,)

            async with trio.open_nursery() as nursery:
                for n in range(20):
                    nursery.start_soon(writer, n)
        finally:
            other.close()
    async with open_sqlite_store(tmp_path) as store:
        assert len(await store.keys("w")) == 20
        assert await store.integrity_check() == ["ok"]


WRITE_FAILS = """
import os, resource, signal, sys, trio
from supervisor import StoreIOError, open_sqlite_store

async def main():
    async with open_sqlite_store(sys.argv[1]) as store:
        await store.put("small", 1, 1, b"s")
        wal = os.path.getsize(store.path + "-wal")
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (wal + 4096, resource.RLIM_INFINITY))
        try:
            await store.put("big", 1, 1, b"b" * 200_000)
        except StoreIOError as exc:
            print("StoreIOError:", exc)
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
        await store.put("small", 1, 2, b"t")
        print("then", await store.get("small"))

trio.run(main)
"""


async def test_an_io_error_fails_the_transaction_and_the_store_reopens(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    lines = (await run_script(WRITE_FAILS, tmp_path)).splitlines()
    assert lines[0].startswith(f"StoreIOError: store {tmp_path / 'store' / 'state.sqlite3'}: ")
    assert "SQLITE_IOERR" in lines[0]
    assert lines[1] == "then Snapshot(generation=1, version=2, data=b't')"
    async with open_sqlite_store(tmp_path) as store:
        assert await store.keys() == ["small"]
        assert await store.integrity_check() == ["ok"]


async def test_a_put_cancelled_during_its_commit_commits_one_cancelled_while_queued_does_not(
    tmp_path: Path,
) -> None:
    async with open_sqlite_store(tmp_path, busy_timeout=30) as store:
        other = sqlite3.connect(store.path, isolation_level=None)
        seen: list[str] = []

        async def writer(key: str, scope: trio.CancelScope) -> None:
            with scope:
                await store.put(key, 1, 1, b"v")
                seen.append(f"{key} returned")
                await trio.lowlevel.checkpoint()
            seen.append(f"{key} cancelled: {scope.cancelled_caught}")

        try:
            other.execute("BEGIN EXCLUSIVE")  # holds the first commit in its busy wait
            committing, queued = trio.CancelScope(), trio.CancelScope()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer, "committing", committing)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(writer, "queued", queued)
                await trio.testing.wait_all_tasks_blocked()
                committing.cancel()
                queued.cancel()
                await trio.testing.wait_all_tasks_blocked()
                assert seen == ["queued cancelled: True"]
                other.execute("ROLLBACK")
        finally:
            other.close()
        assert seen[1:] == ["committing returned", "committing cancelled: True"]
        assert await store.keys() == ["committing"]


def _store_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("letitcrash store")]


async def test_one_thread_of_its_own_uses_the_connection_and_ends_with_the_store(
    tmp_path: Path,
) -> None:
    before = set(_store_threads())  # other tests' stores' threads may still be ending
    async with open_sqlite_store(tmp_path) as store:
        [thread] = set(_store_threads()) - before
        async with trio.open_nursery() as nursery:  # concurrent calls queue for that thread
            for n in range(20):
                nursery.start_soon(store.put, f"k{n}", 1, 1, b"v")
                nursery.start_soon(store.get, f"k{n}")
        assert len(await store.keys()) == 20
        assert thread.is_alive()
    thread.join(timeout=10.0)
    assert not thread.is_alive()
