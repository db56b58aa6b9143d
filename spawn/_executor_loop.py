"""The Executor's engine: a trio loop in one thread, running futures on a warm pool.

Nothing here holds the :class:`~spawn.Executor` itself, so an executor dropped
without ``shutdown()`` is collected, and its finalizer stops the loop.

A future's life, all of it decided in the loop thread except ``cancel()``:
submitted (queued in the parent or pipelined to a worker), then RUNNING once
the worker reports that it started the job, then finished. ``cancel()`` of a
future not yet running succeeds; the loop withdraws its job (a worker skips a
job withdrawn in time, and the outcome of one withdrawn too late is dropped).
"""

from __future__ import annotations

import atexit
import pickle
import threading
from concurrent import futures
from concurrent.futures.process import BrokenProcessPool, _RemoteTraceback
from typing import Any, Final, TypeVar

import trio

from ._calls import CodecName, rebuild_error
from ._exceptions import InitializerError, PoolClosed, SpawnError, WorkerDied
from ._options import PoolOptions
from ._pipeline import Job
from ._pool import Pool, open_pool

T = TypeVar("T")

_START_TIMEOUT: Final = 60.0
_INITIALIZER_ERROR: Final = f"{InitializerError.__module__}.{InitializerError.__qualname__}"


class BrokenWorker(WorkerDied, BrokenProcessPool):
    """A future's worker died while running it (catchable as ``BrokenProcessPool``).

    Unlike the stdlib, only this future fails: the executor replaces the worker
    and keeps serving. The pool's :class:`~spawn.WorkerDied` is ``__cause__``.
    """


class ExecutorFuture(futures.Future[T]):
    """A future of the Executor: ``cancel()`` also withdraws a job sent to a worker."""

    def __init__(self, loop: ExecutorLoop) -> None:
        super().__init__()
        self._loop = loop
        self._item: WorkItem | None = None

    def cancel(self) -> bool:
        """Cancel the call unless it is running or done (see :class:`~spawn.Executor`)."""
        if not super().cancel():
            return False
        item = self._item
        if item is not None:
            self._loop.cancelled(item)
        return True


class WorkItem(Job):
    """One future's call; every callback runs in the loop thread."""

    __slots__ = ("begun", "finished", "future", "loop", "name")

    def __init__(
        self,
        loop: ExecutorLoop,
        future: ExecutorFuture[Any],
        ref: tuple[str, str],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        fn: Any,
    ) -> None:
        super().__init__(ref, args, kwargs, fn=fn)
        self.loop = loop
        self.future = future
        self.name = f"{ref[0]}.{ref[1]}" if ref[0] else ref[1]
        self.begun = False  # set_running_or_notify_cancel was called (once, as it must be)
        self.finished = False

    def begin(self) -> bool:
        """Move the future to RUNNING (or notify its cancellation); whether it runs."""
        if self.begun:
            return not self.future.cancelled()
        self.begun = True
        if self.future.set_running_or_notify_cancel():
            return True
        self.finish()
        return False

    def claim(self) -> bool:
        return not self.finished and not self.future.cancelled()

    def started(self) -> None:
        self.begin()

    def set_reply(self, ok: bool, value: object, codec: CodecName) -> None:
        if ok:
            if codec != "pickle":
                self.set_result(value)
                return
            try:
                result = pickle.loads(value)  # type: ignore[arg-type]
            except BaseException as exc:  # SystemExit from a __reduce__ too: only this future
                error = BrokenProcessPool(f"the result of {self.name} could not be unpickled")
                error.__cause__ = exc
                self.set_exception(error)
                return
            self.set_result(result)
            return
        box: list[Any] = value  # type: ignore[assignment]
        if box[0] == _INITIALIZER_ERROR:
            self.loop.break_down(str(box[1]).split("\n", 1)[0])
        self.set_exception(executor_error(box, codec, self.name))

    def set_result(self, value: object) -> None:
        if self.begin():
            self.future.set_result(value)
            self.finish()

    def set_exception(self, exc: BaseException) -> None:
        if isinstance(exc, WorkerDied):
            broken = BrokenWorker(str(exc), pid=exc.pid, returncode=exc.returncode)
            broken.__cause__ = exc
            exc = broken
        elif isinstance(exc, InitializerError | PoolClosed):
            failed = BrokenProcessPool(str(exc))
            failed.__cause__ = exc
            exc = failed
        if self.begin():
            self.future.set_exception(exc)
            self.finish()

    def finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.future._item = None  # no cycle: the result goes with the caller's last reference
            self.loop.done(self)


