"""Where an actor runs: a task here, a dedicated worker process, or a named shared worker.

The root process owns a pool of actor-host workers (``actors._host``), opened
on first use and kept warm, so that an isolated actor starts, or restarts, in
the time of a handshake with a spare rather than of an interpreter start.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import trio

from spawn import Pool, RemoteError, Worker, function_ref, open_pool

from ._cell import Cell
from ._exceptions import InitError, NotRunning, StartIgnored
from ._node import SPAWN, NodeLink
from ._reasons import ExitReason
from ._ref import ActorRef

if TYPE_CHECKING:
    from ._runtime import Runtime

HOST_ENTRY: Final = "actors._host"
#: How long a worker that hosts several actors may take to confirm a kill before
#: it is taken for unresponsive and killed whole.
KILL_GRACE: Final = 2.0
#: How long a released worker has to close its side after end of file.
RELEASE_GRACE: Final = 5.0


@dataclass(frozen=True, slots=True)
class SharedWorker:
    """Run the actor in the worker process called ``name``, with the others placed there."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"a shared worker's name is a non-empty str, not {self.name!r}")


Placement = Literal["task", "process"] | SharedWorker


def check_placement(placement: object) -> Placement:
    """``placement`` if it is one, else a :class:`TypeError` that lists the choices."""
    if placement in ("task", "process") or isinstance(placement, SharedWorker):
        return placement
    raise TypeError(f'placement is "task", "process" or SharedWorker(name), not {placement!r}')


@dataclass(eq=False)
class WorkerHandle:
    """One leased actor-host worker and the link to its node."""

    node: str
    worker: Worker
    link: NodeLink
    dedicated: bool
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    actors: set[Cell] = field(default_factory=set)


@dataclass(eq=False)
class _Pending:
    """A spawn request waiting for its worker's answer."""

    node: str
    done: trio.Event = field(default_factory=trio.Event)
    ref: ActorRef | None = None
    error: BaseException | None = None


