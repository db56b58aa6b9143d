from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from actors import ExitReason, Runtime
from supervisor import (
    ChildAddress,
    ChildSpec,
    Supervisor,
    SupervisorHandle,
    TreeExited,
    open_tree,
)

from .workers import Log, Worker


def child(log: Log, name: str, **options: object) -> ChildSpec:
    """A :class:`Worker` child called ``name`` that records its life in ``log``."""
    return ChildSpec(name, Worker, args=(name, log), **options)  # type: ignore[arg-type]


async def settle() -> None:
    """Let every task run until all are blocked (no time passes)."""
    await trio.testing.wait_all_tasks_blocked()


async def crash(address: ChildAddress) -> None:
    """Make the child crash and let its supervisor react."""
    await address.cast("crash")
    await settle()


async def running(root: SupervisorHandle) -> dict[str | None, bool]:
    return {info.id: info.ref is not None for info in await root.which_children()}


Body = Callable[[SupervisorHandle], Awaitable[None]]


async def until_exit(spec: Supervisor, runtime: Runtime, body: Body) -> ExitReason:
    """Open the tree, run ``body``, wait for the root to exit; the reason ``open_tree`` gives."""
    with pytest.raises(TreeExited) as caught:
        await _run_forever(spec, runtime, body)
    return caught.value.reason


async def _run_forever(spec: Supervisor, runtime: Runtime, body: Body) -> None:
    async with open_tree(spec, runtime=runtime) as root:
        await body(root)
        await trio.sleep_forever()  # cancelled when the root exits


async def open_and_close(spec: Supervisor, runtime: Runtime) -> None:
    async with open_tree(spec, runtime=runtime):
        pass
