"""The default state store: SQLite in WAL mode with ``synchronous=FULL``, behind group commit."""

from __future__ import annotations

import math
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

import trio

from ._store import Delete as Delete
from ._store import Outcome, Snapshot, Write, check_key, check_prefix
from ._store_database import Database, StoreSettings
from ._store_files import StoreFiles, prepare
from ._store_queue import GroupCommitted
from ._store_thread import StoreThread

T = TypeVar("T")
#: How long ``aclose`` waits for queued writes beyond one busy timeout, even when cancelled.
_CLOSE_MARGIN = 10.0


class SqliteStore(GroupCommitted):
    """A :class:`StateStore` in a SQLite database; made by :func:`open_sqlite_store`.

    One connection, used only by the store's own thread (``_store_thread``):
    every ``sqlite3`` call runs there, in order, and is not cancellable (it is
    bounded by the busy timeout and the disk).
    """

    def __init__(
        self, files: StoreFiles, database: Database, busy_timeout: float, thread: StoreThread
    ) -> None:
        self._files = files
        self._database = database
        self._busy_timeout = busy_timeout
        self._runner = thread
        self._closed = False
        # Its commit is a call on its thread, not cancellable (see _store_thread).
        super().__init__(self._commit, f"store {database.path}", shields_itself=True)

    @property
    def path(self) -> str:
        """The database file."""
        return self._database.path

    @property
    def directory(self) -> str:
        """The store's own directory (mode 0700) inside the state directory."""
        return self._files.directory

    async def settings(self) -> StoreSettings:
        """The connection's pragmas, read back from SQLite."""
        return await self._thread(self._database.settings)

    async def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``["ok"]``, or the problems it found."""
        return await self._thread(self._database.integrity_check)

    async def get(self, key: str) -> Snapshot | None:
        check_key(key)
        return await self._thread(self._database.get, key)

    async def keys(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        return await self._thread(self._database.keys, prefix)

    async def aclose(self) -> None:
        """Commit what is queued, then close the database and drop the directory's lock.

        If cancelled, it still waits for the queued writes (up to the busy
        timeout plus 10 s) and closes.
        """
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        with trio.CancelScope(shield=True):
            with trio.move_on_after(self._busy_timeout + _CLOSE_MARGIN):
                await self._queue.wait_idle()
            try:
                await self._runner.run(self._database.close)
            finally:
                self._runner.stop()
                self._files.release()

    async def _commit(self, writes: Sequence[Write]) -> list[Outcome]:
        return await self._runner.run(self._database.commit, writes)

    async def _thread(self, fn: Callable[..., T], *args: object) -> T:
        self._queue.check_open()
        return await self._runner.run(fn, *args)


@asynccontextmanager
async def open_sqlite_store(
    state_dir: str | os.PathLike[str],
    *,
    busy_timeout: float = 5.0,
    max_page_count: int | None = None,
) -> AsyncIterator[SqliteStore]:
    """Open (creating if need be) the SQLite store in ``state_dir``; close it on exit.

    The store lives in ``<state_dir>/store/`` (mode 0700, created by the
    store): ``state.sqlite3`` (0600) with its ``-wal`` and ``-shm`` files, and
    ``lock``, which the store holds with ``flock`` while open. ``state_dir``
    itself must exist (it may be 0755, as systemd's ``StateDirectory=``).
    ``busy_timeout`` (seconds) bounds the wait for a lock held by another
    connection; ``max_page_count`` caps the database's size in pages.

    Raises :class:`StoreInUse`, :class:`UnsafeStoreDirectory`,
    :class:`StoreIOError` (see docs/persistence.md).

    >>> import tempfile, trio
    >>> async def main(state_dir: str) -> None:
    ...     async with open_sqlite_store(state_dir) as store:
    ...         await store.put("tree/counter", 1, 1, b"\\x2a")
    ...     async with open_sqlite_store(state_dir) as store:
    ...         print(await store.get("tree/counter"))
    >>> with tempfile.TemporaryDirectory() as state_dir:
    ...     trio.run(main, state_dir)
    Snapshot(generation=1, version=1, data=b'*')
    """
    state = _check_options(state_dir, busy_timeout, max_page_count)
    thread = StoreThread(f"letitcrash store {state}")
    try:
        files = await thread.run(prepare, state)
    except BaseException:
        thread.stop()
        raise
    database = Database(
        os.path.join(files.directory, "state.sqlite3"), busy_timeout, max_page_count
    )
    try:
        await thread.run(database.open)
    except BaseException:
        with trio.CancelScope(shield=True):  # bounded: closing a connection
            await thread.run(database.close)
        thread.stop()
        files.release()
        raise
    store = SqliteStore(files, database, busy_timeout, thread)
    try:
        yield store
    finally:
        await store.aclose()


def _check_options(state_dir: object, busy_timeout: object, max_page_count: object) -> str:
    if not isinstance(state_dir, str | os.PathLike):
        raise TypeError(f"state_dir must be a path, not {type(state_dir).__name__} ({state_dir!r})")
    path = os.fspath(state_dir)
    if not isinstance(path, str):
        raise TypeError(f"state_dir must be a str path, not {path!r}")
    if (
        not isinstance(busy_timeout, int | float)
        or isinstance(busy_timeout, bool)
        or not math.isfinite(busy_timeout)
        or busy_timeout < 0
    ):
        raise ValueError(
            f"busy_timeout must be a finite number of seconds >= 0, not {busy_timeout!r}"
        )
    if max_page_count is not None and (
        not isinstance(max_page_count, int)
        or isinstance(max_page_count, bool)
        or max_page_count < 1
    ):
        raise ValueError(f"max_page_count must be a positive int or None, not {max_page_count!r}")
    return path
