"""The stores every contract test runs against (docs/persistence.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from supervisor import MemoryStore, SqliteStore, open_sqlite_store

#: Roughly how much data a "small" store holds: 1 kB fits, 80 kB does not.
SMALL = 16_384
#: The same for SQLite: a new database has 3 pages (schema, table, key index) of 4 kB.
SMALL_PAGES = 6

OpenStore = Callable[..., AbstractAsyncContextManager["AnyStore"]]
AnyStore = MemoryStore | SqliteStore


@asynccontextmanager
async def _memory(small: bool = False) -> AsyncIterator[MemoryStore]:
    store = MemoryStore(max_bytes=SMALL if small else None)
    try:
        yield store
    finally:
        await store.aclose()


def _sqlite(state_dir: Path) -> OpenStore:
    def open_store(small: bool = False) -> AbstractAsyncContextManager[SqliteStore]:
        return open_sqlite_store(state_dir, max_page_count=SMALL_PAGES if small else None)

    return open_store


KINDS: dict[str, Callable[[Path], OpenStore]] = {"memory": lambda _: _memory, "sqlite": _sqlite}


@pytest.fixture(params=sorted(KINDS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> OpenStore:
    """``open_store(small=False)``: an async context manager giving a fresh store of each kind."""
    return KINDS[request.param](tmp_path)
