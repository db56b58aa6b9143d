"""The SQLite store's files: its directory (0700), its lock and its database file (0600).

Blocking; the store runs these in a worker thread. The process umask is left
alone: every path is created with its mode (``os.mkdir(..., 0o700)``,
``os.open(..., O_CREAT | O_EXCL, 0o600)``) and checked after.
"""

from __future__ import annotations

import fcntl
import os
import stat
from dataclasses import dataclass

from ._store_errors import StoreInUse, StoreIOError, UnsafeStoreDirectory

STORE_DIR = "store"
DATABASE = "state.sqlite3"
LOCK = "lock"
#: The database and the files SQLite keeps beside it (same mode as the database).
SIDE_FILES = ("-wal", "-shm")


@dataclass(frozen=True)
class StoreFiles:
    """The paths of one opened store, and the fd whose ``flock`` it holds."""

    directory: str
    database: str
    lock_fd: int

    def release(self) -> None:
        os.close(self.lock_fd)  # closing the fd drops the flock


def prepare(state_dir: str) -> StoreFiles:
    """Create (or check) the store's directory inside ``state_dir``, lock it, create the database.

    Raises :class:`StoreIOError` if ``state_dir`` is not a directory,
    :class:`UnsafeStoreDirectory` if the store's directory or database is open
    to group or others, :class:`StoreInUse` if another process holds its lock.
    """
    try:
        if not stat.S_ISDIR(os.stat(state_dir).st_mode):
            raise StoreIOError(state_dir, "the state directory is not a directory")
    except FileNotFoundError as exc:
        raise StoreIOError(state_dir, "the state directory does not exist") from exc
    directory = os.path.join(state_dir, STORE_DIR)
    _make_private_dir(directory, parent=state_dir)
    lock_fd = _lock(directory)
    try:
        database = os.path.join(directory, DATABASE)
        _make_private_file(database, parent=directory)
    except BaseException:
        os.close(lock_fd)
        raise
    return StoreFiles(directory, database, lock_fd)


def _make_private_dir(directory: str, parent: str) -> None:
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        _check_private(directory, want_dir=True)
        return
    except OSError as exc:
        raise StoreIOError(directory, f"cannot create the store directory: {exc}") from exc
    if stat.S_IMODE(os.lstat(directory).st_mode) != 0o700:  # a umask took owner bits
        os.chmod(directory, 0o700)
    _fsync_dir(parent)


def _make_private_file(path: str, parent: str) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        for name in (path, *(path + suffix for suffix in SIDE_FILES)):
            if os.path.lexists(name):
                _check_private(name, want_dir=False)
        return
    except OSError as exc:
        raise StoreIOError(path, f"cannot create the database: {exc}") from exc
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
            os.fchmod(fd, 0o600)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(parent)


def _check_private(path: str, *, want_dir: bool) -> None:
    info = os.lstat(path)
    kind_ok = stat.S_ISDIR(info.st_mode) if want_dir else stat.S_ISREG(info.st_mode)
    if not kind_ok:
        kind = "a directory" if want_dir else "a regular file"
        raise StoreIOError(path, f"is not {kind} (symbolic links are refused)")
    if info.st_uid != os.geteuid():
        raise StoreIOError(path, f"is owned by uid {info.st_uid}, not by this process's user")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        fix = f"chmod 700 {path}" if want_dir else f"chmod 600 {path}"
        raise UnsafeStoreDirectory(path, mode, fix)


def _lock(directory: str) -> int:
    path = os.path.join(directory, LOCK)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise StoreIOError(path, f"cannot open the lock file: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise StoreInUse(directory) from exc
    except BaseException:
        os.close(fd)
        raise
    return fd


def _fsync_dir(path: str) -> None:
    """Make a new entry of ``path`` durable: SQLite never fsyncs a directory for a file we made."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
