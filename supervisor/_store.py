"""What a state store is: the :class:`StateStore` protocol, its records and the writes it queues.

A store maps a key (a child's path in the tree) to its latest :class:`Snapshot`.
Every write goes through a commit queue (``_store_queue``): writes that queue
while a transaction commits go together into the next one (group commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ._store_errors import StaleGeneration

#: The largest generation or version a store keeps (SQLite's INTEGER is 64-bit signed).
MAX_COUNTER = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The stored state of one key.

    ``generation`` orders the writers of a key (a restarted actor writes with a
    higher one, so a stale incarnation cannot overwrite it); ``version`` is the
    ``state_version`` of the code that wrote it (an older one is migrated by the
    actor's ``restore``, a newer one refused); ``data`` is the encoded state
    (msgpack bytes), which the store never decodes.
    """

    generation: int
    version: int
    data: bytes


@dataclass(frozen=True, slots=True)
class StoreStatistics:
    """What a store has committed so far (``statistics()``).

    ``transactions`` that committed, ``writes`` they held (puts and deletes,
    a put refused as stale included), ``failed_transactions`` rolled back.
    """

    transactions: int
    writes: int
    failed_transactions: int


@runtime_checkable
class StateStore(Protocol):
    """The interface of a state store; :class:`MemoryStore` and ``open_sqlite_store`` give one.

    Writes are atomic under cancellation: a ``put`` or ``delete`` cancelled
    while it waits for its turn did nothing and raises ``trio.Cancelled``; once
    its transaction has started it is no longer cancellable, and it returns
    (or raises the transaction's error) when that transaction has ended.
    """

    async def get(self, key: str) -> Snapshot | None:
        """The stored snapshot of ``key``, or ``None``."""
        ...

    async def put(self, key: str, generation: int, version: int, data: bytes) -> None:
        """Store ``data`` for ``key``; returns once the transaction holding it committed.

        Raises :class:`StaleGeneration` if the stored generation is higher
        (an equal or higher one replaces it), or the transaction's error.
        """
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it was stored. Returns once committed."""
        ...

    async def keys(self, prefix: str = "") -> list[str]:
        """The stored keys that start with ``prefix``, sorted."""
        ...

    async def aclose(self) -> None:
        """Finish the queued writes, then close; later calls raise ``trio.ClosedResourceError``."""
        ...


@dataclass(frozen=True, slots=True)
class Put:
    """A queued write of ``key``."""

    key: str
    generation: int
    version: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Delete:
    """A queued removal of ``key``."""

    key: str


Write = Put | Delete
#: What one write came to: ``None`` (a put), ``bool`` (a delete), or its own refusal.
Outcome = None | bool | StaleGeneration


def check_key(key: object) -> str:
    """``key`` if it is a non-empty ``str``, else ``TypeError``/``ValueError`` naming it."""
    if not isinstance(key, str):
        raise TypeError(f"a store key must be a str, not {type(key).__name__} ({key!r})")
    if not key:
        raise ValueError("a store key must not be empty")
    return key


def check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str):
        raise TypeError(f"a key prefix must be a str, not {type(prefix).__name__} ({prefix!r})")
    return prefix


def check_put(key: object, generation: object, version: object, data: object) -> Put:
    """The :class:`Put` of these arguments, each checked; errors name the bad one."""
    for name, value in (("generation", generation), ("version", version)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})")
        if not 0 <= value <= MAX_COUNTER:
            raise ValueError(f"{name} must be between 0 and 2**63 - 1, not {value}")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    assert isinstance(generation, int)
    assert isinstance(version, int)
    return Put(check_key(key), generation, version, bytes(data))


def stale(put: Put, stored_generation: int | None) -> StaleGeneration | None:
    """The refusal of ``put`` if the stored generation of its key is higher."""
    if stored_generation is not None and stored_generation > put.generation:
        return StaleGeneration(put.key, stored_generation, put.generation)
    return None
