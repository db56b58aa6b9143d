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

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from actors import (
    SHUTDOWN,
    Actor,
    ActorRef,
    Down,
    ExitReason,
    InfoResult,
    InitError,
    NoReply,
    NoSuchActor,
    Runtime,
    Stop,
    open_runtime,
)

from ._check import check_supervisor
from ._directory import Directory
from ._exceptions import StartFailed, TreeExited
from ._handles import ChildAddress as ChildAddress
from ._handles import SupervisorHandle as SupervisorHandle
from ._server import SupervisorServer
from ._spec import BRUTAL_KILL, INFINITY, ShutdownPolicy, Supervisor
from ._state import TreeContext
from ._store import StateStore
from ._tree_state import check_store


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
    spec: Supervisor,
    *,
    runtime: Runtime | None = None,
    shutdown: ShutdownPolicy = INFINITY,
    store: StateStore | None = None,
) -> AsyncIterator[SupervisorHandle]:
    """Start the tree ``spec`` (children in order) and stop it (bottom-up) on exit.

    Opens a runtime if none is given (with ``store``; a given runtime must have
    been opened with that store). ``store`` keeps the state of the tree's
    :class:`~actors.Persistent` children, each under its path; a persistent
    child in a tree without one is an :class:`InvalidSpec`. Raises
    :class:`InvalidSpec` before anything starts, or :class:`StartFailed`
    (nothing left running). If the root supervisor exits while the body runs
    (it gave up: intensity exceeded, or auto_shutdown), the body is cancelled
    and :class:`TreeExited` is raised. ``shutdown`` is the root's shutdown budget.
    """
    checked = check_supervisor(spec)
    if runtime is not None:
        if store is not None and runtime.store is not store:
            raise ValueError("open_tree(store=...) with a runtime: open_runtime(store=...) it")
        found = runtime.store
        store = found if isinstance(found, StateStore) else None
    check_store(checked, store)
    if runtime is not None:
        async with _run_tree(checked, runtime, shutdown, store) as root:
            yield root
        return
    async with open_runtime(store=store) as own, _run_tree(checked, own, shutdown, store) as root:
        yield root


@asynccontextmanager
async def _run_tree(
    spec: Supervisor, runtime: Runtime, shutdown: ShutdownPolicy, store: StateStore | None
) -> AsyncIterator[SupervisorHandle]:
    directory = Directory()
    try:
        context = TreeContext("", directory, None, store)
        root = await runtime.spawn(SupervisorServer, spec, context)
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
