"""Stores without a disk, for tests: :class:`MemoryStore` and the :class:`GatedStore` wrapper."""

from __future__ import annotations

from collections.abc import Sequence

import trio

from ._store import (
    Delete,
    Outcome,
    Snapshot,
    StateStore,
    Write,
    check_key,
    check_prefix,
    check_put,
    stale,
)
from ._store_errors import StoreFull
from ._store_queue import GroupCommitted


class MemoryStore(GroupCommitted):
    """A :class:`StateStore` in memory, with the SQLite store's semantics (group commit included).

    ``max_bytes`` bounds the total size of the stored data: a transaction that
    would exceed it fails whole with :class:`StoreFull`.

    >>> import trio
    >>> async def main() -> None:
    ...     store = MemoryStore()
    ...     await store.put("counter", generation=1, version=1, data=b"\\x2a")
    ...     print(await store.get("counter"))
    ...     await store.aclose()
    >>> trio.run(main)
    Snapshot(generation=1, version=1, data=b'*')
    """

    def __init__(self, *, max_bytes: int | None = None) -> None:
        if max_bytes is not None and (
            isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0
        ):
            raise ValueError(f"max_bytes must be a non-negative int or None, not {max_bytes!r}")
        self._data: dict[str, Snapshot] = {}
        self._max_bytes = max_bytes
        super().__init__(self._commit, "memory store")

    async def get(self, key: str) -> Snapshot | None:
        check_key(key)
        await trio.lowlevel.checkpoint()
        self._queue.check_open()
        return self._data.get(key)

    async def keys(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        await trio.lowlevel.checkpoint()
        self._queue.check_open()
        return sorted(key for key in self._data if key.startswith(prefix))

    async def aclose(self) -> None:
        await self._queue.wait_idle()

    async def _commit(self, writes: Sequence[Write]) -> list[Outcome]:
        await trio.lowlevel.checkpoint()  # a commit takes a while: later writes queue meanwhile
        staged = dict(self._data)
        outcomes: list[Outcome] = []
        for write in writes:
            if isinstance(write, Delete):
                outcomes.append(staged.pop(write.key, None) is not None)
                continue
            old = staged.get(write.key)
            refusal = stale(write, None if old is None else old.generation)
            if refusal is None:
                staged[write.key] = Snapshot(write.generation, write.version, write.data)
            outcomes.append(refusal)
        if self._max_bytes is not None:
            size = sum(len(snapshot.data) for snapshot in staged.values())
            if size > self._max_bytes:
                raise StoreFull(
                    "memory store", f"{size} bytes of data exceed max_bytes={self._max_bytes}"
                )
        self._data = staged
        return outcomes


class GatedStore:
    """A :class:`StateStore` whose writes wait at a gate until the test opens it.

    For tests of what must not happen before a commit: a write blocks (queued,
    not yet committed) while the gate is held, and goes on to the wrapped store
    (default: a new :class:`MemoryStore`) once :meth:`release` is called.
    Reads pass. The gate starts held.

    >>> import trio
    >>> async def main() -> None:
    ...     store = GatedStore()
    ...     async with trio.open_nursery() as nursery:
    ...         nursery.start_soon(store.put, "k", 1, 1, b"v")
    ...         await store.wait_blocked(1)
    ...         print(await store.get("k"))
    ...         store.release()
    ...     print(await store.get("k"))
    >>> trio.run(main)
    None
    Snapshot(generation=1, version=1, data=b'v')
    """

    def __init__(self, inner: StateStore | None = None) -> None:
        self._inner: StateStore = MemoryStore() if inner is None else inner
        self._open = trio.Event()
        self._blocked = 0
        self._changed = trio.Event()

    @property
    def blocked(self) -> int:
        """How many writes wait at the gate now."""
        return self._blocked

    def release(self) -> None:
        """Open the gate: the waiting writes and every later one go through."""
        self._open.set()

    def hold(self) -> None:
        """Close the gate again: later writes wait until the next :meth:`release`."""
        if self._open.is_set():
            self._open = trio.Event()

    async def wait_blocked(self, count: int) -> None:
        """Wait until at least ``count`` writes wait at the gate."""
        while self._blocked < count:
            await self._changed.wait()

    async def get(self, key: str) -> Snapshot | None:
        return await self._inner.get(key)

    async def put(self, key: str, generation: int, version: int, data: bytes) -> None:
        write = check_put(key, generation, version, data)
        await self._gate()
        await self._inner.put(write.key, write.generation, write.version, write.data)

    async def delete(self, key: str) -> bool:
        check_key(key)
        await self._gate()
        return await self._inner.delete(key)

    async def keys(self, prefix: str = "") -> list[str]:
        return await self._inner.keys(prefix)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def _gate(self) -> None:
        if self._open.is_set():
            await trio.lowlevel.checkpoint()
            return
        self._blocked += 1
        self._signal()
        try:
            await self._open.wait()
        finally:
            self._blocked -= 1
            self._signal()

    def _signal(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
