"""Addresses in a tree: a child by its path, and a supervisor with its operations."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, cast

import trio

from actors import (
    DEFAULT_CALL_TIMEOUT,
    ActorRef,
    CallTimeout,
    NamedRef,
    NoSuchActor,
    Runtime,
)

from ._directory import Directory, Entry, Status
from ._exceptions import ChildNotRunning
from ._protocol import (
    CountChildren,
    DeleteChild,
    Describe,
    Failed,
    Reincarnate,
    RestartChild,
    StartChild,
    TerminateChild,
    WhichChildren,
)
from ._spec import ChildKind, ChildSpec
from ._state import ChildCounts, ChildInfo
from ._status import ChildStatus, SupervisorStatus


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
    def runtime(self) -> Runtime:
        """The runtime its tree runs in."""
        return self._runtime

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

    async def start_child(self, *args: Any, key: str | None = None) -> ActorRef | None:
        """Add a child: ``start_child(spec)``, or ``start_child(*extra_args)`` when dynamic.

        A dynamic child whose template is :class:`~actors.Persistent` needs ``key``
        (unique among its running siblings): its state is kept under
        ``"<supervisor path>/<key>"``, and restored when a child with that key
        starts again. Returns its ref (``None`` if its init returned Ignore).
        Raises :class:`AlreadyStarted`, :class:`AlreadyPresent`,
        :class:`InvalidSpec` or :class:`StartFailed`.
        """
        if len(args) == 1 and isinstance(args[0], ChildSpec) and key is None:
            request = StartChild(args[0])
        else:
            request = StartChild(None, args, key)
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

    async def describe_children(self) -> list[ChildStatus]:
        """Its children as :class:`ChildStatus` records: ``which_children`` and more
        (state, pid, restarts, start time, mailbox depth, last exit reason)."""
        return list((await self._describe(self.ref)).children)

    async def describe_tree(self) -> SupervisorStatus:
        """This supervisor and everything below it, each running child supervisor's
        :attr:`ChildStatus.supervisor` filled in."""
        return await self._describe(self.ref, nested=True)

    async def reincarnate_child(self, child: str, *, drop_state: bool = False) -> ActorRef | None:
        """Stop ``child`` if it runs (or cancel its pending restart) and start it again: a new
        ref. An operator's restart: not counted toward the intensity. ``child`` is an id, or
        a running dynamic child's key or ref text. ``drop_state=True`` drops a persistent
        child's stored state between the stop and the start. Raises
        :class:`ChildNotFound` or :class:`StartFailed` (the child is then stopped).
        """
        return cast(ActorRef | None, await self._call(Reincarnate(child, drop_state)))

    async def _describe(self, ref: ActorRef | None, *, nested: bool = False) -> SupervisorStatus:
        status = cast(SupervisorStatus, await self._call(Describe(), ref))
        if not nested:
            return status
        children = []
        for child in status.children:
            if child.kind is ChildKind.SUPERVISOR and child.ref is not None:
                try:
                    below = await self._describe(child.ref, nested=True)
                except NoSuchActor:
                    below = None  # it stopped since its supervisor answered
                child = dataclasses.replace(child, supervisor=below)
            children.append(child)
        return dataclasses.replace(status, children=tuple(children))

    async def _call(self, request: object, ref: ActorRef | None = None) -> object:
        ref = self.ref if ref is None else ref
        if ref is None:
            await trio.lowlevel.checkpoint()
            raise ChildNotRunning(f"supervisor {self.path!r} is not running")
        result = await ref.call(request, timeout=None)
        if isinstance(result, Failed):
            raise result.error
        return result
