"""The root's actor workers: the warm pool, one lease per worker, spawn requests in flight.

The root process owns a pool of actor-host workers (``actors._host``), opened
on first use and kept warm, so that an isolated actor starts, or restarts, in
the time of a handshake with a spare rather than of an interpreter start.
Each leased worker is a node, linked to the root's router; a process actor is
a :class:`~actors._proxy.ProxyCell` whose :class:`~actors._proxy.Host` is this
set, which stops it the way OTP stops a child, as a process.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Final

import trio

from spawn import (
    Codec,
    ProtocolError,
    RemoteError,
    Worker,
    WorkerPool,
    WorkerStartError,
    allowlisted_env,
    open_worker_pool,
)

from . import _frames as frames
from ._asyncio_actor import is_asyncio
from ._behaviour import Actor
from ._cell import Cell, reported_by
from ._exceptions import InitError, NotRunning, StartIgnored
from ._kernel import Kernel
from ._link import NodeLink
from ._persisted import Persistence
from ._persistent import StateStore
from ._placement import Placement, SharedWorker, WorkerOptions, check_placeable, worker_loop
from ._proxy import ProxyCell
from ._reasons import ExitReason
from ._remote_state import StateService, persistence_to_wire
from ._router import Router
from ._wire import LentErrors

HOST_ENTRY: Final = "actors._host"
#: How long a worker that hosts several actors may take to confirm a kill before
#: it is taken for unresponsive and killed whole.
KILL_GRACE: Final = 2.0
#: How long a released worker has to close its side after end of file.
RELEASE_GRACE: Final = 5.0
#: How long the link of a worker killed with SIGKILL may stay open before its lease ends.
KILL_WAIT: Final = 10.0


@dataclass(eq=False)
class WorkerHandle:
    """One leased actor-host worker and the link to its node."""

    node: str
    worker: Worker
    link: NodeLink
    dedicated: bool
    options: WorkerOptions
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    actors: set[ProxyCell] = field(default_factory=set)


@dataclass(eq=False)
class _Pending:
    """A spawn request waiting for its worker's answer."""

    node: str
    reported: bool  # its crash is logged by its supervisor (reported_by)
    done: trio.Event = field(default_factory=trio.Event)
    cell: ProxyCell | None = None
    error: BaseException | None = None


