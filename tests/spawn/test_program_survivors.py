"""The record of program children on disk, and stopping the survivors of an earlier run."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import pytest
import trio

from spawn import ProgramChild, record_programs, stop_survivors
from spawn._survivors import start_time
from tests.leaks import LeakCheck

DEADLINE = 60


def recorded(path: Path) -> list[dict[str, int]]:
    rows: list[dict[str, int]] = json.loads(path.read_text())["programs"]
    return rows


def ignore(stream: str, line: bytes) -> None:
    pass


async def started(argv: list[str], leaks: LeakCheck) -> ProgramChild:
    """A program child that has printed its first line (so it runs its own code)."""
    child = ProgramChild.start(argv, env={})
    leaks.watch(child.pid)
    ready = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(child.serve, lambda stream, line: ready.set())
        await ready.wait()
        nursery.cancel_scope.cancel()
    return child


async def test_the_record_holds_the_programs_alive_and_is_private(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    path = tmp_path / "programs.json"
    with trio.fail_after(DEADLINE), record_programs(path):
        assert recorded(path) == []
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        child = await started(["/bin/sh", "-c", "echo ready; exec sleep 600"], leaks)
        start = start_time(child.pid)
        assert recorded(path) == [{"pid": child.pid, "pgid": child.pid, "start": start}]
        with pytest.raises(RuntimeError, match="already recorded"), record_programs(tmp_path):
            pass
        await child.stop(signal.SIGTERM, 5.0, ignore)
        assert recorded(path) == []
    assert sorted(os.listdir(tmp_path)) == ["programs.json"]  # no temporary file left


async def test_recorded_survivors_are_stopped_term_then_kill(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    """Both groups left in the record are stopped: SIGTERM for one, SIGKILL for the one
    that ignores it; the file is gone afterwards."""
    path = tmp_path / "programs.json"
    with trio.fail_after(DEADLINE):
        with record_programs(path):
            polite = await started(["/bin/sh", "-c", "echo ready; exec sleep 600"], leaks)
            stubborn = await started(["/bin/sh", "-c", "trap '' TERM; echo 1; sleep 600"], leaks)
        # As after a kill -9 of a daemon: the record still lists them.
        stopped = await trio.to_thread.run_sync(stop_survivors, path, 0.5)
        assert sorted(stopped) == sorted([polite.pid, stubborn.pid])
        assert await polite.serve(ignore) == -signal.SIGTERM
        assert await stubborn.serve(ignore) == -signal.SIGKILL
    assert not path.exists()
    assert await trio.to_thread.run_sync(stop_survivors, path) == []


async def test_a_recorded_pid_with_another_start_time_is_left_alone(
    tmp_path: Path, leaks: LeakCheck
) -> None:
    path = tmp_path / "programs.json"
    with trio.fail_after(DEADLINE):
        child = await started(["/bin/sh", "-c", "echo ready; exec sleep 600"], leaks)
        try:
            start = start_time(child.pid)
            assert start is not None
            row = {"pid": child.pid, "pgid": child.pid, "start": start - 1}
            path.write_text(json.dumps({"programs": [row]}))
            assert await trio.to_thread.run_sync(stop_survivors, path, 0.5) == []
            assert child.process.poll() is None
        finally:
            assert await child.stop(signal.SIGTERM, 5.0, ignore) == -signal.SIGTERM


def test_a_record_that_is_not_one_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "programs.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a record of program children"):
        stop_survivors(path)
