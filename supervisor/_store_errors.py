"""The state store's errors; every one derives from :class:`PersistenceError`."""

from __future__ import annotations

from actors import StateError

from ._exceptions import SupervisorError


class PersistenceError(SupervisorError, StateError):
    """Base of every error a state store raises (a :class:`SupervisorError`, and an
    ``actors.StateError`` like every failure to persist: ``except StateError`` catches
    both the store's errors and the actor side's ``SnapshotError``).

    When a write fails with one of these, the transaction it was part of was
    rolled back: none of its writes is stored, the previous values are.
    """


class StaleGeneration(PersistenceError):
    """Raised by ``put`` when the stored snapshot of ``key`` has a higher generation.

    Only that put is refused; the other writes of its transaction commit.
    """

    def __init__(self, key: str, stored: int, given: int) -> None:
        super().__init__(
            f"key {key!r}: generation {given} is older than the stored generation {stored}"
        )
        self.key = key
        self.stored = stored
        self.given = given


class StoreLocked(PersistenceError):
    """Raised when the database stayed locked beyond the busy timeout.

    Another connection holds a write transaction (``BEGIN IMMEDIATE`` or
    ``EXCLUSIVE``) on the store's database ``path``. Nothing was written.
    """

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"store {path} is locked: {detail}")
        self.path = path


class StoreFull(PersistenceError):
    """Raised when the store has no room for a transaction (disk full, or its size limit).

    SQLite's ``SQLITE_FULL``, including the store's ``max_page_count``; for a
    :class:`MemoryStore`, its ``max_bytes``. ``path`` names the database.
    """

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"store {path} is full: {detail}")
        self.path = path


class StoreIOError(PersistenceError):
    """Raised when reading or writing the store's files failed (``SQLITE_IOERR`` and the like).

    The store reopens its database before its next operation; ``path`` names it.
    """

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"store {path}: {detail}")
        self.path = path


class StoreInUse(PersistenceError):
    """Raised by ``open_sqlite_store`` when another process holds the store directory's lock."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"store directory {path} is in use by another process (it holds {path}/lock)"
        )
        self.path = path


class UnsafeStoreDirectory(PersistenceError):
    """Raised by ``open_sqlite_store`` when an existing store path is open to group or others.

    The message names the fix (``chmod 700 <dir>``, ``chmod 600 <file>``).
    """

    def __init__(self, path: str, mode: int, fix: str) -> None:
        super().__init__(
            f"{path} has mode {mode:04o}: group and others may read or write it; fix it with: {fix}"
        )
        self.path = path
        self.mode = mode
