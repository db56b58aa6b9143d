"""A warm pool of worker processes: ``await pool.run(fn, *args)`` from trio.

>>> import operator, trio
>>> async def main() -> int:
...     async with open_pool(max_workers=2) as pool:
...         return await pool.run(operator.add, 2, 3)
>>> trio.run(main)
5
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import trio

from ._calls import CodecName, FunctionRefs, decode_reply, encode_call, parse_reply
from ._channel import Coder
from ._codec import Codec, Limits
from ._exceptions import (
    InitializerError,
    PoolClosed,
    ProtocolError,
    SpawnError,
    WorkerDied,
    WorkerStartError,
)
from ._options import PoolOptions, check_pool_options
from ._process import KILL_REAP_TIMEOUT
from ._template import FUNCTION_WORKER, EnvChoice, SpawnTemplate, chosen_env
from ._worker import Worker, function_config, start_worker

#: How long a call that lost its worker waits for the worker's exit status.
_DEATH_WAIT: Final = 2.0
_BACKOFF_MAX: Final = 5.0
#: The default ``refill_delay`` for tests that patch it; remove once they pass the option.
REFILL_DELAY = PoolOptions.refill_delay
#: Pipelining: about this many seconds of calls (at the observed time per call) are
#: kept in flight on a worker, at least one and at most ``_MAX_DEPTH``.
_WINDOW: Final = 0.005
_MAX_DEPTH: Final = 64
_SMOOTHING: Final = 0.25
_INITIALIZER_ERROR: Final = f"{InitializerError.__module__}.{InitializerError.__qualname__}"
_CHANNEL_ERRORS: Final = (
    trio.EndOfChannel,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    ProtocolError,
)


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


class Job:
    """A call for :meth:`Pool.submit`: ``ref`` (module, qualified name), arguments, callbacks.

    Subclass it and override the three callbacks, which the pool calls in its
    event loop: :meth:`claim` just before the call is sent (return ``False`` to
    withdraw it: it is dropped, never run), then exactly one of
    :meth:`set_result` or :meth:`set_exception`. A job that is never claimed
    gets neither.
    """

    __slots__ = ("_frame", "_seq", "args", "kwargs", "ref")

    def __init__(
        self, ref: tuple[str, str], args: tuple[object, ...], kwargs: dict[str, object]
    ) -> None:
        self.ref = ref
        self.args = args
        self.kwargs = kwargs
        self._frame: bytes | None = None  # set once claimed and encoded
        self._seq = 0

    def claim(self) -> bool:
        """Whether the call is still wanted; called once, just before it is sent."""
        return True

    def set_result(self, value: object) -> None:
        """The call returned ``value``."""

    def set_exception(self, exc: BaseException) -> None:
        """The call failed (see :meth:`Pool.submit` for the errors)."""


class Pool:
    """Warm worker processes; made by :func:`open_pool`, never directly.

    Cancel policy: a call cancelled before it reached a worker touches no worker.
    A call cancelled while its function runs stops that worker at once (SIGKILL,
    or SIGTERM then SIGKILL after ``cancel_grace`` seconds), since a function
    cannot be interrupted cooperatively; the worker is reaped in the background,
    replaced, and ``Cancelled`` propagates without waiting.

    Failures: a worker that dies (or sends bytes that break the protocol, and is
    then killed) fails only the call it was running, with :class:`WorkerDied`,
    and is replaced. An exception raised by the function arrives as itself for
    built-in types, else as :class:`RemoteError`.

    Pipelining: calls queued with :meth:`submit` cannot be cancelled once sent,
    so several of them may be in flight on one worker, which runs them in order:
    up to 64, about 5 ms of calls at the pace seen so far, and no more than a
    fair share of the queue, so that a burst spreads over idle workers first.
    If the worker dies, the call it was running fails and those behind it, which
    never started, are sent to another worker. :meth:`run` and :meth:`apply`
    calls, which can be cancelled, always have a worker to themselves; while one
    waits for a worker, pipelined calls yield theirs once the calls in flight
    on it are answered.
    """

    def __init__(
        self, nursery: trio.Nursery, template: SpawnTemplate, coder: Coder, options: PoolOptions
    ) -> None:
        self.template = template
        self.max_workers = options.workers
        self.spares = options.spares
        self._nursery = nursery
        self._coder = coder
        self._codec: CodecName = options.codec
        self._max_tasks = options.max_tasks
        self._max_rss = options.max_rss
        self._idle_timeout = options.idle_timeout
        self._start_timeout = options.start_timeout
        self._stop_timeout = options.stop_timeout
        self._cancel_grace = options.cancel_grace
        self._refill_delay = options.refill_delay
        self._slots = trio.Semaphore(self.max_workers)
        self._idle: list[Worker] = []  # least recently used first
        self._busy: set[Worker] = set()
        self._leased: set[Worker] = set()
        self._starting = 0
        self._spares_starting = 0
        self._changed = trio.lowlevel.ParkingLot()
        self._wake = trio.lowlevel.ParkingLot()
        self._seq = itertools.count(1)
        self._refs = FunctionRefs()
        self._closed = False
        self._accepting = True
        self._counts = {"started": 0, "recycled": 0, "pruned": 0, "died": 0}
        self._jobs: deque[Job] = deque()
        self._drivers = 0
        self._waiting = 0  # run/apply/lease callers waiting for a slot
        self._per_call = 0.0  # smoothed seconds per pipelined call (optimistic at first)
        self.last_start_error: WorkerStartError | None = None

    # -- calls --------------------------------------------------------------

    async def run(self, fn: Callable[..., Any], *args: object) -> Any:
        """Run ``fn(*args)`` in a worker and return its result.

        ``fn`` travels by reference (module and qualified name) and the arguments
        through the pool's codec: :class:`NotByReference` or
        :class:`~spawn.EncodeError` at once, before anything is sent, if they
        cannot. See the class docstring for failures and cancellation.
        """
        return await self.apply(fn, args)

    async def apply(
        self,
        fn: Callable[..., Any],
        args: Iterable[object] = (),
        kwargs: Mapping[str, object] | None = None,
    ) -> Any:
        """Like :meth:`run`, with keyword arguments (as ``multiprocessing.Pool.apply``)."""
        if self.template.entry != FUNCTION_WORKER:
            raise TypeError(f"this pool's workers run {self.template.entry}, not functions")
        self._check_open()
        seq = next(self._seq)
        ref = self._refs.get(fn)
        request = encode_call(seq, ref, tuple(args), dict(kwargs or {}), self._codec)
        frame = self._coder.encode(request)
        await trio.lowlevel.checkpoint_if_cancelled()
        try:  # a free slot costs no trip through the scheduler: the reply wait yields
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            self._waiting += 1  # queued jobs yield their workers to it
            try:
                await self._slots.acquire()
            finally:
                self._waiting -= 1
        try:
            reply = await self._call(frame, seq)
        finally:
            self._release_slot()
        return decode_reply(reply, self._codec)

    async def _call(self, frame: bytes, seq: int) -> tuple[bool, object]:
        worker = await self._take()
        self._busy.add(worker)
        try:
            await worker.channel.send_frame(frame)
            reply = parse_reply(await worker.channel.receive(), seq)
        except trio.Cancelled:
            self._busy.discard(worker)
            self._cancel(worker)
            raise
        except _CHANNEL_ERRORS as exc:
            self._busy.discard(worker)
            raise await self._died(worker, exc) from exc
        except BaseException:
            self._busy.discard(worker)
            self._discard(worker, 0)
            raise
        self._busy.discard(worker)
        worker.tasks += 1
        self._check_in(worker)
        return reply

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[Worker]:
        """Take a started, handshaken worker out of the pool for the block's duration.

        The worker and its channel are the caller's (a process-hosted actor uses
        this); it counts against ``max_workers``. When the block ends the worker
        is stopped in the background (end of file, SIGTERM, SIGKILL within the
        pool's ``stop_timeout``), never reused; a spare replaces it.
        """
        self._check_open()
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            worker = await self._take()
            self._leased.add(worker)
            try:
                yield worker
            finally:
                self._leased.discard(worker)
                self._discard(worker, self._stop_timeout)
        finally:
            self._release_slot()

    # -- pipelined calls ----------------------------------------------------

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
        if self.template.entry != FUNCTION_WORKER:
            raise TypeError(f"this pool's workers run {self.template.entry}, not functions")
        self._check_open()
        self._jobs.extend(jobs)
        self._drive_more()

    def _release_slot(self) -> None:
        self._slots.release()
        self._drive_more()

    def _drive_more(self) -> None:
        """Start a driver (one worker each) per queued job while a slot is free."""
        while self._jobs and self._drivers < len(self._jobs) and not self._closed:
            try:
                self._slots.acquire_nowait()
            except trio.WouldBlock:
                return
            self._drivers += 1
            self._nursery.start_soon(self._drive)

    async def _drive(self) -> None:
        """Run queued jobs on a worker (another if it dies or retires) until none is left."""
        try:
            while self._jobs and not self._closed and not self._waiting:
                try:
                    worker = await self._take()
                except PoolClosed:
                    return
                except WorkerStartError as exc:
                    self._fail_queued(exc, count=1)
                    continue
                self._busy.add(worker)
                try:
                    await self._serve(worker)
                finally:
                    self._busy.discard(worker)
        finally:
            self._drivers -= 1
            self._release_slot()

    async def _serve(self, worker: Worker) -> None:
        """Keep jobs in flight on ``worker`` while there are any; then check it in."""
        inflight: deque[Job] = deque()
        channel = worker.channel
        mark = 0.0
        try:
            while True:
                frames = self._claim(worker, inflight)
                if frames:
                    if len(frames) == len(inflight):
                        mark = trio.current_time()
                    await channel.send_frames(frames)
                if not inflight:
                    break
                answered = self._answer(worker, inflight, await channel.receive_batch())
                now = trio.current_time()
                self._per_call += _SMOOTHING * ((now - mark) / answered - self._per_call)
                mark = now
                if worker.broken:  # the initializer failed: it exits, the rest never ran
                    self._requeue(inflight)
                    self._discard(worker, self._stop_timeout)
                    return
        except _CHANNEL_ERRORS as exc:
            if len(inflight) > 1 and not self._closed:
                running = inflight.popleft()
                self._requeue(inflight)
                inflight.append(running)
            error = await self._died(worker, exc)
            if inflight:
                inflight.popleft().set_exception(error)
            return
        except BaseException:
            self._discard(worker, 0)
            raise
        finally:
            for job in inflight:  # only when cancelled or closing
                job.set_exception(PoolClosed("the pool closed during the call"))
        self._check_in(worker)

    def _claim(self, worker: Worker, inflight: deque[Job]) -> list[bytes]:
        """Claim and encode the jobs to send ``worker`` now; their frames, in order."""
        jobs = self._jobs
        if not jobs or self._waiting:
            return []
        depth = min(_MAX_DEPTH, int(_WINDOW / max(self._per_call, 1e-9)))
        count = min(depth - len(inflight), -(-len(jobs) // self._drivers))
        if not inflight:
            count = max(count, 1)
        if self._max_tasks is not None:
            count = min(count, self._max_tasks - worker.tasks - len(inflight))
        if self._max_rss is not None and worker.rss() > self._max_rss:
            count = 0
        frames: list[bytes] = []
        while count > 0 and jobs:
            job = jobs.popleft()
            if job._frame is None:
                if not job.claim():
                    continue
                job._seq = seq = next(self._seq)
                try:
                    request = encode_call(seq, job.ref, job.args, job.kwargs, self._codec)
                    job._frame = frame = self._coder.encode(request)
                except Exception as exc:  # EncodeError, or pickle's errors: nothing sent
                    job.set_exception(exc)
                    continue
                if len(frame) > worker.channel.max_frame:
                    job.set_exception(
                        ProtocolError(f"frame of {len(frame):,} bytes is over the frame limit")
                    )
                    continue
            frames.append(job._frame)
            inflight.append(job)
            count -= 1
        return frames

    def _answer(self, worker: Worker, inflight: deque[Job], replies: list[object]) -> int:
        """Finish the jobs ``replies`` answer, oldest first; how many.

        Stops after an answer that says the worker's initializer failed (the
        worker exits after it), marking the worker broken.
        """
        for count, reply in enumerate(replies, 1):
            if not inflight:
                raise ProtocolError(f"a reply to no request: {reply!r:.200}")
            ok, value = parse_reply(reply, inflight[0]._seq)
            job = inflight.popleft()
            worker.tasks += 1
            try:
                result = decode_reply((ok, value), self._codec)
            except Exception as exc:
                job.set_exception(exc)
                if not ok and _is_initializer_error(value):
                    worker.broken = True
                    return count
            else:
                job.set_result(result)
        return len(replies)

    def _requeue(self, jobs: deque[Job]) -> None:
        """Put claimed jobs that never started back at the front of the queue."""
        if self._closed:
            return
        self._jobs.extendleft(reversed(jobs))
        jobs.clear()
        self._drive_more()

    def _fail_queued(self, exc: SpawnError, count: int | None = None) -> None:
        """Fail the first ``count`` queued jobs still wanted (all by default) with ``exc``."""
        while self._jobs and count != 0:
            job = self._jobs.popleft()
            if job._frame is not None or job.claim():
                job.set_exception(exc)
                if count is not None:
                    count -= 1

    def preload(self, *modules: str) -> None:
        """Have workers started from now on (spares included) import ``modules`` first.

        For a worker kind whose jobs import code of their own (an actor's class):
        a spare that already imported it answers its first job sooner.
        """
        known = self.template.preload
        added = tuple(m for m in dict.fromkeys(modules) if m not in known)
        if added:
            self.template = dataclasses.replace(self.template, preload=(*known, *added))

    def statistics(self) -> PoolStatistics:
        """Workers by state now, and how many were started, recycled, pruned, or died."""
        return PoolStatistics(
            idle=len(self._idle),
            busy=len(self._busy),
            leased=len(self._leased),
            starting=self._starting,
            queued=len(self._jobs),
            **self._counts,
        )

    # -- bookkeeping --------------------------------------------------------

    @staticmethod
    def _notify(lot: trio.lowlevel.ParkingLot) -> None:
        if lot:
            lot.unpark_all()

    def _check_open(self) -> None:
        if self._closed:
            raise PoolClosed("the pool is closed")

    def _total(self) -> int:
        return len(self._idle) + len(self._busy) + len(self._leased) + self._starting

    async def _take(self) -> Worker:
        while True:
            self._check_open()
            if self._idle:
                worker = self._idle.pop()
                if self._needs_spare():
                    self._notify(self._wake)
                return worker
            if self._total() < self.max_workers:
                worker = await self._start(spare=False)
                if self._closed:
                    with trio.move_on_after(KILL_REAP_TIMEOUT) as scope:
                        scope.shield = True
                        await worker.aclose(0)
                    raise PoolClosed("the pool closed while a worker started")
                return worker
            await self._changed.park()

    async def _start(self, *, spare: bool) -> Worker:
        self._starting += 1
        self._spares_starting += spare
        try:
            worker = await start_worker(
                self.template, codec=self._coder, timeout=self._start_timeout
            )
        finally:
            self._starting -= 1
            self._spares_starting -= spare
            self._notify(self._changed)
            self._notify(self._wake)
        self._counts["started"] += 1
        return worker

    def _check_in(self, worker: Worker) -> None:
        worker.last_used = trio.current_time()
        if (self._max_tasks is not None and worker.tasks >= self._max_tasks) or (
            self._max_rss is not None and worker.rss() > self._max_rss
        ):
            self._discard(worker, self._stop_timeout, recycled=True)
            return
        self._idle.append(worker)
        self._notify(self._changed)

    def _cancel(self, worker: Worker) -> None:
        if self._cancel_grace > 0:
            worker.process.terminate()
        else:
            worker.process.kill()
        self._discard(worker, self._cancel_grace, ask=False)

    async def _died(self, worker: Worker, exc: BaseException) -> WorkerDied | PoolClosed:
        if self._closed:
            return PoolClosed("the pool closed during the call")
        self._counts["died"] += 1
        try:
            if isinstance(exc, ProtocolError):
                worker.process.kill()  # it broke the protocol: treat it as crashed
            with trio.move_on_after(_DEATH_WAIT):
                await worker.process.wait()
        finally:
            self._discard(worker, 0)
        code = worker.process.returncode
        how = "was killed" if isinstance(exc, ProtocolError) else "died"
        return WorkerDied(
            f"worker {worker.pid} {how} during the call (exit status {code}): {exc!r}",
            pid=worker.pid,
            returncode=code,
        )

    def _discard(
        self, worker: Worker, budget: float, *, ask: bool = True, recycled: bool = False
    ) -> None:
        """Stop ``worker`` in the background (it is in no set any more)."""
        if recycled:
            self._counts["recycled"] += 1
        self._notify(self._wake)
        self._notify(self._changed)
        if self._accepting:  # else the pool's close stopped it already
            self._nursery.start_soon(self._stop_worker, worker, budget, ask)

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

    # -- background ---------------------------------------------------------

    async def _warm(self) -> None:
        errors: list[WorkerStartError] = []

        async def one() -> None:
            try:
                self._idle.append(await self._start(spare=True))
            except WorkerStartError as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            for _ in range(self.spares):
                nursery.start_soon(one)
        if errors:
            raise errors[0]

    def _needs_spare(self) -> bool:
        return (
            not self._closed
            and len(self._idle) + self._spares_starting < self.spares
            and self._total() < self.max_workers
        )

    async def _replenish(self) -> None:
        """Keep ``spares`` idle workers, started from this (the main) thread."""
        failures = 0
        while True:
            if self._needs_spare():  # a spare was taken (_warm started the first ones)
                await trio.sleep(self._refill_delay)
            while self._needs_spare():
                try:
                    worker = await self._start(spare=True)
                except WorkerStartError as exc:
                    self.last_start_error = exc
                    failures += 1
                    await trio.sleep(min(0.05 * 2**failures, _BACKOFF_MAX))
                    continue
                failures = 0
                self._idle.append(worker)
                self._notify(self._changed)
            await self._wake.park()

    async def _prune(self) -> None:
        """Stop workers idle for ``idle_timeout``, beyond the ``spares`` kept warm."""
        while True:
            now = trio.current_time()
            count = expired([w.last_used for w in self._idle], now, self._idle_timeout, self.spares)
            for worker in self._idle[:count]:
                self._counts["pruned"] += 1
                self._discard(worker, self._stop_timeout)
            del self._idle[:count]
            candidates = self._idle[: max(len(self._idle) - self.spares, 0)]
            wake = min((w.last_used for w in candidates), default=now) + self._idle_timeout
            await trio.sleep_until(max(wake, now + 0.001))

    async def _close(self) -> None:
        self._closed = True
        self._fail_queued(PoolClosed("the pool closed before the call was sent"))
        workers = [*self._idle, *self._busy, *self._leased]
        self._idle.clear()
        self._notify(self._changed)
        async with trio.open_nursery() as nursery:
            for worker in workers:
                nursery.start_soon(worker.aclose, self._stop_timeout)


def _is_initializer_error(box: object) -> bool:
    return type(box) is list and len(box) > 0 and box[0] == _INITIALIZER_ERROR


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
    ``Codec(limits=limits)``). Exiting stops every worker within
    ``stop_timeout`` (calls still running fail with :class:`PoolClosed`). A bad
    option raises :class:`ValueError` (or :class:`TypeError`) naming it.

    Signals: workers run in their own process group and ignore SIGINT, so a
    Ctrl-C in a terminal reaches only this process, which owns shutdown; they
    keep SIGTERM at its default, die with SIGKILL if this process dies (the
    parent-death signal, armed for the thread that spawned them: open the pool
    from the main thread), and exit when their channel reaches end of file.
    """
    if refill_delay == PoolOptions.refill_delay:
        refill_delay = REFILL_DELAY
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
    )
    options = check_pool_options(options)
    config = options.config
    if options.entry == FUNCTION_WORKER:
        config = function_config(
            options.codec, options.limits, options.initializer, options.initargs
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
    coder = options.channel_codec if options.channel_codec is not None else Codec(limits=limits)
    caught: BaseException | None = None
    async with trio.open_nursery() as nursery:
        pool = Pool(nursery, template, coder, options)
        background = trio.CancelScope()

        async def maintain() -> None:
            with background:
                async with trio.open_nursery() as inner:
                    inner.start_soon(pool._replenish)
                    inner.start_soon(pool._prune)

        try:
            try:
                await pool._warm()
                nursery.start_soon(maintain)
                yield pool
            except BaseException as exc:  # re-raised below, outside the nursery's group
                caught = exc
        finally:
            background.cancel()
            with trio.move_on_after(stop_timeout + KILL_REAP_TIMEOUT) as scope:
                scope.shield = True
                await pool._close()
    pool._accepting = False
    if caught is not None:
        raise caught
