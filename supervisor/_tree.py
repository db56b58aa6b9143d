"""Trees: open one, reach a child by its path, operate on a supervisor.

>>> import trio
>>> from actors import Actor, Caller, Reply
>>> from supervisor import ChildSpec, Supervisor, open_tree
>>> class Counter(Actor):
...     async def init(self, start: int = 0) -> None:
...         self.value = start
...     async def handle_call(self, request: object, caller: Caller) -> Reply:
...         self.value += 1
...         return Reply(self.value)
>>> spec = Supervisor(children=[ChildSpec("counter", Counter, args=(41,))])
>>> async def main() -> None:
...     async with open_tree(spec) as root:
...         print(await root.child("counter").call("add"))
...         print([info.id for info in await root.which_children()])
>>> trio.run(main)
42
['counter']
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import trio

from actors import (
    DEFAULT_CALL_TIMEOUT,
    SHUTDOWN,
    Actor,
    ActorRef,
    CallTimeout,
    Down,
    ExitReason,
    InfoResult,
    InitError,
    NamedRef,
    NoReply,
    NoSuchActor,
    Runtime,
    Stop,
    open_runtime,
)

from ._check import check_supervisor
from ._directory import Directory, Entry, Status
from ._exceptions import ChildNotRunning, StartFailed, TreeExited
from ._protocol import (
    CountChildren,
    DeleteChild,
    Failed,
    RestartChild,
    StartChild,
    TerminateChild,
    WhichChildren,
)
from ._server import SupervisorServer
from ._spec import BRUTAL_KILL, INFINITY, ChildSpec, ShutdownPolicy, Supervisor
from ._state import ChildCounts, ChildInfo, TreeContext


class ChildAddress:
    """A tree child by path, resolved to its current incarnation at every send.

    Made by :meth:`SupervisorHandle.child`. While the child waits to restart
    under backoff, casts and sends are stashed (and calls wait) up to the
    child's ``stash_size``; past it they raise :class:`StashFull`.
    """

    __slots__ = ("_directory", "_path", "_runtime")

    def __init__(self, path: str, directory: Directory, runtime: Runtime) -> None:
        self._path = path
        self._directory = directory
        self._runtime = runtime

    def __repr__(self) -> str:
        return f"<ChildAddress {self._path!r}>"

    @property
    def path(self) -> str:
        return self._path

    def whereis(self) -> ActorRef | None:
        """The running incarnation now, if any."""
        entry = self._directory.get(self._path)
        return entry.ref if entry is not None and entry.status is Status.RUNNING else None

    async def call(self, request: object, *, timeout: float | None = DEFAULT_CALL_TIMEOUT) -> Any:
        """As :meth:`actors.ActorRef.call`; :class:`ChildNotRunning` when it does not run.

        A call made while the child is between incarnations (it died and its
        supervisor has not restarted it yet, or waits out a backoff) waits for the
        next one, within ``timeout``.
        """
        deadline = trio.current_time() + (math.inf if timeout is None else timeout)
        entry = self._directory.get(self._path)
        while entry is not None and entry.status is Status.WAITING:
            await self._wait_restart(entry, deadline)
        if entry is None or entry.status is not Status.RUNNING or entry.ref is None:
            await trio.lowlevel.checkpoint()
            raise ChildNotRunning(f"child {self._path!r} is not running")
        ref = entry.ref
        while True:
            left = None if timeout is None else max(0.0, deadline - trio.current_time())
            try:
                return await ref.call(request, timeout=left)
            except NoSuchActor:
                # It was exiting or gone: the request was never handled, so it can go
                # to the next incarnation, once its supervisor has started one.
                ref = await self._next_incarnation(ref, deadline)

    async def _next_incarnation(self, dead: ActorRef, deadline: float) -> ActorRef:
        while True:
            entry = self._directory.get(self._path)
            if entry is None or entry.status is Status.STOPPED:
                raise ChildNotRunning(f"child {self._path!r} is not running")
            if entry.status is Status.RUNNING and entry.ref not in (None, dead):
                assert entry.ref is not None
                return entry.ref
            with trio.move_on_at(deadline):
                await entry.changed.wait()
            if trio.current_time() >= deadline:
                raise CallTimeout(f"child {self._path!r} did not restart within the timeout")

    async def _wait_restart(self, entry: Entry, deadline: float) -> None:
        entry.hold_caller(self._path)
        try:
            with trio.move_on_at(deadline):
                await entry.changed.wait()
        finally:
            entry.callers -= 1
        if entry.status is Status.WAITING:
            raise CallTimeout(f"child {self._path!r} did not restart within the call's timeout")

    async def cast(self, message: object) -> None:
        """As :meth:`actors.ActorRef.cast`; stashed while the child waits to restart."""
        if self._hold(True, message):
            await trio.lowlevel.checkpoint()
        else:
            await self._runtime.cast(self._target(), message)

    def cast_nowait(self, message: object) -> None:
        if not self._hold(True, message):
            self._runtime.cast_nowait(self._target(), message)

    async def send(self, message: object) -> None:
        """As :meth:`actors.ActorRef.send`; stashed while the child waits to restart."""
        if self._hold(False, message):
            await trio.lowlevel.checkpoint()
        else:
            await self._runtime.send(self._target(), message)

    def send_nowait(self, message: object) -> None:
        if not self._hold(False, message):
            self._runtime.send_nowait(self._target(), message)

    def _hold(self, is_cast: bool, message: object) -> bool:
        entry = self._directory.get(self._path)
        if entry is None or entry.status is not Status.WAITING:
            return False
        entry.hold(is_cast, message, self._path)
        return True

    def _target(self) -> ActorRef | NamedRef:
        entry = self._directory.get(self._path)
        if entry is None or entry.ref is None:
            return self._runtime.named(_NOBODY)  # a dead letter, counted by the runtime
        return entry.ref  # the last incarnation when stopped: a dead letter too


_NOBODY = "\x00supervisor: no such child"


class SupervisorHandle:
    """A supervisor in a tree: its operations, and addresses of its children.

    :func:`open_tree` yields the root's; :meth:`supervisor` gives a nested one's.
    The operations raise OTP's errors as :class:`SupervisorError` subclasses.
    """

    __slots__ = ("_address", "_directory", "_root", "_runtime")

    def __init__(
        self, root: ActorRef, address: ChildAddress | None, directory: Directory, runtime: Runtime
    ) -> None:
        self._root = root
        self._address = address
        self._directory = directory
        self._runtime = runtime

    def __repr__(self) -> str:
        return f"<SupervisorHandle {self.path!r}>"

    @property
    def path(self) -> str:
        """Its path in the tree (``""`` for the root)."""
        return "" if self._address is None else self._address.path

    @property
    def ref(self) -> ActorRef | None:
        """Its current incarnation, if it runs."""
        return self._root if self._address is None else self._address.whereis()

    def child(self, path: str) -> ChildAddress:
        """The child at ``path`` below this supervisor (``"worker"``, ``"sub/worker"``)."""
        return ChildAddress(self._join(path), self._directory, self._runtime)

    def supervisor(self, path: str) -> SupervisorHandle:
        """The nested supervisor at ``path`` below this one."""
        return SupervisorHandle(self._root, self.child(path), self._directory, self._runtime)

    def _join(self, path: str) -> str:
        if not path or path.startswith("/") or path.endswith("/"):
            raise ValueError(f"a child path is 'id' or 'id/id/...', not {path!r}")
        return f"{self.path}/{path}" if self.path else path

    async def start_child(self, *args: Any) -> ActorRef | None:
        """Add a child: ``start_child(spec)``, or ``start_child(*extra_args)`` when dynamic.

        Returns its ref (``None`` if its init returned Ignore). Raises
        :class:`AlreadyStarted`, :class:`AlreadyPresent`, :class:`InvalidSpec`
        or :class:`StartFailed`.
        """
        if len(args) == 1 and isinstance(args[0], ChildSpec):
            request = StartChild(args[0])
        else:
            request = StartChild(None, args)
        return cast(ActorRef | None, await self._call(request))

    async def terminate_child(self, target: str | ActorRef) -> None:
        """Stop a child by id (its spec stays, unless temporary), or a dynamic child by ref."""
        await self._call(TerminateChild(target))

    async def restart_child(self, child_id: str) -> ActorRef | None:
        """Start a stopped child again; :class:`ChildRunning` / :class:`ChildRestarting` if not."""
        return cast(ActorRef | None, await self._call(RestartChild(child_id)))

    async def delete_child(self, child_id: str) -> None:
        """Forget a stopped child's spec; :class:`ChildRunning`, :class:`ChildRestarting` if not."""
        await self._call(DeleteChild(child_id))

    async def which_children(self) -> list[ChildInfo]:
        return cast(list[ChildInfo], await self._call(WhichChildren()))

    async def count_children(self) -> ChildCounts:
        return cast(ChildCounts, await self._call(CountChildren()))

    async def _call(self, request: object) -> object:
        ref = self.ref
        if ref is None:
            await trio.lowlevel.checkpoint()
            raise ChildNotRunning(f"supervisor {self.path!r} is not running")
        result = await ref.call(request, timeout=None)
        if isinstance(result, Failed):
            raise result.error
        return result


