"""Asyncio actors in a root run by ``run_on_uvloop`` (issue 17), in this process.

Each test runs its own ``run_on_uvloop`` and the ``clean_host`` fixture checks that
it is clean to do so here: afterwards no loop is running, no new thread is left
but trio's idle thread cache, and SIGINT and the wakeup fd are as before.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest
import trio

from actors import (
    KILLED,
    SHUTDOWN,
    ActorRef,
    Crash,
    Down,
    NoHostLoop,
    SharedWorker,
    WorkerOptions,
    open_runtime,
    run_on_uvloop,
)
from supervisor import ChildSpec, InvalidSpec, Supervisor, check_supervisor, open_tree
from tests.actors.asyncio_actors import Crasher, LineClient, Stubborn
from tests.actors.probe import Probe
from tests.support import eventually

TRIO_THREAD = "Trio thread"


def _threads() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


@pytest.fixture
def clean_host() -> Iterator[set[str]]:
    """The thread names before; after: no loop, no new thread but trio's cache, signals kept."""
    before = _threads()
    sigint = signal.getsignal(signal.SIGINT)
    yield before
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    assert all(name.startswith(TRIO_THREAD) for name in _threads() - before)
    assert signal.getsignal(signal.SIGINT) is sigint
    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    assert wakeup == -1


async def start_line_server() -> tuple[asyncio.Server, int]:
    """From trio on the host loop: an asyncio server answering ``echo <line>`` per line."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(b"echo " + line)
            await writer.drain()
        writer.close()

    ready = trio.Event()
    servers: list[asyncio.Server] = []

    async def start() -> None:
        servers.append(await asyncio.start_server(handle, "127.0.0.1", 0))
        ready.set()

    task = asyncio.get_running_loop().create_task(start())
    with trio.fail_after(10):
        await ready.wait()
    assert task.done()
    server = servers[0]
    return server, server.sockets[0].getsockname()[1]


def test_asyncio_streams_and_queue_in_a_uvloop_root(clean_host: set[str]) -> None:
    async def main() -> list[Any]:
        server, port = await start_line_server()
        try:
            async with open_runtime() as runtime:
                client = await runtime.spawn(LineClient, "127.0.0.1", port)
                return [await client.call("one"), await client.call("two")]
        finally:
            server.close()

    first, second = run_on_uvloop(main)
    assert first[:3] == ["echo one", "uvloop", "Loop"]
    assert second[0] == "echo two"
    assert all(name.startswith(TRIO_THREAD) for name in set(first[3]) - clean_host)


def test_stopping_a_blocked_actor_cancels_its_tasks_and_terminate_runs(
    clean_host: set[str],
) -> None:
    log: list[str] = []

    async def main() -> object:
        async with open_runtime() as runtime:
            ref = await runtime.spawn(Stubborn, False, log)
            await ref.call("block")
            return await runtime.stop(ref, timeout=30)

    assert run_on_uvloop(main) == SHUTDOWN
    assert log == ["blocked task cancelled", "terminate shutdown"]


def test_a_task_swallowing_cancellation_is_killed_at_the_budget_and_logged(
    clean_host: set[str], caplog: pytest.LogCaptureFixture
) -> None:
    budget = 0.5

    async def main() -> tuple[object, float, list[object]]:
        async with open_runtime() as runtime:
            ref = await runtime.spawn(Stubborn, True)
            watcher = await runtime.spawn(Probe)
            await watcher.call(("monitor", ref))
            await ref.call("block")
            start = trio.current_time()
            reason = await runtime.stop(ref, timeout=budget)
            elapsed = trio.current_time() - start
            return reason, elapsed, await watcher.call("seen")

    with caplog.at_level(logging.ERROR, logger="actors"):
        reason, elapsed, messages = run_on_uvloop(main)
    assert reason == KILLED
    assert elapsed < budget + 5  # the budget, not the task's goodwill
    assert len(messages) == 1
    kind, down = cast(tuple[str, object], messages[0])
    assert kind == "info"
    assert isinstance(down, Down)
    assert down.reason == KILLED
    left = [r for r in caplog.records if getattr(r, "event", None) == "task left"]
    assert len(left) == 1
    assert "_swallower" in left[0].getMessage()  # with its stack


def test_an_asyncio_exception_crashes_the_actor_and_its_supervisor_restarts_it(
    clean_host: set[str],
) -> None:
    tree = Supervisor(intensity=5, children=[ChildSpec("crasher", Crasher)])

    async def main() -> tuple[object, object, bool]:
        async with open_runtime() as runtime, open_tree(tree, runtime=runtime) as root:
            child = root.child("crasher")
            before = await child.call("hello")
            old = child.whereis()
            assert old is not None
            watch = runtime.watch(old)
            with pytest.raises(Exception, match="boom from asyncio"):
                await child.call("boom")
            reason = await watch.wait()

            async def restarted() -> ActorRef | None:
                await trio.sleep(0.01)
                new = child.whereis()
                return None if new == old else new

            new = await eventually(restarted, what="the restarted child")
            return before, reason, await child.call("after") == "after" and new != old

    before, reason, restarted = run_on_uvloop(main)
    assert before == "hello"
    assert isinstance(reason, Crash)
    assert isinstance(reason.exc, ValueError)
    assert restarted


async def test_an_asyncio_actor_as_a_task_of_a_plain_trio_root_names_the_fix() -> None:
    async with open_runtime() as runtime:
        with pytest.raises(NoHostLoop, match=r"run_on_uvloop\(\.\.\.\).*placement=\"process\""):
            await runtime.spawn(Crasher)
        with pytest.raises(NoHostLoop, match='WorkerOptions\\(loop="uvloop"\\)'):
            await runtime.spawn(Crasher, placement=SharedWorker("mixed"))
        assert runtime.statistics().actors == 0


def test_the_spec_check_refuses_an_asyncio_actor_on_a_trio_worker() -> None:
    trio_worker = Supervisor(children=[ChildSpec("c", Crasher, placement=SharedWorker("w"))])
    with pytest.raises(InvalidSpec, match="uvloop"):
        check_supervisor(trio_worker)
    shared = SharedWorker("w", options=WorkerOptions(loop="uvloop"))
    check_supervisor(Supervisor(children=[ChildSpec("c", Crasher, placement=shared)]))
    forced = ChildSpec("c", Crasher, placement="process", worker_options=WorkerOptions(loop="trio"))
    with pytest.raises(InvalidSpec, match="uvloop"):
        check_supervisor(Supervisor(children=[forced]))