class WorkerSet:
    """The root's actor workers: a pool per set of options, the leases, spawn requests in flight.

    Each set of :class:`WorkerOptions` (the runtime's ``defaults`` with an actor's
    own on top) has a pool of its own, opened when first used, so a warm spare
    started with other options is never taken; every pool counts against one
    ``max_workers``.
    """

    def __init__(
        self,
        kernel: Kernel,
        nursery: trio.Nursery,
        codec: Codec,
        store: StateStore | None,
        lent: LentErrors,
        max_workers: int,
        defaults: WorkerOptions,
    ) -> None:
        self._kernel = kernel
        self._nursery = nursery
        self._codec = codec
        self._max_workers = max_workers
        self._slots = trio.Semaphore(max_workers)
        self.defaults = defaults
        self._router = Router(
            kernel,
            codec,
            hub=True,
            on_spawned=self._spawned,
            on_put=self._put_requested,
            on_node_down=self._node_down,
        )
        kernel.attach(self._router)
        self._states = StateService(store, self._router, nursery, lent)
        self._keys: dict[ProxyCell, str] = {}  # the state key of each persistent actor
        self._pools: dict[WorkerOptions, WorkerPool] = {}
        self._shared: dict[str, WorkerHandle] = {}
        self._by_node: dict[str, WorkerHandle] = {}
        self._owner: dict[ProxyCell, WorkerHandle] = {}
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._closing = trio.Event()
        self._lock = trio.Lock()  # one shared worker per name, even when spawns race
        self._pool_lock = trio.Lock()  # one pool per options, even when the first spawns race

    # -- the pools and the leases -----------------------------------------------------

    def statistics(self) -> tuple[int, int]:
        """(workers leased now, idle spares ready)."""
        return len(self._by_node), sum(p.statistics().idle for p in self._pools.values())

    def pid(self, cell: Cell) -> int | None:
        """The pid of the worker that runs ``cell``, if it is a process actor placed from here."""
        handle = self._owner.get(cell) if isinstance(cell, ProxyCell) else None
        return None if handle is None else handle.worker.pid

    async def _ensure_pool(self, options: WorkerOptions, module: str) -> WorkerPool:
        async with self._pool_lock:
            pool = self._pools.get(options)
            if pool is None:
                pool = await self._nursery.start(self._run_pool, options, module)
                self._pools[options] = pool
            return pool

    async def _run_pool(
        self, options: WorkerOptions, module: str, task_status: trio.TaskStatus[WorkerPool]
    ) -> None:
        """A pool of workers started with ``options``, its spare importing ``module`` first."""
        assert options.start_timeout is not None, "options on top of the runtime's have one"
        try:
            async with open_worker_pool(
                HOST_ENTRY,
                config={"root": self._kernel.node, "loop": options.loop or "trio"},
                channel_codec=self._codec,
                max_workers=self._max_workers,
                spares=1,
                env={**allowlisted_env(), **options.env},
                rlimits=dict(options.rlimits) or None,
                preload=(module,),
                start_timeout=options.start_timeout,
            ) as pool:
                task_status.started(pool)
                await self._closing.wait()
        finally:
            self._pools.pop(options, None)

    async def _lease(self, options: WorkerOptions, module: str, dedicated: bool) -> WorkerHandle:
        try:
            pool = await self._ensure_pool(options, module)
            handle: WorkerHandle = await self._nursery.start(self._serve, pool, options, dedicated)
        except WorkerStartError as exc:
            raise InitError(f"its worker did not start: {exc}") from exc
        return handle

    async def _serve(
        self,
        pool: WorkerPool,
        options: WorkerOptions,
        dedicated: bool,
        task_status: trio.TaskStatus[WorkerHandle],
    ) -> None:
        router = self._router
        async with self._slots, pool.lease() as worker:
            hello: object = None
            with trio.move_on_after(options.start_timeout or 0):
                try:
                    hello = await worker.channel.receive()
                except (trio.EndOfChannel, trio.BrokenResourceError, ProtocolError) as exc:
                    hello = exc
            if type(hello) is not list or len(hello) < 3 or type(hello[2]) is not str:
                raise InitError(
                    f"actor host {worker.pid} did not say hello within "
                    f"{options.start_timeout} s: {hello!r:.100}"
                )
            node = hello[2]
            link = NodeLink(worker.channel, node)
            router.add_link(link)
            router.send_names(node)
            handle = WorkerHandle(node, worker, link, dedicated, options)
            self._by_node[node] = handle
            task_status.started(handle)
            try:
                with handle.scope:
                    await router.serve(link)
            finally:
                self._by_node.pop(node, None)
                for name, shared in list(self._shared.items()):
                    if shared is handle:
                        del self._shared[name]

    async def _worker_for(
        self, placement: Placement, options: WorkerOptions, module: str, asyncio_actor: bool
    ) -> WorkerHandle:
        options = worker_loop(asyncio_actor, placement, options.over(self.defaults))
        if placement == "process":
            return await self._lease(options, module, dedicated=True)
        assert isinstance(placement, SharedWorker)
        async with self._lock:
            handle = self._shared.get(placement.name)
            if handle is None:
                handle = await self._lease(options, module, dedicated=False)
                self._shared[placement.name] = handle
            elif handle.options != options:
                raise ValueError(
                    f"shared worker {placement.name!r} runs with {handle.options}, "
                    f"not with {options}"
                )
            return handle

    # -- spawning -------------------------------------------------------------------

    async def spawn(
        self,
        cls: type,
        args: tuple[Any, ...],
        *,
        bound: int,
        placement: Placement,
        options: WorkerOptions,
        link: Cell | None,
        persist: Persistence | None = None,
    ) -> ProxyCell:
        """Start ``cls`` in a worker started with ``options``; its proxy once ``init`` returned.

        With ``persist``, the worker restores the state before ``init`` and commits
        through this root, which puts each commit into the store.
        """
        if self._closing.is_set():
            raise NotRunning("the runtime is closed")
        ref = check_placeable(cls, args)
        asyncio_actor = issubclass(cls, Actor) and is_asyncio(cls)
        handle = await self._worker_for(placement, options, ref[0], asyncio_actor)
        pool = self._pools.get(handle.options)
        if pool is not None:
            pool.preload(ref[0])  # the next spares import it before they are needed
        request = next(self._ids)
        pending = self._pending[request] = _Pending(handle.node, reported_by(link))
        link_ref = None if link is None else link.ref
        node = self._kernel.node
        persistence = None
        if persist is not None:
            persistence = persistence_to_wire(persist)
            self._states.placed(handle.node, persist.key)  # its init commits before SPAWNED
        try:
            self._router.post(
                frames.spawn(
                    handle.node,
                    node,
                    request,
                    ref,
                    list(args),
                    bound,
                    link_ref,
                    persistence,
                    handle.dedicated,
                )
            )
            await pending.done.wait()
        except BaseException:
            self._pending.pop(request, None)
            self._unplace(handle.node, persist)
            if handle.dedicated:
                handle.scope.cancel()
            raise
        if pending.error is not None:
            self._unplace(handle.node, persist)
            if handle.dedicated:
                self._release(handle)
            raise pending.error
        cell = pending.cell
        assert cell is not None
        if persist is not None:
            if cell.exited:
                self._unplace(handle.node, persist)
            else:
                self._keys[cell] = persist.key
        return cell

    def _unplace(self, node: str, persist: Persistence | None) -> None:
        if persist is not None:
            self._states.removed(node, persist.key)

    def _put_requested(self, source: str, frame: frames.Frame) -> None:
        self._states.put_requested(source, frame)

    def _spawned(self, source: str, frame: frames.Frame) -> None:
        """A worker answered a spawn request (called from the link's reader)."""
        request, ref, box, ignored, bound = frames.read_spawned(frame)
        pending = self._pending.pop(request, None)
        if pending is None:
            return
        handle = self._by_node.get(source)
        if ref is not None and handle is not None:
            cell = self._router.proxy(ref, window=bound)
            if cell is not None:
                cell.host = self
                cell.reported = pending.reported
                handle.actors.add(cell)
                self._owner[cell] = handle
                pending.cell = cell
            else:  # its node was released or went down between the answer and now
                pending.error = InitError(f"the worker of node {source} went away during init")
        elif ignored:
            pending.error = StartIgnored("init returned Ignore() in its worker")
        else:
            type_name, message, text = box or ["builtins.RuntimeError", "no answer", ""]
            remote = RemoteError(type_name, message, text, handle.worker.pid if handle else 0)
            error = InitError(f"init failed in its worker: {type_name}: {message}")
            error.__cause__ = remote
            pending.error = error
        pending.done.set()

    def _node_down(self, node: str) -> None:
        self._states.node_down(node)
        for request, pending in list(self._pending.items()):
            if pending.node == node:
                del self._pending[request]
                pending.error = InitError(f"the worker of node {node} died during init")
                pending.done.set()

    # -- the Host of process actors ------------------------------------------------

    def actor_exited(self, cell: ProxyCell) -> None:
        handle = self._owner.pop(cell, None)
        key = self._keys.pop(cell, None)
        if handle is not None and key is not None:
            self._states.removed(handle.node, key)  # a late put of its is refused
        if handle is not None:
            handle.actors.discard(cell)
            if handle.dedicated:
                self._release(handle)

    def _release(self, handle: WorkerHandle) -> None:
        """A dedicated worker's actor is gone: let the worker finish, then end the lease.

        Its node is unreachable from now on (a ref to its actor means noproc). The
        link is still read until the worker's end of file, so that nothing it sent
        before (an exit notice relayed to another worker) is lost; past
        :data:`RELEASE_GRACE` the lease ends anyway and the pool stops the worker.
        """
        self._router.release(handle.node)
        handle.scope.deadline = min(handle.scope.deadline, trio.current_time() + RELEASE_GRACE)

    async def stop_actor(self, cell: ProxyCell, reason: ExitReason, timeout: float | None) -> None:
        """OTP's shutdown for a process actor: ask, then signals or a kill, within ``timeout``.

        A dedicated worker gets SIGTERM at half the budget and SIGKILL at the end; one
        actor in a shared worker is asked, then killed by message, and only a worker
        that does not answer is killed whole (with every actor it hosts).
        """
        handle = self._owner.get(cell)
        cell.request_stop(reason)
        budget = math.inf if timeout is None else timeout
        if handle is not None and handle.dedicated:
            with trio.move_on_after(budget / 2):
                await cell.done.wait()
            if not cell.exited:
                handle.worker.process.terminate()
                with trio.move_on_after(budget / 2):
                    await cell.done.wait()
            if not cell.exited:
                handle.worker.process.kill()
                self._await_death(cell, handle)
            await cell.done.wait()
            return
        with trio.move_on_after(budget):
            await cell.done.wait()
        if cell.exited:
            return
        cell.kill()
        with trio.move_on_after(KILL_GRACE):
            await cell.done.wait()
        if not cell.exited and handle is not None:
            handle.worker.process.kill()
            self._await_death(cell, handle)
        await cell.done.wait()

    def _await_death(self, cell: ProxyCell, handle: WorkerHandle) -> None:
        """After SIGKILL: the node goes down when its link ends; should the link not end
        (another process holding the socket), end the lease, which reaps the worker."""
        handle.scope.deadline = min(handle.scope.deadline, trio.current_time() + KILL_WAIT)

    # -- closing --------------------------------------------------------------------

    def actors(self) -> list[ProxyCell]:
        """The actors placed in workers from here that are still alive."""
        return list(self._owner)

    def kill_all(self) -> None:
        """Kill every worker now (the last step of closing the runtime)."""
        for handle in list(self._by_node.values()):
            handle.worker.process.kill()

    def close(self) -> None:
        """Let the pool close: the runtime is going away."""
        self._closing.set()
        self._states.close()
        for handle in list(self._by_node.values()):
            handle.scope.cancel()
