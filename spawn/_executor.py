"""A :class:`concurrent.futures.Executor` on the warm pool, for synchronous code.

A drop-in for :class:`~concurrent.futures.ProcessPoolExecutor` where programs rely
on it (the parent's environment and ``sys.path`` in workers, results of built-in
types, built-in exceptions re-raised as themselves), without its failure modes:
no fork, no inherited fds, and a worker that dies fails only the future it ran.

>>> with Executor(max_workers=2) as executor:
...     print(list(executor.map(pow, range(5), range(5))))
[1, 1, 4, 27, 256]
"""

from __future__ import annotations

import atexit
import itertools
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Final

import trio

from ._calls import CodecName, FunctionRefs, function_ref
from ._exceptions import InitializerError, PoolClosed, SpawnError, WorkerDied
from ._fnworker import run_chunk
from ._options import PoolOptions, check_pool_options
from ._pipeline import Job
from ._pool import open_pool

_START_TIMEOUT: Final = 60.0


class BrokenWorker(WorkerDied, BrokenProcessPool):
    """A future's worker died while running it (catchable as ``BrokenProcessPool``).

    Unlike the stdlib, only this future fails: the executor replaces the worker
    and keeps serving. The pool's :class:`~spawn.WorkerDied` is ``__cause__``.
    """


