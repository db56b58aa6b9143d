"""Stopping children: unlink, ask, wait the budget, kill; the supervisor waits on the death."""

from __future__ import annotations

import math

import trio

from actors import SHUTDOWN, Actor, ActorRef, ExitReason, NoSuchActor

from ._spec import BRUTAL_KILL, INFINITY, ShutdownPolicy


async def stop_child(owner: Actor, ref: ActorRef, policy: ShutdownPolicy) -> ExitReason | None:
    """Stop ``ref``, a child linked to ``owner``, under ``policy``; its exit reason.

    The child is unlinked first, so its exit does not come back as a message.
    ``None`` means it was already dead.
    """
    deadline = trio.current_time() + policy if isinstance(policy, float) else math.inf
    return await _stop_by(owner, ref, policy, deadline)


async def stop_all_at_once(
    owner: Actor, refs: list[ActorRef], policy: ShutdownPolicy
) -> dict[ActorRef, ExitReason | None]:
    """Stop every ref in ``refs`` concurrently, under one deadline; their exit reasons."""
    deadline = trio.current_time() + policy if isinstance(policy, float) else math.inf
    reasons: dict[ActorRef, ExitReason | None] = {}

    async def stop_one(ref: ActorRef) -> None:
        reasons[ref] = await _stop_by(owner, ref, policy, deadline)

    async with trio.open_nursery() as nursery:
        for ref in refs:
            nursery.start_soon(stop_one, ref)
    return reasons


async def _stop_by(
    owner: Actor, ref: ActorRef, policy: ShutdownPolicy, deadline: float
) -> ExitReason | None:
    runtime = owner.runtime
    owner.unlink(ref)
    if policy is BRUTAL_KILL:
        watch = runtime.watch(ref)
        if not runtime.kill(ref):
            return None
        return await watch.wait()
    timeout = None if policy is INFINITY else max(0.0, deadline - trio.current_time())
    try:
        return await runtime.stop(ref, SHUTDOWN, timeout=timeout)
    except NoSuchActor:
        return None
