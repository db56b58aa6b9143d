"""The state of a persistent actor in a worker process: restored from, and committed to, the root.

The root keeps the store. When it places a persistent actor in a worker, it
reads the stored snapshot and picks the new incarnation's generation, and
sends both with SPAWN; the worker restores the state before ``init``, as a
task actor does. Each commit is a PUT frame to the root, whose
:class:`StateService` puts it into the store (group-committed with every
other writer) and answers COMMITTED only once the store has committed it, or
with the store's error. The worker's :class:`RootWriter` waits for that answer,
so strict mode's promise holds across the boundary: a reply leaves the worker
only after the root committed the change it answers.

A store error reaches the worker lent (a :class:`~actors.RootStateError`
naming it, see ``actors._wire``) and comes back to the root as itself: the
strict caller's error, the actor's crash reason.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from spawn import Codec

from . import _frames as frames
from ._exceptions import StateError
from ._persisted import Persistence
from ._persistent import StateStore, durability_from_wire, durability_to_wire

if TYPE_CHECKING:
    from ._router import Router
    from ._wire import LentErrors


def persistence_to_wire(persist: Persistence) -> list[Any]:
    """What SPAWN carries of a new incarnation's persistence (see ``_frames.SPAWN``)."""
    restored = None if persist.restored is None else list(persist.restored)
    return [persist.key, persist.generation, durability_to_wire(persist.durability), restored]


def persistence_from_wire(wire: list[Any], writer: RootWriter, codec: Codec) -> Persistence:
    key, generation, durability, restored = wire
    stored = None if restored is None else (int(restored[0]), bytes(restored[1]))
    return Persistence(
        str(key), int(generation), durability_from_wire(durability), writer, stored, codec
    )


@dataclass(eq=False)
class _Commit:
    done: trio.Event = field(default_factory=trio.Event)
    error: Exception | None = None


class RootWriter:
    """A worker's :class:`~actors._persistent.StateWriter`: every put is committed by the root."""

    def __init__(self, router: Router, root: str) -> None:
        self._router = router
        self._root = root
        self._ids = itertools.count(1)
        self._pending: dict[int, _Commit] = {}

    async def put(self, key: str, generation: int, version: int, data: bytes) -> None:
        """Send the snapshot to the root; return once its store committed it, or raise its error.

        Cancelled (the actor is killed), it stops waiting; the root may still
        commit the snapshot, which no caller saw acknowledged.
        """
        request = next(self._ids)
        commit = self._pending[request] = _Commit()
        try:
            node = self._router.node
            self._router.post(frames.put(self._root, node, request, key, generation, version, data))
            await commit.done.wait()
        finally:
            self._pending.pop(request, None)
        if commit.error is not None:
            raise commit.error

    def committed(self, source: str, frame: frames.Frame) -> None:
        """The root answered a put (called from the link's reader)."""
        request, error = frames.read_committed(frame)
        commit = self._pending.get(request)
        if commit is not None:
            commit.error = error
            commit.done.set()

    def root_down(self) -> None:
        """The root is gone: no put can be committed any more."""
        for commit in self._pending.values():
            commit.error = StateError("the root went away before it committed the state")
            commit.done.set()


class StateService:
    """The root's side: the PUT frames of its workers' persistent actors, put into ``store``.

    A node may write only the keys of the actors placed in it (given with SPAWN).
    """

    def __init__(
        self, store: StateStore | None, router: Router, nursery: trio.Nursery, lent: LentErrors
    ) -> None:
        self._store = store
        self._router = router
        self._nursery = nursery
        self._lent = lent
        self._keys: dict[str, set[str]] = {}  # node -> the state keys of its actors
        self._puts: set[trio.CancelScope] = set()

    def placed(self, node: str, key: str) -> None:
        self._keys.setdefault(node, set()).add(key)

    def removed(self, node: str, key: str) -> None:
        keys = self._keys.get(node)
        if keys is not None:
            keys.discard(key)

    def node_down(self, node: str) -> None:
        self._keys.pop(node, None)

    def close(self) -> None:
        """The runtime is closing: stop waiting for puts (a store's put is atomic)."""
        for scope in self._puts:
            scope.cancel()

    def put_requested(self, source: str, frame: frames.Frame) -> None:
        put = frames.read_put(frame)
        key = put[1]
        refusal = None
        if self._store is None or key not in self._keys.get(source, ()):
            refusal = StateError(f"node {source} holds no actor with the state key {key!r}")
        self._nursery.start_soon(self._put, source, put, refusal)

    async def _put(
        self, source: str, put: tuple[int, str, int, int, bytes], refusal: StateError | None
    ) -> None:
        request, key, generation, version, data = put
        error: Exception | None = refusal
        if error is None:
            assert self._store is not None
            with trio.CancelScope() as scope:
                self._puts.add(scope)
                try:
                    await self._store.put(key, generation, version, data)
                except Exception as exc:
                    error = exc
                finally:
                    self._puts.discard(scope)
            if scope.cancelled_caught:
                return  # closing: the worker is going away too
        if error is None:
            self._router.post(frames.committed(source, self._router.node, request, None))
        else:  # the store's error, typed: it comes back from the worker as itself
            self._router.post(
                frames.committed(source, self._router.node, request, self._lent.lend(error))
            )
