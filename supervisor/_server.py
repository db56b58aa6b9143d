"""The supervisor actor: supervisor.erl on the actor runtime.

It traps exits and starts its children with spawn_link, so a supervisor is
a child like any other and trees nest. Its one state record is :class:`State`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any, Final

import trio

from actors import (
    Actor,
    ActorError,
    ActorRef,
    Caller,
    CallResult,
    Crash,
    Exit,
    ExitReason,
    InfoResult,
    NoReply,
    Persistent,
    Reply,
    Shutdown,
    StartIgnored,
    Stop,
)

from ._backoff import backoff_delay, current_attempt
from ._check import check_child, check_shared_workers, check_supervisor
from ._decisions import should_restart
from ._directory import deliver
from ._exceptions import (
    AlreadyPresent,
    AlreadyStarted,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    NotSupported,
    StartFailed,
    SupervisorError,
)
from ._handles import ChildAddress, SupervisorHandle
from ._intensity import add_restart, exceeded
from ._protocol import (
    CountChildren,
    DeleteChild,
    Describe,
    Failed,
    Reincarnate,
    RestartChild,
    RestartDue,
    StartChild,
    TerminateChild,
    TryAgain,
    WhichChildren,
)
from ._report import exit_level, report, shutdown_level
from ._shutdown import stop_all_at_once, stop_child
from ._siblings import INHERITED, Sibling
from ._spec import (
    BRUTAL_KILL,
    AutoShutdown,
    Backoff,
    ChildKind,
    ChildSpec,
    Restart,
    ShutdownPolicy,
    Supervisor,
)
from ._state import Child, Dynamic, State, TreeContext
from ._tree_state import drop_child_state, dynamic_key

NO_REPLY: Final = NoReply()
ESCALATED: Final = Shutdown("reached_max_restart_intensity")
AUTO_SHUTDOWN: Final = Shutdown("auto_shutdown")


@dataclass(frozen=True, slots=True)
class StartSoon:
    """Sent (not called) to a dynamic supervisor: start a child with the extra ``args``.

    No reply: the sender goes on at once. The supervisor's bookkeeping is that of
    ``start_child``; a failed start is reported and sent to ``notify`` as
    :class:`Failed` (nothing is sent on success, nor when init returns Ignore).
    """

    args: tuple[Any, ...]
    notify: ActorRef


class SupervisorServer(Actor):
    """Supervises the children of one :class:`Supervisor` spec."""

    trap_exits = True
    reports_child_exits = True  # _report logs a child's crash, once, with its traceback

    async def init(self, spec: Supervisor, context: TreeContext) -> None:
        self.state = State(check_supervisor(spec), context.path)
        self.context = context
        self.pids: dict[ActorRef, int] = {}  # the worker pid of each process child, for reports
        self.random = random.Random()
        started: list[Child] = []
        for child in list(self.state.children):
            try:
                await self._start(child)
            except StartFailed:
                for done in reversed(started):
                    await self._stop(done)
                raise
            started.append(child)

    async def terminate(self, reason: ExitReason) -> None:
        state = self.state
        if state.is_dynamic:
            policy = _policy(state.template)
            reasons = await stop_all_at_once(self, list(state.dynamic), policy)
            brutal = policy is BRUTAL_KILL
            for ref, why in reasons.items():
                pid = self.pids.pop(ref, None)
                level = shutdown_level(why, brutal=brutal)
                self._report("shutdown", state.template.id, why, level, pid=pid)
            state.dynamic.clear()
            state.retrying.clear()
            return
        for child in reversed(list(state.children)):
            await self._stop(child)
        for child in state.children:
            self.context.directory.remove(child.path)

    # -- exits and restarts -----------------------------------------------------

    async def handle_info(self, message: Any) -> InfoResult:
        match message:
            case Exit(ref=ref, reason=reason):
                return await self._exited(ref, reason)
            case TryAgain(key=int(token)):
                retry = self.state.retrying.pop(token, None)
                return NO_REPLY if retry is None else await self._restart_dynamic(retry)
            case TryAgain(key=str(child_id)):
                child = self.state.find(child_id)
                if child is None or not child.restarting or child.timer is not None:
                    return NO_REPLY
                return await self._restart(child)
            case RestartDue(child_id=child_id):
                child = self.state.find(child_id)
                if child is None or not child.restarting or child.timer is None:
                    return NO_REPLY
                child.timer = None
                return await self._restart_now(child)
            case StartSoon(args=args, notify=notify) if self.state.is_dynamic:
                try:
                    await self._start_dynamic(Dynamic(args, dynamic_key(self.state, None)))
                except SupervisorError as exc:
                    notify.send_nowait(Failed(exc))  # rare: the sender crashes on it
                return NO_REPLY
        return await super().handle_info(message)

    async def _exited(self, ref: ActorRef, reason: ExitReason) -> InfoResult:
        if ref == self.context.parent:
            return Stop(reason)  # as gen_server: the parent's exit stops us
        state = self.state
        child = state.by_ref.pop(ref, None)
        if child is not None:
            child.ref = None
            child.ended(reason)
            pid = self.pids.pop(ref, None)
            self._report("exited", child.spec.id, reason, exit_level(reason), pid=pid)
            if should_restart(child.spec.restart, reason):
                return await self._restart(child)
            if child.spec.restart is Restart.TEMPORARY:
                state.remove(child)
                self.context.directory.remove(child.path)
            else:
                self.context.directory.stopped(child.path)
            return self._auto_shutdown(child.spec.significant)
        dynamic = state.dynamic.pop(ref, None)
        if dynamic is None:
            return NO_REPLY  # an incarnation already stopped and replaced
        template = state.template
        dynamic.ended(reason)
        pid = self.pids.pop(ref, None)
        self._report("exited", template.id, reason, exit_level(reason), pid=pid)
        if should_restart(template.restart, reason):
            return await self._restart_dynamic(dynamic)
        return self._auto_shutdown(template.significant)

    def _give_up(self, child_id: str) -> bool:
        """Record a restart; True when it exceeds the intensity (the supervisor escalates)."""
        state = self.state
        flags = state.flags
        state.restarts = add_restart(state.restarts, now=trio.current_time(), period=flags.period)
        if not exceeded(state.restarts, intensity=flags.intensity):
            return False
        self._report(
            "escalated",
            child_id,
            ESCALATED,
            logging.ERROR,
            f"more than {flags.intensity} restarts in {flags.period} s",
        )
        return True

    async def _restart(self, child: Child) -> InfoResult:
        if self._give_up(child.spec.id):
            return Stop(ESCALATED)
        if child.spec.backoff is not None:
            self._wait_backoff(child, child.spec.backoff)
            return NO_REPLY
        return await self._restart_now(child)

    def _wait_backoff(self, child: Child, policy: Backoff) -> None:
        ran_for = trio.current_time() - child.started_at
        attempt = current_attempt(policy, child.attempt, ran_for=ran_for)
        delay = backoff_delay(policy, attempt, random=self.random.random())
        child.attempt = attempt + 1
        child.restarting = True
        child.timer = self.send_after(delay, RestartDue(child.spec.id))
        self.context.directory.waiting(child.path, policy.stash_size)
        self._report("restarting", child.spec.id, message=f"in {delay:.3g} s (backoff)")

    async def _restart_now(self, child: Child) -> InfoResult:
        self._report("restarting", child.spec.id)
        group = self.state.group(child)
        for other in reversed(group):
            if other is not child:
                await self._stop(other)
        for member in group:
            if member not in self.state.children:
                continue  # a temporary sibling, dropped
            try:
                await self._start(member)
            except StartFailed:
                member.restarting = True
                self.send_after(0.0, TryAgain(member.spec.id))
                break
        return NO_REPLY

    async def _restart_dynamic(self, child: Dynamic) -> InfoResult:
        state = self.state
        template = state.template
        if self._give_up(template.id):
            return Stop(ESCALATED)
        self._report("restarting", template.id)
        child.starting()
        try:
            ref = await self._spawn(template, template.args + child.args, state.dynamic_path(child))
        except StartFailed:
            self.send_after(0.0, TryAgain(state.retry_token(child)))
            return NO_REPLY
        if ref is not None:
            state.dynamic[ref] = child
        return NO_REPLY

    def _auto_shutdown(self, significant: bool) -> InfoResult:
        mode = self.state.flags.auto_shutdown
        if mode is AutoShutdown.NEVER or not significant:
            return NO_REPLY
        if mode is AutoShutdown.ANY_SIGNIFICANT or not self.state.significant_left():
            self._report("shutdown", None, AUTO_SHUTDOWN, message="a significant child ended")
            return Stop(AUTO_SHUTDOWN)
        return NO_REPLY

    # -- starting and stopping one child ------------------------------------------

    async def _start(self, child: Child) -> None:
        """Start a static child (raises :class:`StartFailed`); an ignored one keeps no ref."""
        child.restarting = False
        if child.timer is not None:
            child.timer.cancel()
            child.timer = None
        child.started_at = trio.current_time()
        child.starting()
        ref = await self._spawn(child.spec, child.spec.args, child.path)
        directory = self.context.directory
        if ref is None:
            if child.spec.restart is Restart.TEMPORARY:
                self.state.remove(child)
                directory.remove(child.path)
            else:
                directory.stopped(child.path)
            return
        child.ref = ref
        self.state.by_ref[ref] = child
        dropped = deliver(self.runtime, ref, directory.running(child.path, ref))
        if dropped:
            message = f"{dropped} stashed messages dropped: the mailbox is full"
            self._report("started", child.spec.id, None, logging.WARNING, message)

    async def _spawn(self, spec: ChildSpec, args: tuple[Any, ...], path: str) -> ActorRef | None:
        start = spec.start
        args = self._resolve(args)
        if isinstance(start, Supervisor):
            cls: type[Actor] = SupervisorServer
            context = self.context
            args = (start, TreeContext(path, context.directory, self.ref, context.store, args))
        else:
            cls = start
        key = path if issubclass(cls, Persistent) else None  # its state is kept under its path
        try:
            ref = await self.spawn(
                cls,
                *args,
                link=True,
                mailbox_size=spec.mailbox_size,
                placement=spec.placement,
                worker_options=spec.worker_options,
                key=key,
                durability=spec.durability,
            )
        except StartIgnored:
            self._report("started", spec.id, None, message="init returned Ignore()")
            return None
        except (ActorError, ValueError) as exc:  # ValueError: a shared worker's other options
            self._report("started", spec.id, Crash(exc), logging.ERROR, verb="failed to start")
            raise StartFailed(path, exc) from exc
        pid = self.runtime.pid(ref)
        if pid is not None:
            self.pids[ref] = pid
        self._report("started", spec.id, message=repr(ref), pid=pid)
        return ref

    def _resolve(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """A child's args with siblings' addresses in, and this supervisor's own args if asked."""
        resolved: list[Any] = []
        for arg in args:
            if isinstance(arg, Sibling):
                resolved.append(self._address(arg))
            elif arg is INHERITED:
                resolved.extend(self.context.args)
            else:
                resolved.append(arg)
        return tuple(resolved)

    def _address(self, sibling: Sibling) -> ChildAddress | SupervisorHandle:
        """The address of a sibling, for a child that asked for it in its args."""
        directory = self.context.directory
        address = ChildAddress(self.state.child_path(sibling.id), directory, self.runtime)
        found = self.state.find(sibling.id)
        if found is not None and found.spec.kind is ChildKind.SUPERVISOR:
            return SupervisorHandle(self.ref, address, directory, self.runtime)
        return address

    async def _stop(self, child: Child) -> None:
        """Stop a static child if it runs; drop it if it is temporary."""
        await self._halt(child)
        if child.spec.restart is Restart.TEMPORARY:
            self.state.remove(child)
            self.context.directory.remove(child.path)
        else:
            self.context.directory.stopped(child.path)

    async def _halt(self, child: Child) -> None:
        """Stop a static child if it runs, or its pending restart; its spec stays."""
        child.restarting = False
        if child.timer is not None:
            child.timer.cancel()
            child.timer = None
        ref = child.ref
        if ref is not None:
            policy = _policy(child.spec)
            reason = await stop_child(self, ref, policy)
            child.ref = None
            child.ended(reason)
            self.state.by_ref.pop(ref, None)
            brutal = policy is BRUTAL_KILL
            level = shutdown_level(reason, brutal=brutal)
            self._report("shutdown", child.spec.id, reason, level, pid=self.pids.pop(ref, None))

    def _report(
        self,
        event: str,
        child_id: str | None,
        reason: ExitReason | str | None = None,
        level: int = logging.INFO,
        message: str = "",
        verb: str | None = None,
        *,
        pid: int | None = None,
    ) -> None:
        display = self.state.display
        report(event, display, child_id, reason, level=level, message=message, verb=verb, pid=pid)

    # -- operations ---------------------------------------------------------------

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        try:
            return Reply(await self._operation(request))
        except SupervisorError as exc:
            return Reply(Failed(exc))

    async def _operation(self, request: Any) -> object:
        state = self.state
        match request:
            case WhichChildren():
                return state.which_children(self.runtime.pid)
            case Describe():
                return state.describe(self.runtime.pid, self.runtime.mailbox_depth)
            case Reincarnate(target=str(target), drop_state=bool(drop)):
                return await self._reincarnate(target, drop)
            case CountChildren():
                return state.count_children()
            case StartChild(spec=None, args=args, key=key) if state.is_dynamic:
                return await self._start_dynamic(Dynamic(args, dynamic_key(state, key)))
            case StartChild(spec=ChildSpec() as spec) if not state.is_dynamic:
                return await self._start_static(spec)
            case TerminateChild(target=ActorRef() as ref) if state.is_dynamic:
                await self._terminate_dynamic(ref)
                return None
            case TerminateChild(target=str(child_id)) if not state.is_dynamic:
                await self._stop(self._find(child_id))
                return None
            case RestartChild(child_id=child_id) if not state.is_dynamic:
                child = self._stopped(child_id)
                await self._start(child)
                return child.ref
            case DeleteChild(child_id=child_id) if not state.is_dynamic:
                child = self._stopped(child_id)
                await drop_child_state(self.context.store, child.spec, child.path)
                state.remove(child)
                self.context.directory.remove(child.path)
                return None
        strategy = state.flags.strategy.value
        raise NotSupported(f"a {strategy} supervisor does not take {request!r}")

    async def _reincarnate(self, target: str, drop: bool) -> ActorRef | None:
        """An operator's restart: stop the child if it runs, drop its state if asked, start
        it again. Not a restart on failure: it is not counted toward the intensity."""
        state = self.state
        if state.is_dynamic:
            found = state.find_dynamic(target)
            if found is None:
                raise ChildNotFound(f"no running child {target!r} in {state.display}")
            old, dynamic = found
            dynamic.ended(await self._terminate_dynamic(old))
            if drop:
                await drop_child_state(
                    self.context.store, state.template, state.dynamic_path(dynamic)
                )
            return await self._start_dynamic(dynamic)
        child = self._find(target)
        await self._halt(child)
        if drop:
            await drop_child_state(self.context.store, child.spec, child.path)
        try:
            await self._start(child)
        except StartFailed:
            self.context.directory.stopped(child.path)
            raise
        return child.ref

    def _find(self, child_id: str) -> Child:
        child = self.state.find(child_id)
        if child is None:
            raise ChildNotFound(f"no child {child_id!r} in {self.state.display}")
        return child

    def _stopped(self, child_id: str) -> Child:
        child = self._find(child_id)
        if child.restarting:
            raise ChildRestarting(f"child {child_id!r} is restarting")
        if child.ref is not None:
            raise ChildRunning(f"child {child_id!r} is running as {child.ref}")
        return child

    async def _start_static(self, spec: ChildSpec) -> ActorRef | None:
        spec = check_child(spec)
        state = self.state
        check_shared_workers([*(child.spec for child in state.children), spec])
        existing = state.find(spec.id)
        if existing is not None:
            if existing.ref is not None:
                raise AlreadyStarted(spec.id, existing.ref)
            raise AlreadyPresent(f"child {spec.id!r} is already present (not running)")
        child = Child(spec, state.child_path(spec.id))
        state.children.append(child)
        try:
            await self._start(child)
        except BaseException:
            state.remove(child)
            raise
        return child.ref

    async def _start_dynamic(self, child: Dynamic) -> ActorRef | None:
        state = self.state
        template = state.template
        child.starting()
        ref = await self._spawn(template, template.args + child.args, state.dynamic_path(child))
        if ref is not None:
            state.dynamic[ref] = child
        return ref

    async def _terminate_dynamic(self, ref: ActorRef) -> ExitReason | None:
        state = self.state
        if ref not in state.dynamic:
            raise ChildNotFound(f"{ref} is not a child of {state.display}")
        policy = _policy(state.template)
        reason = await stop_child(self, ref, policy)
        del state.dynamic[ref]
        level = shutdown_level(reason, brutal=policy is BRUTAL_KILL)
        self._report("shutdown", state.template.id, reason, level, pid=self.pids.pop(ref, None))
        return reason


def _policy(spec: ChildSpec) -> ShutdownPolicy:
    assert spec.shutdown is not None, "specs are checked before use"
    return spec.shutdown