class _RootWatcher(Actor):
    """Cancels the body of :func:`open_tree` when the root supervisor exits."""

    async def init(self, root: ActorRef, scope: trio.CancelScope, seen: list[ExitReason]) -> None:
        self.scope = scope
        self.seen = seen
        self.monitor(root)

    async def handle_info(self, message: Any) -> InfoResult:
        if isinstance(message, Down):
            self.seen.append(message.reason)
            self.scope.cancel()
            return Stop()
        return NoReply()


@asynccontextmanager
async def open_tree(
    spec: Supervisor, *, runtime: Runtime | None = None, shutdown: ShutdownPolicy = INFINITY
) -> AsyncIterator[SupervisorHandle]:
    """Start the tree ``spec`` (children in order) and stop it (bottom-up) on exit.

    Opens a runtime if none is given. Raises :class:`InvalidSpec`
    before anything starts, or :class:`StartFailed` (nothing left running).
    If the root supervisor exits while the body runs (it gave up: intensity
    exceeded, or auto_shutdown), the body is cancelled and :class:`TreeExited`
    is raised. ``shutdown`` is the root's shutdown budget.
    """
    checked = check_supervisor(spec)
    if runtime is not None:
        async with _run_tree(checked, runtime, shutdown) as root:
            yield root
        return
    async with open_runtime() as own, _run_tree(checked, own, shutdown) as root:
        yield root


