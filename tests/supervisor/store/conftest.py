"""The stores every contract test runs against (docs/persistence.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from supervisor import MemoryStore, StoreStatistics

#: Roughly how much data a "small" store holds: 1 kB fits, 80 kB does not.
SMALL = 16_384

OpenStore = Callable[..., AbstractAsyncContextManager["AnyStore"]]
AnyStore = MemoryStore


@asynccontextmanager
async def _memory(small: bool = False) -> AsyncIterator[MemoryStore]:
    store = MemoryStore(max_bytes=SMALL if small else None)
    try:
        yield store
    finally:
        await store.aclose()


KINDS: dict[str, Callable[[Path], OpenStore]] = {"memory": lambda _: _memory}


@pytest.fixture(params=sorted(KINDS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> OpenStore:
    """``open_store(small=False)``: an async context manager giving a fresh store of each kind."""
    return KINDS[request.param](tmp_path)


def stats(store: AnyStore) -> StoreStatistics:
    return store.statistics()
