"""``persist`` with real persistent actors: each writer is a strict-mode actor, and each
acknowledged write is a call that incremented its state (see ``_persist``)."""

from __future__ import annotations

from typing import Any

import trio

from actors import Actor, Caller, CallResult, Persistent, Reply, open_runtime
from supervisor import StateStore

from . import _persist
from ._core import Case


class Tally(Actor, Persistent[int]):
    """A strict persistent counter: each call adds one, answered once committed."""

    async def init(self, state: int | None) -> None:
        self.value = state or 0

    def snapshot(self) -> int:
        return self.value

    @classmethod
    def restore(cls, data: Any, version: int) -> int:
        return int(data)

    async def handle_call(self, request: Any, caller: Caller) -> CallResult:
        self.value += 1
        return Reply(self.value)


async def actor_writer(
    store: StateStore,
    key: str,
    count: int,
    clock: _persist.Clock,
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    """``count`` acknowledged writes under ``key``: strict calls to a persistent actor.

    The key's earlier state (from the previous sample) is dropped first, so the
    count starts at 0; that delete, the runtime and the actor's start (its first
    commit, claiming its generation) come before the clock starts.
    """
    await store.delete(key)
    async with open_runtime(store=store) as runtime:
        tally = await runtime.spawn(Tally, key=key)
        task_status.started()
        await clock.go.wait()
        for _ in range(count):
            await tally.call("add")
        clock.finished()
        await runtime.stop(tally)


def cases(quick: bool) -> list[Case]:
    return _persist.cases(quick, writer=actor_writer)