def executor_error(box: list[Any], codec: CodecName, name: str) -> BaseException:
    """A worker's error box as the Executor's caller sees it.

    With pickle the exception itself, with the stdlib's ``_RemoteTraceback`` as
    ``__cause__``; a call that did not unpickle in the worker breaks only its own
    future, as :class:`BrokenProcessPool`. With msgpack, built-in types (also
    ``SystemExit`` and ``KeyboardInterrupt``) are rebuilt and others stay boxed.
    """
    if len(box) == 7:  # the request did not unpickle in the worker
        error = BrokenProcessPool(
            f"the call to {name} could not be unpickled in worker {box[3]}: {box[0]}: {box[1]}"
        )
        error.__cause__ = _RemoteTraceback(str(box[2]))  # type: ignore[arg-type]
        return error
    if codec == "pickle" and isinstance(box[5], bytes):
        try:
            exc = pickle.loads(box[5])
        except BaseException:  # falls back to the box
            exc = None
        if isinstance(exc, BaseException):
            exc.__cause__ = _RemoteTraceback(str(box[2]))  # type: ignore[arg-type]
            return exc
    return rebuild_error(box, "msgpack", base=True)


class ExecutorLoop:
    """The loop thread of one Executor and what it owns: the pool and the futures not done.

    ``items`` maps each future submitted and not yet finished to its job; the
    submitting thread adds to it, the loop thread removes from it.
    """

    def __init__(self, options: PoolOptions) -> None:
        self.options = options
        self.codec: CodecName = options.codec
        self.lock = threading.Lock()
        self.shutdown = False
        self.broken: str | None = None  # why the executor cannot take work (an initializer)
        self.items: dict[futures.Future[Any], WorkItem] = {}
        self.inbox: list[WorkItem] = []  # submitted, not yet handed to the pool
        self.scheduled = False  # a drain of the inbox is scheduled in the loop
        self.token: trio.lowlevel.TrioToken | None = None
        self.failure: BaseException | None = None
        self.ready = threading.Event()
        self.thread: threading.Thread | None = None
        self._pool: Pool | None = None
        self._stop: trio.Event | None = None
        self._quiet: trio.Event | None = None

    # -- any thread --------------------------------------------------------------

    def submit(
        self, ref: tuple[str, str], args: tuple[Any, ...], kwargs: dict[str, Any], fn: Any
    ) -> ExecutorFuture[Any]:
        """A future for the call; ``fn`` travels by value if given, else by ``ref``.

        Raises :class:`BrokenProcessPool` once broken, ``RuntimeError`` after shutdown.
        """
        future: ExecutorFuture[Any] = ExecutorFuture(self)
        item = WorkItem(self, future, ref, args, kwargs, fn)
        future._item = item
        with self.lock:
            if self.broken is not None:
                raise BrokenProcessPool(self.broken)
            if self.shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self.items[future] = item
            self.inbox.append(item)
            wake = not self.scheduled
            self.scheduled = True
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self.run, name="letitcrash-executor", daemon=True
                )
                self.thread.start()
                atexit.register(self.at_exit)
        if wake:  # one wake-up per batch: the drain takes every item queued by then
            try:
                self.wake()
            except BaseException:
                with self.lock:
                    self.items.pop(future, None)
                    if item in self.inbox:
                        self.inbox.remove(item)
                    self.scheduled = False
                raise
        return future

    def at_exit(self) -> None:
        """At interpreter exit: finish the work submitted, stop the workers."""
        self.request_stop()
        self.join()

    def join(self) -> None:
        """Wait for the loop thread to end (every future done, every worker reaped)."""
        if self.thread is not None:
            self.thread.join()
        atexit.unregister(self.at_exit)

    def wake(self) -> None:
        """Have the loop drain the inbox (once per batch; call without the lock)."""
        token = self.wait_ready()
        try:
            token.run_sync_soon(self.drain)
        except trio.RunFinishedError:
            raise BrokenProcessPool("the executor's event loop has stopped") from None

    def wait_ready(self) -> trio.lowlevel.TrioToken:
        """The loop's token once it runs (call without the lock: the loop may need it)."""
        if not self.ready.wait(_START_TIMEOUT):
            raise SpawnError(f"the executor's event loop did not start in {_START_TIMEOUT} s")
        if self.failure is not None:
            raise BrokenProcessPool("the executor's pool failed to open") from self.failure
        assert self.token is not None
        return self.token

    def cancelled(self, item: WorkItem) -> None:
        """``item``'s future was cancelled (from any thread): withdraw its job in the loop."""
        self.in_loop(self.withdraw, item)

    def request_stop(self) -> None:
        """Stop taking work; the loop ends once every future is done."""
        with self.lock:
            self.shutdown = True
        self.in_loop(self._set_stop)

    def in_loop(self, fn: Any, *args: Any) -> None:
        token = self.token
        if token is None:
            return
        try:
            token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            pass

    # -- the loop thread -----------------------------------------------------------

    def run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:
            self.failure = exc
        finally:
            self.ready.set()
            self._fail_all()

    async def _main(self) -> None:
        async with open_pool(**self.options.keywords()) as pool:
            self._pool = pool
            self._stop = trio.Event()
            self.token = trio.lowlevel.current_trio_token()
            self.ready.set()
            with self.lock:
                stopping = self.shutdown
            if not stopping:
                await self._stop.wait()
            self.drain()  # what was submitted before shutdown
            while self.items:
                self._quiet = trio.Event()
                await self._quiet.wait()

    def _set_stop(self) -> None:
        assert self._stop is not None
        self._stop.set()

    def drain(self) -> None:
        """Hand what was submitted since the last drain to the pool."""
        with self.lock:
            items, self.inbox = self.inbox, []
            self.scheduled = False
        assert self._pool is not None
        if self.broken is not None:
            for item in items:
                item.set_exception(BrokenProcessPool(self.broken))
            return
        try:
            self._pool.submit(*items)
        except PoolClosed as exc:  # only if the pool broke under us
            for item in items:
                item.set_exception(exc)

    def withdraw(self, item: WorkItem) -> None:
        if item.finished:
            return
        item.begin()  # notifies waiters of the cancellation, and finishes the item
        if self._pool is not None:
            self._pool.withdraw(item)

    def done(self, item: WorkItem) -> None:
        self.items.pop(item.future, None)
        if not self.items and self._quiet is not None:
            self._quiet.set()

    def break_down(self, reason: str) -> None:
        """An initializer failed: fail every future not done, and refuse new ones."""
        if self.broken is not None:
            return
        with self.lock:
            self.broken = f"the executor is broken: {reason}"
        error = BrokenProcessPool(self.broken)
        for item in list(self.items.values()):
            if self._pool is not None:
                self._pool.withdraw(item)
            item.set_exception(error)

    def _fail_all(self) -> None:
        """After the loop ended: fail what is left (only if it failed)."""
        cause = self.failure
        for item in list(self.items.values()):
            error = BrokenProcessPool("the executor's event loop failed")
            error.__cause__ = cause
            item.set_exception(error)
