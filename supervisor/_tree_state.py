"""Persistent children in a tree: their keys, the store check, and the way out of a bad state.

A persistent child's state is kept under its path in the tree: ``"id"`` for a
child of the root, ``"sub/id"`` below the supervisor ``sub``; a dynamic child
started with ``start_child(*args, key="k")`` under ``"<supervisor path>/k"``
(ids and keys never contain ``/``).

>>> import trio
>>> from supervisor import MemoryStore, drop_state, read_state
>>> async def main() -> None:
...     store = MemoryStore()
...     await store.put("counter", 1, 1, b"\\x2a")
...     print(await read_state(store, "counter"))
...     print(await drop_state(store, "counter"), await read_state(store, "counter"))
>>> trio.run(main)
StoredState(key='counter', generation=1, version=1, value=42)
True None
"""

from __future__ import annotations

from dataclasses import dataclass

from actors import Persistent
from spawn import Codec

from ._exceptions import AlreadyStarted, InvalidSpec
from ._spec import ChildSpec, Supervisor
from ._state import State
from ._store import StateStore


@dataclass(frozen=True, slots=True)
class StoredState:
    """What :func:`read_state` found: the decoded state and who wrote it."""

    key: str
    generation: int  #: the incarnation that wrote it (higher: newer)
    version: int  #: the ``state_version`` of the code that wrote it
    value: object  #: the decoded msgpack value (what ``restore`` receives)


async def read_state(store: StateStore, key: str) -> StoredState | None:
    """The state kept under ``key`` (a child's path), decoded; ``None`` if there is none."""
    stored = await store.get(key)
    if stored is None:
        return None
    return StoredState(key, stored.generation, stored.version, Codec().decode(stored.data))


async def drop_state(store: StateStore, key: str) -> bool:
    """Forget the state kept under ``key``: its child's next start gets ``None``.

    The way out of a crash loop caused by a poisoned state. Returns whether
    there was one.
    """
    return await store.delete(key)


def is_persistent(spec: ChildSpec) -> bool:
    start = spec.start
    return isinstance(start, type) and issubclass(start, Persistent)


def check_store(spec: Supervisor, store: object, prefix: str = "") -> None:
    """Refuse a persistent child in a tree without a store, and a mode on a plain child."""
    for child in spec.children:
        path = f"{prefix}{child.id}"
        if isinstance(child.start, Supervisor):
            check_store(child.start, store, f"{path}/")
            continue
        if not is_persistent(child):
            if child.durability is not None:
                raise InvalidSpec(path, "durability", "is for a Persistent worker only")
            continue
        if store is None:
            name = child.start.__qualname__ if isinstance(child.start, type) else child.start
            raise InvalidSpec(
                path, "start", f"{name} is Persistent: the tree needs open_tree(..., store=...)"
            )


def dynamic_key(state: State, key: object) -> str | None:
    """The checked key of a new dynamic child; it must be free among its running siblings."""
    template = state.template
    if not is_persistent(template):
        if key is not None:
            raise InvalidSpec(template.id, "key", "key= is for a Persistent child only")
        return None
    if key is None:
        raise InvalidSpec(
            template.id, "key", "a Persistent dynamic child needs start_child(*args, key=...)"
        )
    if not isinstance(key, str) or not key or "/" in key:
        raise InvalidSpec(template.id, "key", f"must be a non-empty str without '/', not {key!r}")
    for ref, child in state.dynamic.items():
        if child.key == key:
            raise AlreadyStarted(key, ref)
    return key


async def drop_child_state(store: StateStore | None, spec: ChildSpec, path: str) -> None:
    """``delete_child`` of a persistent child drops its state too."""
    if store is not None and is_persistent(spec):
        await store.delete(path)