@asynccontextmanager
async def _run_tree(
    spec: Supervisor, runtime: Runtime, shutdown: ShutdownPolicy
) -> AsyncIterator[SupervisorHandle]:
    directory = Directory()
    try:
        root = await runtime.spawn(SupervisorServer, spec, TreeContext("", directory, None))
    except InitError as exc:
        if isinstance(exc.__cause__, StartFailed):
            raise exc.__cause__ from exc.__cause__.__cause__
        raise
    scope = trio.CancelScope()
    seen: list[ExitReason] = []
    watcher = await runtime.spawn(_RootWatcher, root, scope, seen)
    try:
        with scope:
            yield SupervisorHandle(root, None, directory, runtime)
    finally:
        with trio.CancelScope(shield=True):
            await _stop_quietly(runtime, watcher, 1.0)
            await _stop_quietly(runtime, root, shutdown)
    if seen:
        raise TreeExited(seen[0])


async def _stop_quietly(runtime: Runtime, ref: ActorRef, policy: ShutdownPolicy) -> None:
    if policy is BRUTAL_KILL:
        watch = runtime.watch(ref)
        runtime.kill(ref)
        await watch.wait()
        return
    try:
        await runtime.stop(ref, SHUTDOWN, timeout=None if policy is INFINITY else policy)
    except NoSuchActor:
        pass