class WorkerSet:
    """The root's actor workers: the pool, the leases, and spawn requests in flight."""

    def __init__(self, runtime: Runtime, *, max_workers: int, start_timeout: float) -> None:
        self.runtime = runtime
        self.max_workers = max_workers
        self.start_timeout = start_timeout
        self.pool: Pool | None = None
        self.shared: dict[str, WorkerHandle] = {}
        self.by_node: dict[str, WorkerHandle] = {}
        self.owner: dict[Cell, WorkerHandle] = {}
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._closing = trio.Event()
        self._lock = trio.Lock()  # one shared worker per name, even when spawns race

    # -- the pool and the leases ----------------------------------------------------

    async def _ensure_pool(self) -> Pool:
        if self.pool is None:
            self.pool = await self.runtime._nursery.start(self._run_pool)
        return self.pool

    async def _run_pool(self, task_status: trio.TaskStatus[Pool]) -> None:
        config = {"root": self.runtime.node}
        async with open_pool(
            entry=HOST_ENTRY,
            config=config,
            channel_codec=self.runtime.codec,
            max_workers=self.max_workers,
            spares=1,
            start_timeout=self.start_timeout,
        ) as pool:
            task_status.started(pool)
            await self._closing.wait()

    async def _lease(self, *, dedicated: bool) -> WorkerHandle:
        pool = await self._ensure_pool()
        handle: WorkerHandle = await self.runtime._nursery.start(self._serve, pool, dedicated)
        return handle

    async def _serve(
        self, pool: Pool, dedicated: bool, task_status: trio.TaskStatus[WorkerHandle]
    ) -> None:
        router = self.runtime._ensure_router(hub=True)
        async with pool.lease() as worker:
            hello = await worker.channel.receive()
            if type(hello) is not list or len(hello) < 3 or type(hello[2]) is not str:
                raise RuntimeError(f"actor host {worker.pid} did not say hello: {hello!r:.100}")
            node = hello[2]
            link = NodeLink(worker.channel, node)
            router.links[node] = link
            router.send_names(node, self.runtime._names)
            handle = WorkerHandle(node, worker, link, dedicated)
            self.by_node[node] = handle
            task_status.started(handle)
            try:
                with handle.scope:
                    await router.serve(link)
            finally:
                self.by_node.pop(node, None)
                for name, shared in list(self.shared.items()):
                    if shared is handle:
                        del self.shared[name]

    async def worker_for(self, placement: Placement) -> WorkerHandle:
        if placement == "process":
            return await self._lease(dedicated=True)
        assert isinstance(placement, SharedWorker)
        async with self._lock:
            handle = self.shared.get(placement.name)
            if handle is None:
                handle = self.shared[placement.name] = await self._lease(dedicated=False)
            return handle

    # -- spawning -------------------------------------------------------------------

    async def spawn(
        self,
        cls: type,
        args: tuple[Any, ...],
        *,
        bound: int,
        placement: Placement,
        link: Cell | None,
    ) -> Cell:
        """Start ``cls`` in a worker; its proxy once ``init`` returned there."""
        if self._closing.is_set():
            raise NotRunning("the runtime is closed")
        module, qualname = function_ref(cls)
        handle = await self.worker_for(placement)
        if self.pool is not None:
            self.pool.preload(module)  # the next spares import it before they are needed
        request = next(self._ids)
        pending = self._pending[request] = _Pending(handle.node)
        link_ref = None if link is None else link.ref
        try:
            frame = [SPAWN, handle.node, "", request, module, qualname, list(args), bound, link_ref]
            self.runtime._ensure_router(hub=True).post(handle.node, frame)
            await pending.done.wait()
        except BaseException:
            self._pending.pop(request, None)
            if handle.dedicated:
                handle.scope.cancel()
            raise
        if pending.error is not None:
            if handle.dedicated:
                self.release(handle)
            raise pending.error
        assert pending.ref is not None
        cell = self.runtime._ensure_router(hub=True).proxies[(pending.ref.node, pending.ref.id)]
        return cell

    def spawned(self, frame: list[Any]) -> None:
        """A worker answered a spawn request (called from the link's reader)."""
        _, _, source, request, ref, box, ignored, bound = frame
        pending = self._pending.pop(request, None)
        if pending is None:
            return
        handle = self.by_node.get(source)
        if ref is not None and handle is not None:
            router = self.runtime._ensure_router(hub=True)
            cell = router.proxy(ref, window=bound)
            if cell is not None:
                handle.actors.add(cell)
                self.owner[cell] = handle
            pending.ref = ref
        elif ignored:
            pending.error = StartIgnored("init returned Ignore() in its worker")
        else:
            type_name, message, text = box
            remote = RemoteError(type_name, message, text, handle.worker.pid if handle else 0)
            error = InitError(f"init failed in its worker: {type_name}: {message}")
            error.__cause__ = remote
            pending.error = error
        pending.done.set()

    def node_down(self, node: str) -> None:
        for request, pending in list(self._pending.items()):
            if pending.node == node:
                del self._pending[request]
                pending.error = InitError(f"the worker of node {node} died during init")
                pending.done.set()

    def actor_exited(self, cell: Cell) -> None:
        handle = self.owner.pop(cell, None)
        if handle is not None:
            handle.actors.discard(cell)
            if handle.dedicated:
                self.release(handle)

    def release(self, handle: WorkerHandle) -> None:
        """A dedicated worker's actor is gone: let the worker finish, then end the lease.

        Its node is unreachable from now on (a ref to its actor means noproc). The
        link is still read until the worker's end of file, so that nothing it sent
        before (an exit notice relayed to another worker) is lost; past
        :data:`RELEASE_GRACE` the lease ends anyway and the pool stops the worker.
        """
        router = self.runtime._ensure_router(hub=True)
        router.released.add(handle.node)
        handle.link.finish()
        handle.scope.deadline = min(handle.scope.deadline, trio.current_time() + RELEASE_GRACE)

    # -- stopping -------------------------------------------------------------------

    async def stop(self, cell: Cell, reason: ExitReason, timeout: float | None) -> None:
        """OTP's shutdown for a process actor: ask, then signals or a kill, within ``timeout``.

        A dedicated worker gets SIGTERM at half the budget and SIGKILL at the end; one
        actor in a shared worker is asked, then killed by message, and only a worker
        that does not answer is killed whole (with every actor it hosts).
        """
        runtime = self.runtime
        handle = self.owner.get(cell)
        runtime._request_stop(cell, reason)
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
            await cell.done.wait()
            return
        with trio.move_on_after(budget):
            await cell.done.wait()
        if cell.exited:
            return
        runtime._kill_cell(cell)
        with trio.move_on_after(KILL_GRACE):
            await cell.done.wait()
        if not cell.exited and handle is not None:
            handle.worker.process.kill()
        await cell.done.wait()

    def kill_all(self) -> None:
        """Kill every worker now (the last step of closing the runtime)."""
        for handle in list(self.by_node.values()):
            handle.worker.process.kill()

    def close(self) -> None:
        """Let the pool close: the runtime is going away."""
        self._closing.set()
        for handle in list(self.by_node.values()):
            handle.scope.cancel()
