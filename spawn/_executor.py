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

import itertools
import pickle
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from typing import Any, ParamSpec, TypeVar

from ._calls import CodecName, FunctionRefs, describe, function_ref
from ._executor_loop import BrokenWorker as BrokenWorker
from ._executor_loop import ExecutorLoop
from ._fnworker import run_calls, run_chunk
from ._options import PoolOptions, check_pool_options

P = ParamSpec("P")
T = TypeVar("T")


class Executor(futures.Executor):
    """Run functions in worker processes from synchronous code.

    ``max_workers`` (default: the CPU count), ``initializer(*initargs)`` run once
    in each worker before its first task, and ``max_tasks_per_child`` mean what
    they mean for :class:`~concurrent.futures.ProcessPoolExecutor`.
    ``mp_context`` is refused: workers always start with ``posix_spawn``, with
    this process's environment and ``sys.path``.

    ``codec="pickle"`` (the default, as the stdlib's): functions travel by value
    where pickle can carry them (partials, bound methods, classes), and so do
    arguments, results and exceptions; an exception arrives as itself, with the
    remote traceback as its ``__cause__``. What a worker sends back is unpickled
    here, so a worker compromised by untrusted input could run code in this
    process: for such workers use ``codec="msgpack"``, the hardened mode: no
    pickle anywhere, functions by reference (module and qualified name),
    msgpack values and tuples only, built-in exceptions rebuilt and others
    boxed as :class:`~spawn.RemoteError`. In both, a function defined in
    ``__main__`` of a script works: a worker runs the script as ``__mp_main__``
    when it first needs it. A trio event loop runs in one background thread.

    A future is running once its worker reports that it started the job.
    Several short jobs may be in flight on one worker (up to 64); until one
    starts, ``cancel()`` (and ``shutdown(cancel_futures=True)``) cancels it and
    the worker skips it; a cancel that reaches the worker after the start comes
    too late: the job runs and its outcome is dropped. If a worker dies, only
    the future it was running fails (:class:`BrokenWorker`); the others go to
    another worker. If an initializer fails, the executor is broken, as the
    stdlib's is: futures not done fail and later submits raise
    :class:`~concurrent.futures.process.BrokenProcessPool`.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: object = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        max_tasks_per_child: int | None = None,
        codec: CodecName = "pickle",
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
        options = check_pool_options(
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
        if initializer is not None and codec != "pickle":
            function_ref(initializer, script_main=True)  # NotByReference now, not in a worker
        elif initializer is not None:
            pickle.dumps((initializer, initargs))  # pickle's error now, not in the loop thread
        self._pickle = codec == "pickle"
        self._refs = FunctionRefs(script_main=True)
        self._loop = loop = ExecutorLoop(options)
        finalizer = weakref.finalize(self, loop.request_stop)  # dropped without shutdown()
        finalizer.atexit = False  # at exit, the loop's own hook finishes the work

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)``; raises ``RuntimeError`` after shutdown.

        With msgpack, :class:`~spawn.NotByReference` at once if ``fn`` cannot travel
        by reference; with pickle, a function pickle refuses (a lambda) fails the
        future with pickle's error, as the stdlib's does.
        """
        if self._pickle:
            return self._loop.submit(describe(fn), args, kwargs, fn)
        return self._loop.submit(self._refs.get(fn), args, kwargs, None)

    def map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[T]:
        """As :meth:`concurrent.futures.Executor.map`; ``chunksize`` batches calls per task."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout)
        chunks = _chunked([iter(iterable) for iterable in iterables], chunksize)
        results: Iterator[list[T]]
        if self._pickle:
            results = super().map(run_calls, itertools.repeat(fn), chunks, timeout=timeout)
        else:
            module, qualname = function_ref(fn, script_main=True)
            results = super().map(
                run_chunk,
                itertools.repeat(module),
                itertools.repeat(qualname),
                chunks,
                timeout=timeout,
            )
        return itertools.chain.from_iterable(results)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; ``cancel_futures`` cancels every future not running.

        With ``wait`` (the default), return once every running future finished
        and every worker process is stopped and reaped.
        """
        loop = self._loop
        loop.request_stop()
        if cancel_futures:
            for future in list(loop.items):
                future.cancel()
        if wait:
            loop.join()


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
