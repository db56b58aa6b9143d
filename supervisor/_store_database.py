"""The SQLite database of a store: one connection, its pragmas checked, writes in transactions.

Blocking, and used by one thread only (the store's own, ``_store_thread``).
Every ``sqlite3`` error leaves no half transaction (it is rolled back) and comes
out as a :class:`PersistenceError`; after an I/O error the connection is
dropped and reopened at the next use, never retried.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from ._store import Delete, Outcome, Put, Snapshot, Write, stale
from ._store_errors import PersistenceError, StoreFull, StoreIOError, StoreLocked

#: The layout this code writes (``PRAGMA user_version``).
FORMAT = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    key TEXT PRIMARY KEY NOT NULL,
    generation INTEGER NOT NULL,
    version INTEGER NOT NULL,
    data BLOB NOT NULL
)
"""
_UPSERT = """
INSERT INTO snapshots (key, generation, version, data) VALUES (?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    generation = excluded.generation, version = excluded.version, data = excluded.data
WHERE excluded.generation >= snapshots.generation
"""
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_FULL = 5, 6, 13
_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
P = ParamSpec("P")
T = TypeVar("T")
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """What the SQLite store's connection reports: its pragmas read back, not the ones asked for."""

    path: str
    journal_mode: str
    synchronous: str
    busy_timeout: float
    max_page_count: int
    page_size: int


class Database:
    """The connection of one store (see the module docstring)."""

    def __init__(self, path: str, busy_timeout: float, max_page_count: int | None) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._max_page_count = max_page_count
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        """Connect, set and check the pragmas, create the table; raises a PersistenceError."""
        self._connection()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def commit(self, writes: Sequence[Write]) -> list[Outcome]:
        """Apply ``writes`` in one ``BEGIN IMMEDIATE`` transaction; one outcome per write."""
        return self._run(self._transaction, writes)

    def get(self, key: str) -> Snapshot | None:
        sql = "SELECT generation, version, data FROM snapshots WHERE key = ?"
        row = self._run(self._fetch, sql, key)
        return None if row is None else Snapshot(int(row[0]), int(row[1]), bytes(row[2]))

    def keys(self, prefix: str) -> list[str]:
        sql = "SELECT key FROM snapshots WHERE substr(key, 1, ?) = ? ORDER BY key"
        return [row[0] for row in self._run(self._fetch_all, sql, len(prefix), prefix)]

    def settings(self) -> StoreSettings:
        def read(conn: sqlite3.Connection) -> StoreSettings:
            def pragma(name: str) -> object:
                return conn.execute(f"PRAGMA {name}").fetchone()[0]

            level = pragma("synchronous")
            return StoreSettings(
                path=self.path,
                journal_mode=str(pragma("journal_mode")),
                synchronous=_SYNCHRONOUS.get(level, str(level)) if isinstance(level, int) else "?",
                busy_timeout=int(str(pragma("busy_timeout"))) / 1000,
                max_page_count=int(str(pragma("max_page_count"))),
                page_size=int(str(pragma("page_size"))),
            )

        return self._run(read)

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check``: ``["ok"]`` or the problems it found."""
        return [str(row[0]) for row in self._run(self._fetch_all, "PRAGMA integrity_check")]

    # -- inside the connection ------------------------------------------------------------

    def _transaction(self, conn: sqlite3.Connection, writes: Sequence[Write]) -> list[Outcome]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            outcomes = [self._apply(conn, write) for write in writes]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes

    @staticmethod
    def _apply(conn: sqlite3.Connection, write: Write) -> Outcome:
        if isinstance(write, Delete):
            return conn.execute("DELETE FROM snapshots WHERE key = ?", (write.key,)).rowcount > 0
        put: Put = write
        if conn.execute(_UPSERT, (put.key, put.generation, put.version, put.data)).rowcount:
            return None
        row = conn.execute("SELECT generation FROM snapshots WHERE key = ?", (put.key,)).fetchone()
        return stale(put, row[0])

    @staticmethod
    def _fetch(conn: sqlite3.Connection, sql: str, *args: object) -> Row | None:
        row: Row | None = conn.execute(sql, args).fetchone()
        return row

    @staticmethod
    def _fetch_all(conn: sqlite3.Connection, sql: str, *args: object) -> list[Row]:
        return conn.execute(sql, args).fetchall()

    def _run(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        try:
            return fn(self._connection(), *args, **kw)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None
        )  # check_same_thread stays on: only the store's thread uses it
        try:
            self._configure(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _configure(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={round(self._busy_timeout * 1000)}")
        if self._max_page_count is not None:
            conn.execute(f"PRAGMA max_page_count={self._max_page_count}")
        level = conn.execute("PRAGMA synchronous").fetchone()[0]
        if mode != "wal" or level != 2:
            raise StoreIOError(
                self.path, f"SQLite answered journal_mode={mode}, synchronous={level}: want wal, 2"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > FORMAT:
                raise StoreIOError(self.path, f"format {version} is newer than ours ({FORMAT})")
            if version < FORMAT:
                conn.execute(_SCHEMA)
                conn.execute(f"PRAGMA user_version={FORMAT}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _error(self, exc: sqlite3.Error) -> PersistenceError:
        code = getattr(exc, "sqlite_errorcode", None)
        name = getattr(exc, "sqlite_errorname", type(exc).__name__)
        detail = f"{name}: {exc}"
        primary = None if code is None else code & 0xFF
        if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return StoreLocked(self.path, f"{detail} (busy timeout {self._busy_timeout} s)")
        if primary == _SQLITE_FULL:
            return StoreFull(self.path, detail)
        self._drop()
        return StoreIOError(self.path, detail)

    def _drop(self) -> None:
        """Forget a connection that saw an I/O error: the next use reopens."""
        try:
            self.close()
        except sqlite3.Error:
            self._conn = None
