"""A worker's side of distribution: its link to the root, and the actors the root asks for.

A worker process runs a runtime of its own (a node). Its router has one
link, to the root, which is also its route to every other node. When the
root sends SPAWN, the worker starts the actor as a local task and answers
SPAWNED with its ref, or with the error its init raised. A persistent actor's
state comes with SPAWN and its commits go to the root (``_remote_state``).
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

import trio

from spawn import Codec, resolve_ref

from . import _frames as frames
from ._asyncio_actor import is_asyncio
from ._behaviour import Actor
from ._exceptions import InitError, StartIgnored
from ._guest import host_loop
from ._kernel import Kernel
from ._link import Transport
from ._pump import ReadTurn
from ._remote_state import RootWriter, persistence_from_wire
from ._router import Router

if TYPE_CHECKING:
    from ._loop import LocalSpawner
    from ._ref import ActorRef


class WorkerNode:
    """The distribution of a worker's runtime: linked to the root over ``upstream``."""

    def __init__(
        self,
        kernel: Kernel,
        codec: Codec,
        spawner: LocalSpawner,
        upstream: Transport,
        state_codec: Codec,
    ) -> None:
        self._kernel = kernel
        self._spawner = spawner
        self._upstream = upstream
        self._state_codec = state_codec
        self._router = Router(
            kernel,
            codec,
            hub=False,
            on_spawn=self._spawn_requested,
            on_committed=self._committed,
            on_node_down=self._node_down,
        )
        self._writer = RootWriter(self._router, upstream.node)
        self._router.add_link(upstream, default=True)
        # The idle actor of a dedicated worker reads the link itself (not under a host
        # loop: an asyncio actor's wait is asyncio's).
        self._turn = None if host_loop() is not None else ReadTurn(upstream, self._router.dispatch)
        kernel.attach(self._router)
        self._nursery: trio.Nursery | None = None

    async def serve(self) -> None:
        """Say hello to the root, then serve its frames until its end of file."""
        root = self._upstream.node
        turn = self._turn
        if turn is not None:
            trio.lowlevel.add_instrument(turn)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._router.post(frames.hello(root, self._kernel.node))
            try:
                await self._router.serve(self._upstream, turn)
            finally:
                nursery.cancel_scope.cancel()
                if turn is not None:
                    trio.lowlevel.remove_instrument(turn)

    def close(self) -> None:
        self._router.close()

    def _committed(self, source: str, frame: frames.Frame) -> None:
        self._writer.committed(source, frame)

    def _node_down(self, node: str) -> None:
        if node == self._upstream.node:
            self._writer.root_down()

    def _spawn_requested(self, source: str, frame: frames.Frame) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(self._spawn, source, frame)

    async def _spawn(self, source: str, frame: frames.Frame) -> None:
        """Start an actor the root asked for, and answer."""
        request, module, qualname, args, bound, link_ref, persistence, dedicated = (
            frames.read_spawn(frame)
        )
        router = self._router
        ref: ActorRef | None = None
        box: list[str] | None = None
        ignored = False
        try:
            cls = resolve_ref(module, qualname)
            if not (isinstance(cls, type) and issubclass(cls, Actor)):
                raise TypeError(f"{module}.{qualname} is not an actors.Actor")
            link = None if link_ref is None else router.proxy(link_ref)
            persist = None
            if persistence is not None:  # restored here, before init; committed by the root
                persist = persistence_from_wire(persistence, self._writer, self._state_codec)
            turn = self._turn if dedicated and not is_asyncio(cls) else None
            ref = await self._spawner.spawn(
                cls, tuple(args), name=None, bound=bound, link=link, persist=persist, turn=turn
            )
            if self._kernel.local(ref.id) is not None:
                router.subscribe(source, ref.id)  # before SPAWNED: no exit can be missed
        except StartIgnored:
            ignored = True
        except Exception as exc:
            cause = exc.__cause__ if isinstance(exc, InitError) and exc.__cause__ else exc
            text = "".join(traceback.format_exception(cause))
            box = [f"{type(cause).__module__}.{type(cause).__qualname__}", str(cause), text]
        router.post(frames.spawned(source, self._kernel.node, request, ref, box, ignored, bound))