class _WorkItem(Job):
    """One future's call; its callbacks run in the loop thread."""

    __slots__ = ("executor", "future")

    def __init__(
        self,
        executor: Executor,
        future: futures.Future[Any],
        ref: tuple[str, str],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        super().__init__(ref, args, kwargs)
        self.executor = executor
        self.future = future

    def claim(self) -> bool:
        self.executor._pending.pop(self.future, None)  # atomic: no lock needed
        if self.future.set_running_or_notify_cancel():
            return True
        self.executor._finished()
        return False

    def set_result(self, value: object) -> None:
        self.future.set_result(value)
        self.executor._finished()

    def set_exception(self, exc: BaseException) -> None:
        if isinstance(exc, WorkerDied):
            broken = BrokenWorker(str(exc), pid=exc.pid, returncode=exc.returncode)
            broken.__cause__ = exc
            exc = broken
        elif isinstance(exc, InitializerError):
            failed = BrokenProcessPool(str(exc))
            failed.__cause__ = exc
            exc = failed
        self.future.set_exception(exc)
        self.executor._finished()


class Executor(futures.Executor):
    """Run functions in worker processes from synchronous code.

    ``max_workers`` (default: the CPU count), ``initializer(*initargs)`` run once
    in each worker before its first task, and ``max_tasks_per_child`` mean what
    they mean for :class:`~concurrent.futures.ProcessPoolExecutor`.
    ``mp_context`` is refused: workers always start with ``posix_spawn``.
    ``codec="pickle"`` opts in to pickled arguments, results and exceptions, for
    values msgpack cannot carry (the default carries msgpack values and tuples).

    Functions travel by reference (module and qualified name), so they must be
    importable: not lambdas, not local functions, not defined in ``__main__`` of
    a script run by path. A trio event loop runs in one background thread.

    A future starts running when it is sent to a worker. Unlike the stdlib, a
    worker may have several futures in flight (up to 64 of short tasks; fewer as
    tasks take longer), which it runs in order: those count as running, so
    ``cancel()`` and ``shutdown(cancel_futures=True)`` leave them to finish. If
    the worker dies, only the future it was running fails; the others go to
    another worker.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: object = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        max_tasks_per_child: int | None = None,
        codec: CodecName = "msgpack",
    ) -> None:
        if mp_context is not None:
            raise ValueError(
                "letitcrash's Executor takes no mp_context: workers always start with "
                "posix_spawn (no fork, no forkserver), from the parent's environment and sys.path"
            )
        if max_workers is not None and max_workers <= 0:  # the stdlib's words, as its tests want
            raise ValueError("max_workers must be greater than 0")
        if max_tasks_per_child is not None:
            if not isinstance(max_tasks_per_child, int):
                raise TypeError("max_tasks_per_child must be an integer")
            if max_tasks_per_child <= 0:
                raise ValueError("max_tasks_per_child must be >= 1")
        self._options = check_pool_options(
            PoolOptions(
                max_workers=max_workers,
                spares=0,
                max_tasks=max_tasks_per_child,
                codec=codec,
                env="inherit",
                initializer=initializer,
                initargs=initargs,
            )
        )
        if initializer is not None:
            function_ref(initializer)  # NotByReference now, not in every worker
        self._lock = threading.Lock()
        self._shutdown = False
        self._pending: dict[futures.Future[Any], None] = {}  # submitted, not yet started
        self._inbox: list[_WorkItem] = []  # submitted, not yet handed to the pool
        self._scheduled = False  # a drain of the inbox is scheduled in the loop
        self._refs = FunctionRefs()
        self._outstanding = 0  # handed to the pool, not finished (loop thread only)
        self._quiet: trio.Event | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._atexit = _shutdown_at_exit(self)

    # -- the loop thread -----------------------------------------------------

    def _start_thread(self) -> None:
        """Start the loop thread (with the lock held: once)."""
        self._thread = threading.Thread(
            target=self._thread_main, name="letitcrash-executor", daemon=True
        )
        self._thread.start()
        atexit.register(self._atexit)

    def _wait_ready(self) -> trio.lowlevel.TrioToken:
        """The loop's token once it runs (call without the lock: the loop may need it)."""
        if not self._ready.wait(_START_TIMEOUT):
            raise SpawnError(f"the executor's event loop did not start in {_START_TIMEOUT} s")
        if self._failure is not None:
            raise BrokenProcessPool("the executor's pool failed to open") from self._failure
        assert self._token is not None
        return self._token

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:
            self._failure = exc
        finally:
            self._ready.set()
            if self._failure is not None:
                self._fail_pending(self._failure)

    async def _main(self) -> None:
        async with open_pool(**self._options.keywords()) as pool:
            self._pool = pool
            self._stop = trio.Event()
            self._token = trio.lowlevel.current_trio_token()
            self._ready.set()
            await self._stop.wait()
            self._drain()  # what was submitted before shutdown
            while self._outstanding:
                self._quiet = trio.Event()
                await self._quiet.wait()

    def _drain(self) -> None:
        """In the loop thread: hand what was submitted since the last drain to the pool."""
        with self._lock:
            items, self._inbox = self._inbox, []
            self._scheduled = False
        if items:
            self._outstanding += len(items)
            try:
                self._pool.submit(*items)
            except PoolClosed as exc:  # only if the pool broke under us
                for item in items:
                    if item.claim():
                        item.set_exception(exc)

    def _finished(self) -> None:
        """In the loop thread: one submitted item is done (or was cancelled)."""
        self._outstanding -= 1
        if not self._outstanding and self._quiet is not None:
            self._quiet.set()

    # -- the Executor interface ---------------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> futures.Future[Any]:
        """Schedule ``fn(*args, **kwargs)``; raises ``RuntimeError`` after shutdown."""
        ref = self._refs.get(fn)  # NotByReference now rather than in the future
        future: futures.Future[Any] = futures.Future()
        item = _WorkItem(self, future, ref, args, kwargs)
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._pending[future] = None
            self._inbox.append(item)
            wake = not self._scheduled
            self._scheduled = True
            if self._thread is None:
                self._start_thread()
        if wake:  # one wake-up per batch: the drain takes every item queued by then
            try:
                token = self._wait_ready()
                try:
                    token.run_sync_soon(self._drain)
                except trio.RunFinishedError:
                    raise BrokenProcessPool("the executor's event loop has stopped") from None
            except BaseException:
                with self._lock:
                    self._pending.pop(future, None)
                    self._scheduled = False
                raise
        return future

    def map(
        self,
        fn: Callable[..., Any],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[Any]:
        """As :meth:`concurrent.futures.Executor.map`; ``chunksize`` batches calls per task."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout)
        module, qualname = function_ref(fn)
        chunks = _chunked([iter(iterable) for iterable in iterables], chunksize)
        results = super().map(
            run_chunk,
            itertools.repeat(module),
            itertools.repeat(qualname),
            chunks,
            timeout=timeout,
        )
        return itertools.chain.from_iterable(results)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; ``cancel_futures`` cancels what has not started.

        With ``wait`` (the default), return once every running future finished
        and every worker process is stopped and reaped.
        """
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                for future in list(self._pending):
                    future.cancel()
                self._pending.clear()
        thread = self._thread
        if thread is None:
            return
        token = self._token
        if token is not None:
            try:
                token.run_sync_soon(self._request_stop)
            except trio.RunFinishedError:
                pass
        if wait:
            thread.join()
            atexit.unregister(self._atexit)

    def _request_stop(self) -> None:
        assert self._stop is not None
        self._stop.set()

    def _fail_pending(self, exc: BaseException) -> None:
        with self._lock:
            pending = list(self._pending)
            self._pending.clear()
        for future in pending:
            if future.set_running_or_notify_cancel():
                error = BrokenProcessPool("the executor's event loop failed")
                error.__cause__ = exc
                future.set_exception(error)


def _chunked(iterators: list[Iterator[Any]], size: int) -> Iterator[list[list[Any]]]:
    """Chunks of up to ``size`` calls, each as one list per argument position.

    Like ``zip``, it stops at the shortest iterable. Slicing each iterable into
    its column costs far less than building argument tuples and transposing them.
    """
    while iterators:
        columns = [list(itertools.islice(iterator, size)) for iterator in iterators]
        shortest = min(map(len, columns))
        if shortest < size:
            if shortest:
                yield [column[:shortest] for column in columns]
            return
        yield columns


def _shutdown_at_exit(executor: Executor) -> Callable[[], None]:
    """An atexit hook that finishes the executor's work without keeping it alive."""
    ref = weakref.ref(executor)

    def hook() -> None:
        live = ref()
        if live is not None:
            live.shutdown(wait=True)

    return hook
