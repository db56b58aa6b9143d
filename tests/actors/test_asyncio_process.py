"""Asyncio actors in worker processes on uvloop, and signals of a uvloop root (issue 17)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest
import trio
import uvloop

from actors import KILLED, SharedWorker, WorkerOptions, open_runtime, run_on_uvloop
from tests.actors.asyncio_actors import Crasher, LineClient, Stubborn
from tests.actors.probe import Probe
from tests.actors.test_asyncio_root import clean_host, start_line_server
from tests.leaks import LeakCheck
from tests.support import ROOT

__all__ = ["clean_host"]  # the fixture, used here too


@pytest.fixture(scope="module", autouse=True)
def _libuv_started() -> None:
    """libuv makes one pipe per process with its first loop, for good: before any leak check."""
    uvloop.new_event_loop().close()


def test_asyncio_streams_and_queue_in_a_uvloop_worker(
    clean_host: set[str], leaks: LeakCheck
) -> None:
    async def main() -> tuple[list[Any], list[Any]]:
        server, port = await start_line_server()
        try:
            async with open_runtime() as runtime:
                client = await runtime.spawn(LineClient, "127.0.0.1", port, placement="process")
                pid = runtime.pid(client)
                assert pid is not None
                leaks.watch(pid)
                shared = SharedWorker("mixed", options=WorkerOptions(loop="uvloop"))
                beside = await runtime.spawn(LineClient, "127.0.0.1", port, placement=shared)
                trio_actor = await runtime.spawn(Probe, placement=shared)  # trio beside asyncio
                assert await trio_actor.call(("echo", 7)) == 7
                return await client.call("one"), await beside.call("two")
        finally:
            server.close()

    own, shared = run_on_uvloop(main)
    assert own[:3] == ["echo one", "uvloop", "Loop"]
    assert shared[:3] == ["echo two", "uvloop", "Loop"]
    for answer in (own, shared):
        assert answer[4] != os.getpid()
        assert all(name.startswith("Trio thread") for name in answer[3]), answer[3]


async def test_a_dedicated_worker_whose_task_swallows_cancellation_is_killed_at_the_budget(
    leaks: LeakCheck,
) -> None:
    budget = 2.0
    async with open_runtime() as runtime:
        for swallow in (False, True):
            ref = await runtime.spawn(Stubborn, swallow, placement="process")
            pid = runtime.pid(ref)
            assert pid is not None
            leaks.watch(pid)
            assert await ref.call("block") == pid
            start = trio.current_time()
            reason = await runtime.stop(ref, timeout=budget)
            assert trio.current_time() - start < budget + 10
            assert (reason == KILLED) is swallow
            assert leaks.gone(pid, 10)


async def test_an_asyncio_crash_in_a_worker_arrives_as_its_reason(leaks: LeakCheck) -> None:
    async with open_runtime() as runtime:
        ref = await runtime.spawn(Crasher, placement="process")
        pid = runtime.pid(ref)
        assert pid is not None
        leaks.watch(pid)
        watch = runtime.watch(ref)
        with pytest.raises(Exception, match="boom from asyncio"):
            await ref.call("boom")
        reason = await watch.wait()
        assert "ValueError: boom from asyncio" in str(reason)


def _signalled(mode: str, signum: int) -> list[str]:
    with subprocess.Popen(
        [sys.executable, "-m", "tests.actors.uvloop_signals", mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as child:
        assert child.stdout is not None
        try:
            assert child.stdout.readline() == "ready\n"
            child.send_signal(signum)
            out, _ = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
        assert child.returncode == 0
    return out.splitlines()


def test_sigterm_reaches_a_trio_signal_receiver_in_a_uvloop_root() -> None:
    assert _signalled("term", signal.SIGTERM) == [
        "trio got SIGTERM",
        "finally ran, the actor's terminate first: ['terminate shutdown']",
        "returned",
    ]


def test_ctrl_c_in_a_uvloop_root_raises_keyboard_interrupt_after_trio_cleaned_up() -> None:
    assert _signalled("int", signal.SIGINT) == [
        "finally ran, the actor's terminate first: ['terminate shutdown']",
        "KeyboardInterrupt",
    ]
