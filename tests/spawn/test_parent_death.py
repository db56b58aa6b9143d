"""Acceptance: SIGKILL of the parent while one worker spins and another sleeps."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import trio

from tests.leaks import LeakCheck, children

DEADLINE = 60
SCRIPT = Path(__file__).with_name("parent_script.py")
ROOT = Path(__file__).parents[2]


async def _wait_for_pid(path: Path, parent: trio.Process) -> int:
    marker = trio.Path(path)
    for _ in range(3000):
        if await marker.exists() and (text := await marker.read_text()):
            return int(text)
        assert parent.poll() is None, "the parent script died early"
        await trio.sleep(0.01)
    raise AssertionError(f"{path} never appeared")


async def test_sigkill_of_the_parent_ends_spinning_and_sleeping_workers(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    """Acceptance: SIGKILL of the parent while one worker spins in a CPU loop and another
    sleeps in time.sleep: a pidfd opened beforehand for each becomes readable within 10 s."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = await trio.lowlevel.open_process(
        [sys.executable, str(SCRIPT), str(tmp_path)], cwd=ROOT, env=env
    )
    try:
        with trio.fail_after(DEADLINE):
            spinner = await _wait_for_pid(tmp_path / "spin", parent)
            sleeper = await _wait_for_pid(tmp_path / "sleep", parent)
        leaks.watch(spinner)
        leaks.watch(sleeper)
        assert spinner in children(of=parent.pid)
        assert sleeper in children(of=parent.pid)
    finally:
        parent.kill()
        with trio.fail_after(DEADLINE):
            assert await parent.wait() == -signal.SIGKILL
    assert await trio.to_thread.run_sync(leaks.gone, spinner, 10.0)
    assert await trio.to_thread.run_sync(leaks.gone, sleeper, 10.0)
