"""The worker supply of a pool: who is idle, busy or leased, and the upkeep that keeps it warm.

A :class:`Supply` hands out started, handshaken workers (``take``), takes them
back (``check_in``, which recycles one past ``max_tasks`` or ``max_rss``) or
stops them in the background (``discard``); ``slots`` bounds the workers in use
at ``max_workers``. In the background it keeps ``spares`` idle workers started
and prunes those idle for ``idle_timeout`` beyond them. The pools of
:mod:`spawn._pool` are built on it; it knows nothing of what workers run.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Final

import trio

from ._channel import Coder
from ._exceptions import PoolClosed, ProtocolError, WorkerDied, WorkerStartError
from ._options import PoolOptions
from ._process import KILL_REAP_TIMEOUT
from ._template import SpawnTemplate
from ._worker import Worker, start_worker

#: How long a call that lost its worker waits for the worker's exit status.
_DEATH_WAIT: Final = 2.0
_BACKOFF_MAX: Final = 5.0
#: What a worker's channel raises when the worker died or broke the protocol.
CHANNEL_ERRORS: Final = (
    trio.EndOfChannel,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    ProtocolError,
)


def expired(last_used: Sequence[float], now: float, idle_timeout: float, keep: int) -> int:
    """How many idle workers to prune from the front of ``last_used`` (oldest first).

    The ``keep`` most recently used are never pruned; of the others, those idle
    for ``idle_timeout`` or longer are, oldest first.

    >>> expired([0.0, 1.0, 5.0, 9.0], now=10.0, idle_timeout=6.0, keep=1)
    2
    """
    count = 0
    for used in last_used[: max(len(last_used) - keep, 0)]:
        if now - used < idle_timeout:
            break
        count += 1
    return count


def _exit_status(code: int | None) -> str:
    """How a worker ended, in words: ``killed by SIGKILL``, ``exit status 3``.

    >>> _exit_status(-9), _exit_status(70), _exit_status(None)
    ('killed by SIGKILL', 'exit status 70', "the worker's channel closed")
    """
    if code is None:
        return "the worker's channel closed"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _nothing() -> None:
    pass


class Supply:
    """The workers of one pool; made by :func:`open_supply`.

    A worker is in exactly one of ``idle`` (least recently used first), ``busy``,
    ``leased``, or is ``starting``. ``waiting`` counts callers waiting for a slot
    (pipelined calls yield their workers to them). ``on_release`` runs whenever
    a slot is released and ``on_close`` when the supply closes, before its
    workers are stopped: the pool that owns the supply sets them.
    """

    def __init__(
        self, nursery: trio.Nursery, template: SpawnTemplate, coder: Coder, options: PoolOptions
    ) -> None:
        self.nursery = nursery
        self.template = template
        self.coder = coder
        self.options = options
        self.max_workers = options.workers
        self.spares = options.spares
        self.max_tasks = options.max_tasks
        self.max_rss = options.max_rss
        self.slots = trio.Semaphore(self.max_workers)
        self.idle: list[Worker] = []
        self.busy: set[Worker] = set()
        self.leased: set[Worker] = set()
        self.starting = 0
        self.waiting = 0
        self.counts = {"started": 0, "recycled": 0, "pruned": 0, "died": 0}
        self.closed = False
        self.last_start_error: WorkerStartError | None = None
        self.on_release: Callable[[], None] = _nothing
        self.on_close: Callable[[], None] = _nothing
        self._spares_starting = 0
        self._accepting = True  # the nursery still takes tasks
        self._changed = trio.lowlevel.ParkingLot()
        self._wake = trio.lowlevel.ParkingLot()

    # -- slots and workers ----------------------------------------------------

    def check_open(self) -> None:
        """Raise :class:`PoolClosed` if the pool is closed."""
        if self.closed:
            raise PoolClosed("the pool is closed")

    async def acquire_slot(self) -> None:
        """Wait for a slot, counted in ``waiting`` meanwhile."""
        self.waiting += 1
        try:
            await self.slots.acquire()
        finally:
            self.waiting -= 1

    def release_slot(self) -> None:
        self.slots.release()
        self.on_release()

    @staticmethod
    def _notify(lot: trio.lowlevel.ParkingLot) -> None:
        if lot:
            lot.unpark_all()

    def _total(self) -> int:
        return len(self.idle) + len(self.busy) + len(self.leased) + self.starting

    async def take(self) -> Worker:
        """The most recently used idle worker, else a new one (with a slot held)."""
        while True:
            self.check_open()
            if self.idle:
                worker = self.idle.pop()
                if self._needs_spare():
                    self._notify(self._wake)
                return worker
            if self._total() < self.max_workers:
                worker = await self._start(spare=False)
                if self.closed:
                    with trio.move_on_after(KILL_REAP_TIMEOUT) as scope:
                        scope.shield = True
                        await worker.aclose(0)
                    raise PoolClosed("the pool closed while a worker started")
                return worker
            await self._changed.park()

    async def _start(self, *, spare: bool) -> Worker:
        self.starting += 1
        self._spares_starting += spare
        try:
            worker = await start_worker(
                self.template,
                codec=self.coder,
                timeout=self.options.start_timeout,
                frame_timeout=self.options.frame_timeout,
            )
        finally:
            self.starting -= 1
            self._spares_starting -= spare
            self._notify(self._changed)
            self._notify(self._wake)
        self.counts["started"] += 1
        return worker

    def check_in(self, worker: Worker) -> None:
        """Make ``worker`` idle again, or recycle it past ``max_tasks`` or ``max_rss``."""
        worker.last_used = trio.current_time()
        if (self.max_tasks is not None and worker.tasks >= self.max_tasks) or (
            self.max_rss is not None and worker.rss() > self.max_rss
        ):
            self.discard(worker, self.options.stop_timeout, recycled=True)
            return
        self.idle.append(worker)
        self._notify(self._changed)

    def cancel(self, worker: Worker) -> None:
        """Stop ``worker``, whose call was cancelled, at once (SIGTERM first with a grace)."""
        grace = self.options.cancel_grace
        if grace > 0:
            worker.process.terminate()
        else:
            worker.process.kill()
        self.discard(worker, grace, ask=False)

    async def died(self, worker: Worker, exc: BaseException) -> WorkerDied | PoolClosed:
        """The error for the call ``worker`` was running when its channel raised ``exc``."""
        if self.closed:
            return PoolClosed("the pool closed during the call")
        self.counts["died"] += 1
        try:
            if isinstance(exc, ProtocolError):
                worker.process.kill()  # it broke the protocol: treat it as crashed
            with trio.move_on_after(_DEATH_WAIT):
                await worker.process.wait()
        finally:
            self.discard(worker, 0)
        code = worker.process.returncode
        if isinstance(exc, ProtocolError):
            text = f"was killed during the call, as it broke the protocol: {exc}"
        else:
            text = f"died during the call: {_exit_status(code)}"
        return WorkerDied(f"worker {worker.pid} {text}", pid=worker.pid, returncode=code)

    def discard(
        self, worker: Worker, budget: float, *, ask: bool = True, recycled: bool = False
    ) -> None:
        """Stop ``worker`` in the background (it is in no set any more)."""
        if recycled:
            self.counts["recycled"] += 1
        self._notify(self._wake)
        self._notify(self._changed)
        if self._accepting:  # else the pool's close stopped it already
            self.nursery.start_soon(self._stop_worker, worker, budget, ask)

    @staticmethod
    async def _stop_worker(worker: Worker, budget: float, ask: bool) -> None:
        if ask:
            await worker.aclose(budget)
            return
        try:
            await worker.process.stop(budget)
        finally:
            with trio.CancelScope(shield=True):
                await worker.channel.aclose()

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[Worker]:
        """A worker for the block's duration, stopped when it ends (see ``Pool.lease``)."""
        self.check_open()
        await self.acquire_slot()
        try:
            worker = await self.take()
            self.leased.add(worker)
            try:
                yield worker
            finally:
                self.leased.discard(worker)
                self.discard(worker, self.options.stop_timeout)
        finally:
            self.release_slot()

    def preload(self, modules: tuple[str, ...]) -> None:
        """Have workers started from now on import ``modules`` first (after those known)."""
        known = self.template.preload
        added = tuple(m for m in dict.fromkeys(modules) if m not in known)
        if added:
            self.template = dataclasses.replace(self.template, preload=(*known, *added))

    # -- upkeep ---------------------------------------------------------------

    async def warm(self) -> None:
        """Start the first ``spares``; the first start error, if any, once all ended."""
        errors: list[WorkerStartError] = []

        async def one() -> None:
            try:
                self.idle.append(await self._start(spare=True))
            except WorkerStartError as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            for _ in range(self.spares):
                nursery.start_soon(one)
        if errors:
            raise errors[0]

    def _needs_spare(self) -> bool:
        return (
            not self.closed
            and len(self.idle) + self._spares_starting < self.spares
            and self._total() < self.max_workers
        )

    async def replenish(self) -> None:
        """Keep ``spares`` idle workers, started from this (the main) thread."""
        failures = 0
        while True:
            if self._needs_spare():  # a spare was taken (warm started the first ones)
                await trio.sleep(self.options.refill_delay)
            while self._needs_spare():
                try:
                    worker = await self._start(spare=True)
                except WorkerStartError as exc:
                    self.last_start_error = exc
                    failures += 1
                    await trio.sleep(min(0.05 * 2**failures, _BACKOFF_MAX))
                    continue
                failures = 0
                self.idle.append(worker)
                self._notify(self._changed)
            await self._wake.park()

    async def prune(self) -> None:
        """Stop workers idle for ``idle_timeout``, beyond the ``spares`` kept warm."""
        idle_timeout = self.options.idle_timeout
        while True:
            now = trio.current_time()
            count = expired([w.last_used for w in self.idle], now, idle_timeout, self.spares)
            for worker in self.idle[:count]:
                self.counts["pruned"] += 1
                self.discard(worker, self.options.stop_timeout)
            del self.idle[:count]
            candidates = self.idle[: max(len(self.idle) - self.spares, 0)]
            wake = min((w.last_used for w in candidates), default=now) + idle_timeout
            await trio.sleep_until(max(wake, now + 0.001))

    async def close(self) -> None:
        """Refuse work from now on (``on_close`` runs first), then stop every worker."""
        self.closed = True
        self.on_close()
        workers = [*self.idle, *self.busy, *self.leased]
        self.idle.clear()
        self._notify(self._changed)
        async with trio.open_nursery() as nursery:
            for worker in workers:
                nursery.start_soon(worker.aclose, self.options.stop_timeout)


@asynccontextmanager
async def open_supply(
    template: SpawnTemplate, coder: Coder, options: PoolOptions
) -> AsyncIterator[Supply]:
    """Start the spares, keep the supply up while the block runs; then stop every worker.

    ``options`` must have passed :func:`~spawn._options.check_pool_options`.
    """
    caught: BaseException | None = None
    async with trio.open_nursery() as nursery:
        supply = Supply(nursery, template, coder, options)
        background = trio.CancelScope()

        async def maintain() -> None:
            with background:
                async with trio.open_nursery() as inner:
                    inner.start_soon(supply.replenish)
                    inner.start_soon(supply.prune)

        try:
            try:
                await supply.warm()
                nursery.start_soon(maintain)
                yield supply
            except BaseException as exc:  # re-raised below, outside the nursery's group
                caught = exc
        finally:
            background.cancel()
            with trio.move_on_after(options.stop_timeout + KILL_REAP_TIMEOUT) as scope:
                scope.shield = True
                await supply.close()
    supply._accepting = False  # the nursery is gone; close stopped every worker
    if caught is not None:
        raise caught
