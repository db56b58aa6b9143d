"""The store's own thread: calls in order, answered through its eventfd, not cancellable."""

from __future__ import annotations

import os
import threading

import pytest
import trio
import trio.testing

from supervisor._store_thread import StoreThread


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def test_concurrent_calls_each_get_their_own_result_in_order() -> None:
    before = _open_fds()
    thread = StoreThread("letitcrash store test")
    ran: list[int] = []
    results: dict[int, int] = {}

    def work(n: int) -> int:
        ran.append(n)
        return n * n

    async def call(n: int) -> None:
        results[n] = await thread.run(work, n)

    async with trio.open_nursery() as nursery:
        for n in range(30):
            nursery.start_soon(call, n)
            await trio.lowlevel.checkpoint()  # started in order: queued in order
    assert ran == list(range(30))
    assert results == {n: n * n for n in range(30)}
    with pytest.raises(ZeroDivisionError):
        await thread.run(divmod, 1, 0)
    thread.stop()
    with pytest.raises(trio.ClosedResourceError):
        await thread.run(int)
    assert _open_fds() == before  # the eventfd is closed with the thread


async def test_a_cancelled_caller_still_gets_the_outcome_then_cancelled() -> None:
    thread = StoreThread("letitcrash store test")
    release = threading.Event()
    seen: list[str] = []

    def blocked() -> str:
        assert release.wait(timeout=10.0)
        return "done"

    async def caller(cancel_scope: trio.CancelScope) -> None:
        with cancel_scope:
            seen.append(await thread.run(blocked))
            seen.append("before checkpoint")
            await trio.lowlevel.checkpoint()
            seen.append("not cancelled")  # pragma: no cover - the scope was cancelled

    async def parked() -> None:  # waits while the other task watches the eventfd
        seen.append(await thread.run(str, "parked"))

    scope = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller, scope)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(parked)
        await trio.testing.wait_all_tasks_blocked()
        scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert seen == []  # neither returned before the thread did
        release.set()
    assert seen == ["done", "before checkpoint", "parked"]
    assert scope.cancelled_caught
    thread.stop()


async def test_stop_while_a_call_runs_closes_after_it_returns() -> None:
    before = _open_fds()
    thread = StoreThread("letitcrash store test")
    release = threading.Event()
    got: list[bool] = []

    async def caller() -> None:
        got.append(await thread.run(release.wait, 10.0))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller)
        await trio.testing.wait_all_tasks_blocked()
        thread.stop()  # the running call still ends, with its result
        assert _open_fds() != before
        release.set()
    assert got == [True]
    assert _open_fds() == before
