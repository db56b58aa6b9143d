"""Warm pools of worker processes: ``await pool.run(fn, *args)`` from trio, or leases.

>>> import operator, trio
>>> async def main() -> int:
...     async with open_pool(max_workers=2) as pool:
...         return await pool.run(operator.add, 2, 3)
>>> trio.run(main)
5

:func:`open_pool` makes a :class:`Pool` of function workers, :func:`open_worker_pool` a
:class:`WorkerPool` of another kind, only leased. Both stand on a worker supply
(:mod:`spawn._supply`); a :class:`Pool` adds calls and a pipeline (:mod:`spawn._pipeline`).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar, TypeVarTuple, Unpack

import trio

from ._calls import CodecName, FunctionRefs, decode_reply, encode_request, parse_reply
from ._channel import Coder
from ._codec import Codec, Limits
from ._exceptions import WorkerStartError
from ._options import PoolOptions, check_pool_options
from ._pipeline import Job, Pipeline
from ._supply import CHANNEL_ERRORS, Supply, open_supply
from ._supply import expired as expired  # the pure pruning rule, tested on its own
from ._template import FUNCTION_WORKER, EnvChoice, SpawnTemplate, chosen_env
from ._worker import Worker, function_config

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True)
class PoolStatistics:
    """A snapshot of a pool: workers by state, and counts since it opened."""

    idle: int
    busy: int
    leased: int
    starting: int
    started: int
    recycled: int
    pruned: int
    died: int
    queued: int = 0  #: calls from :meth:`Pool.submit` not yet sent to a worker


class WorkerPool:
    """Warm workers of one kind, only leased; made by :func:`open_worker_pool`, never directly.

    Failures: a worker that fails to start raises :class:`~spawn.WorkerStartError`
    in :meth:`lease`; a spare that fails to start is retried in the background
    (with a growing delay), its error kept in :attr:`last_start_error`.
    """

    def __init__(self, supply: Supply) -> None:
        self._supply = supply

    @property
    def template(self) -> SpawnTemplate:
        """How this pool starts its workers (``preload`` adds to it)."""
        return self._supply.template

    @property
    def max_workers(self) -> int:
        return self._supply.max_workers

    @property
    def spares(self) -> int:
        return self._supply.spares

    @property
    def last_start_error(self) -> WorkerStartError | None:
        """Why the last spare failed to start, if one did."""
        return self._supply.last_start_error

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[Worker]:
        """Take a started, handshaken worker out of the pool for the block's duration.

        The worker and its channel are the caller's (a process-hosted actor uses
        this); it counts against ``max_workers``. When the block ends the worker
        is stopped in the background (end of file, SIGTERM, SIGKILL within the
        pool's ``stop_timeout``), never reused; a spare replaces it.
        """
        async with self._supply.lease() as worker:
            yield worker

    def preload(self, *modules: str) -> None:
        """Have workers started from now on (spares included) import ``modules`` first.

        For a worker kind whose jobs import code of their own (an actor's class):
        a spare that already imported it answers its first job sooner.
        """
        self._supply.preload(modules)

    def statistics(self) -> PoolStatistics:
        """Workers by state now, and how many were started, recycled, pruned, or died."""
        supply = self._supply
        return PoolStatistics(
            idle=len(supply.idle),
            busy=len(supply.busy),
            leased=len(supply.leased),
            starting=supply.starting,
            queued=self._queued(),
            **supply.counts,
        )

    def _queued(self) -> int:
        return 0


class Pool(WorkerPool):
    """Warm worker processes that run functions; made by :func:`open_pool`, never directly.

    Cancel policy: a call cancelled before it reached a worker touches no worker.
    A call cancelled while its function runs stops that worker at once (SIGKILL,
    or SIGTERM then SIGKILL after ``cancel_grace`` seconds), since a function
    cannot be interrupted cooperatively; the worker is reaped in the background,
    replaced, and ``Cancelled`` propagates without waiting.

    Failures: a worker that dies (or sends bytes that break the protocol, and is
    then killed) fails only the call it was running, with :class:`WorkerDied`,
    and is replaced. An exception raised by the function arrives as itself for
    built-in types, else as :class:`RemoteError`.

    Pipelining: calls queued with :meth:`submit` are withdrawn with :meth:`withdraw`
    (a worker skips one it has not started), so several of them may be in flight
    on one worker, which reports each start (:meth:`Job.started`) and runs them in order:
    up to 64, about 5 ms of calls at the pace seen so far, and no more than a
    fair share of the queue, so that a burst spreads over idle workers first.
    If the worker dies, the call it was running fails and those behind it, which
    never started, are sent to another worker. :meth:`run` and :meth:`apply`
    calls, which can be cancelled, always have a worker to themselves; while one
    waits for a worker, pipelined calls yield theirs once the calls in flight
    on it are answered.

    A pool of workers of another kind (``open_pool(entry=...)``) is only leased:
    its :meth:`run`, :meth:`apply` and :meth:`submit` raise :class:`TypeError`.
    """

    def __init__(self, supply: Supply) -> None:
        super().__init__(supply)
        self._coder = supply.coder
        self._codec: CodecName = supply.options.codec
        self._refs = FunctionRefs()
        self._seq = itertools.count(1)
        self._pipeline: Pipeline | None = None
        if supply.template.entry == FUNCTION_WORKER:
            self._pipeline = pipeline = Pipeline(supply, self._seq)
            supply.on_release = pipeline.drive_more
            supply.on_close = pipeline.close

    def _functions(self) -> Pipeline:
        """The pipeline, if the workers run functions (TypeError) and the pool is open."""
        if self._pipeline is None:
            raise TypeError(f"this pool's workers run {self.template.entry}, not functions")
        self._supply.check_open()
        return self._pipeline

    def _queued(self) -> int:
        return 0 if self._pipeline is None else len(self._pipeline)

    async def run(self, fn: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
        """Run ``fn(*args)`` in a worker and return its result.

        ``fn`` travels by reference (module and qualified name) and the arguments
        through the pool's codec: :class:`NotByReference` or
        :class:`~spawn.EncodeError` at once, before anything is sent, if they
        cannot. See the class docstring for failures and cancellation.
        """
        return await self.apply(fn, args)

    async def apply(
        self,
        fn: Callable[..., T],
        args: Iterable[object] = (),
        kwargs: Mapping[str, object] | None = None,
    ) -> T:
        """Like :meth:`run`, with keyword arguments (as ``multiprocessing.Pool.apply``)."""
        self._functions()
        seq = next(self._seq)
        ref = self._refs.get(fn)
        frame = encode_request(self._coder, seq, ref, tuple(args), dict(kwargs or {}), self._codec)
        await trio.lowlevel.checkpoint_if_cancelled()
        supply = self._supply
        try:  # a free slot costs no trip through the scheduler: the reply wait yields
            supply.slots.acquire_nowait()
        except trio.WouldBlock:
            await supply.acquire_slot()  # queued jobs yield their workers to it
        try:
            reply = await self._call(frame, seq)
        finally:
            supply.release_slot()
        return decode_reply(reply, self._codec)  # type: ignore[return-value]

    async def _call(self, frame: bytes, seq: int) -> tuple[bool, object]:
        supply = self._supply
        worker = await supply.take()
        supply.busy.add(worker)
        try:
            await worker.channel.send_frame(frame)
            reply = parse_reply(await worker.channel.receive(), seq)
        except trio.Cancelled:
            supply.busy.discard(worker)
            supply.cancel(worker)
            raise
        except CHANNEL_ERRORS as exc:
            supply.busy.discard(worker)
            raise await supply.died(worker, exc) from exc
        except BaseException:
            supply.busy.discard(worker)
            supply.discard(worker, 0)
            raise
        supply.busy.discard(worker)
        worker.tasks += 1
        supply.check_in(worker)
        return reply

    def submit(self, *jobs: Job) -> None:
        """Queue ``jobs`` to run in workers, in order of submission; returns at once.

        Call it from the pool's event loop. Each job is claimed just before it is
        sent, then gets its result or its exception: the function's (as for
        :meth:`run`), :class:`~spawn.EncodeError` if its arguments cannot be
        sent, :class:`WorkerDied` if its worker died while running it (the jobs
        queued behind it on that worker never started and go to another one),
        :class:`WorkerStartError` if no worker could be started for it, or
        :class:`PoolClosed` if the pool closes first. Raises :class:`PoolClosed`
        at once if the pool is closed.
        """
        self._functions().submit(jobs)

    def withdraw(self, job: Job) -> None:
        """``job``, submitted earlier, is no longer wanted; call it from the pool's event loop.

        A job still queued is never sent; one sent to a worker that has not
        started it is skipped by that worker (a skip that arrives after the start
        comes too late: the call runs, and its outcome is dropped). Either way no
        callback of ``job`` runs afterwards.
        """
        if self._pipeline is not None:
            self._pipeline.withdraw(job)


@asynccontextmanager
async def open_pool(
    *,
    max_workers: int | None = PoolOptions.max_workers,
    spares: int = PoolOptions.spares,
    max_tasks: int | None = PoolOptions.max_tasks,
    max_rss: int | None = PoolOptions.max_rss,
    idle_timeout: float = PoolOptions.idle_timeout,
    codec: CodecName = PoolOptions.codec,
    env: EnvChoice = PoolOptions.env,
    cwd: str | None = PoolOptions.cwd,
    rlimits: Mapping[int, tuple[int, int]] | None = PoolOptions.rlimits,
    preload: Iterable[str] = PoolOptions.preload,
    limits: Limits | None = PoolOptions.limits,
    entry: str = PoolOptions.entry,
    config: object = PoolOptions.config,
    channel_codec: Coder | None = PoolOptions.channel_codec,
    initializer: Callable[..., object] | None = PoolOptions.initializer,
    initargs: tuple[object, ...] = PoolOptions.initargs,
    site: bool = PoolOptions.site,
    start_timeout: float = PoolOptions.start_timeout,
    stop_timeout: float = PoolOptions.stop_timeout,
    cancel_grace: float = PoolOptions.cancel_grace,
    refill_delay: float = PoolOptions.refill_delay,
    frame_timeout: float = PoolOptions.frame_timeout,
) -> AsyncIterator[Pool]:
    """Open a pool of worker processes; on exit, stop every worker and reap it.

    ``max_workers`` (default: the CPU count) bounds all its processes; ``spares``
    are kept idle and warm (started when the pool opens, replenished in the
    background, ``refill_delay`` seconds after a spare was taken, so that the
    start does not compete with the work it was taken for). A worker is
    recycled after ``max_tasks`` calls or when its RSS passes ``max_rss``
    bytes, and pruned after ``idle_timeout`` seconds idle beyond the spares.
    ``codec="pickle"`` opts in to pickled arguments, results and exceptions
    (msgpack and tuples otherwise). ``env`` is ``"allowlist"`` (a few variables
    such as PATH, HOME, LANG), ``"inherit"`` (the parent's minus loader
    variables such as LD_PRELOAD) or an explicit mapping. Workers start
    ``python -I -S`` and receive this process's ``sys.path`` (as it is when
    each starts); ``rlimits`` (``{resource.RLIMIT_AS: (soft, hard)}``) are
    applied before any user code, then ``preload`` modules are imported.

    ``initializer(*initargs)`` runs in each function worker before its first
    call; if it raises, that call fails with :class:`InitializerError` and the
    worker is replaced. ``entry`` names the worker kind: the default runs
    functions; another entry module (``main(fd, config)``) makes a pool whose
    workers are only leased, speaking ``channel_codec`` (default
    ``Codec(limits=limits)``): see :func:`open_worker_pool`. Exiting stops
    every worker within ``stop_timeout`` (calls still running fail with
    :class:`PoolClosed`). Once part of a frame has arrived, each side waits at
    most ``frame_timeout`` seconds for the rest: a worker whose reply stalls is
    killed and its call fails with :class:`WorkerDied` (a
    :class:`~spawn.ProtocolError` as ``__cause__``); a worker whose request
    stalls exits. A bad option raises :class:`ValueError` (or
    :class:`TypeError`) naming it.

    Signals: workers run in their own process group, so a Ctrl-C in a terminal
    reaches only this process, which owns shutdown; a SIGINT sent to a worker
    anyway is caught and does nothing (a handler, not ignored: the programs a
    worker starts get SIGINT at its default); they
    keep SIGTERM at its default, die with SIGKILL if this process dies (the
    parent-death signal, armed for the thread that spawned them: open the pool
    from the main thread), and exit when their channel reaches end of file.
    """
    options = PoolOptions(
        max_workers=max_workers,
        spares=spares,
        max_tasks=max_tasks,
        max_rss=max_rss,
        idle_timeout=idle_timeout,
        codec=codec,
        env=env,
        cwd=cwd,
        rlimits=rlimits,
        preload=preload,
        limits=limits,
        entry=entry,
        config=config,
        channel_codec=channel_codec,
        initializer=initializer,
        initargs=initargs,
        site=site,
        start_timeout=start_timeout,
        stop_timeout=stop_timeout,
        cancel_grace=cancel_grace,
        refill_delay=refill_delay,
        frame_timeout=frame_timeout,
    )
    async with _open_supply(options) as supply:
        yield Pool(supply)


@asynccontextmanager
async def open_worker_pool(
    entry: str,
    *,
    config: object = PoolOptions.config,
    channel_codec: Coder | None = PoolOptions.channel_codec,
    max_workers: int | None = PoolOptions.max_workers,
    spares: int = PoolOptions.spares,
    env: EnvChoice = PoolOptions.env,
    cwd: str | None = PoolOptions.cwd,
    rlimits: Mapping[int, tuple[int, int]] | None = PoolOptions.rlimits,
    preload: Iterable[str] = PoolOptions.preload,
    limits: Limits | None = PoolOptions.limits,
    site: bool = PoolOptions.site,
    start_timeout: float = PoolOptions.start_timeout,
    stop_timeout: float = PoolOptions.stop_timeout,
    refill_delay: float = PoolOptions.refill_delay,
    frame_timeout: float = PoolOptions.frame_timeout,
) -> AsyncIterator[WorkerPool]:
    """Open a pool of workers that run ``entry`` (a module with ``main(fd, config)``).

    Its workers are only leased (:meth:`WorkerPool.lease`); they speak
    ``channel_codec`` (default ``Codec(limits=limits)``) and receive ``config``,
    a value :mod:`marshal` can carry (``frame_timeout`` bounds this process's
    reads; the entry's own reader is its business). The other options mean what they mean for
    :func:`open_pool`; function workers (``spawn._fnworker``) are pooled by
    :func:`open_pool`, and given here raise :class:`ValueError`.
    """
    if entry == FUNCTION_WORKER:
        raise ValueError(f"entry {entry!r} runs functions: open_pool pools those workers")
    options = PoolOptions(
        entry=entry,
        config=config,
        channel_codec=channel_codec,
        max_workers=max_workers,
        spares=spares,
        env=env,
        cwd=cwd,
        rlimits=rlimits,
        preload=preload,
        limits=limits,
        site=site,
        start_timeout=start_timeout,
        stop_timeout=stop_timeout,
        refill_delay=refill_delay,
        frame_timeout=frame_timeout,
    )
    async with _open_supply(options) as supply:
        yield WorkerPool(supply)


def _open_supply(options: PoolOptions) -> AbstractAsyncContextManager[Supply]:
    """Check ``options``; the supply of workers they describe."""
    options = check_pool_options(options)
    config = options.config
    if options.entry == FUNCTION_WORKER:
        config = function_config(
            options.codec,
            options.limits,
            options.initializer,
            options.initargs,
            options.frame_timeout,
        )
    template = SpawnTemplate.worker(
        options.entry,
        env=chosen_env(options.env),
        cwd=options.cwd,
        rlimits=options.rlimits,
        preload=options.preload,
        config=config,
        site=options.site,
    )
    coder = options.channel_codec
    return open_supply(
        template, coder if coder is not None else Codec(limits=options.limits), options
    )
