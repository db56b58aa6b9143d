"""The orphan reaper: adopted orphans reaped as they exit, stopped at the end, statuses kept.

Every subreaper here is a child Python running tests/spawn/reaper_script.py, as
a plain process and as PID 1 of a fresh PID namespace; the pytest process never
becomes one. The tests of the pid registry run here: they reap only pids they name.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

import trio

from spawn import Process, SpawnTemplate
from spawn._children import child_states, owned_pids, prune_owned, reap_unowned
from tests.leaks import LeakCheck
from tests.support import pid_namespace_argv, run_command, run_python

SCRIPT = "tests/spawn/reaper_script.py"


def _check_script_outcome(out: dict[str, Any]) -> None:
    assert out["adopted"] is True, "the setsid grandchild was not re-parented to the reaper"
    assert out["exited_code"] == 0, "the orphan that exited was not reaped by the reaper"
    assert out["owned_status"] == 7, "the reaper took the owned child's exit status"
    assert out["adopted_before_stop"] == 1
    assert out["polite"] == [None, -signal.SIGTERM], "an orphan alive at the end: SIGTERM, reaped"
    assert out["stubborn"] == [None, -signal.SIGKILL], "one ignoring SIGTERM: SIGKILL, reaped"
    assert out["stopped"] == 2
    assert out["adopted_after_stop"] == 3
    assert out["without_sigchld"] == [1, 0], "the periodic scan did not reap without SIGCHLD"
    assert out["subreaper"] == [True, False], "not a subreaper inside, or still one after"
    assert out["after_error"] == ["the block failed", None, 1, -signal.SIGKILL]


def test_reaper_adopts_reaps_and_stops_orphans(leaks: LeakCheck) -> None:
    run = run_python(SCRIPT)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["pid"] != 1
    _check_script_outcome(out)


def test_reaper_as_pid_1_of_a_pid_namespace(leaks: LeakCheck) -> None:
    run = run_command(pid_namespace_argv([sys.executable, SCRIPT]))
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["pid"] == 1
    _check_script_outcome(out)


def test_reaper_refuses_a_proc_of_another_pid_namespace(leaks: LeakCheck) -> None:
    """PID 1 without --mount-proc: /proc names the host's pids; the reaper must not use them."""
    code = "import trio, spawn\nasync def main():\n    async with spawn.open_reaper(): pass\n"
    code += "trio.run(main)"
    run = run_command(pid_namespace_argv([sys.executable, "-c", code], mount_proc=False))
    assert run.returncode == 1
    assert "OSError: /proc belongs to another PID namespace" in run.stderr, run.stderr


def _python(code: str) -> SpawnTemplate:
    return SpawnTemplate.program([sys.executable, "-I", "-S", "-c", code], env={})


def _until_zombie(pid: int) -> None:
    """Poll /proc until ``pid`` has exited (the state is in another process)."""
    deadline = time.monotonic() + 30
    while child_states().get(pid) != "Z":
        assert time.monotonic() < deadline, f"{pid} did not exit within 30 s"
        time.sleep(0.01)


async def test_owned_zombie_is_left_to_its_process(leaks: LeakCheck) -> None:
    process = Process.spawn(_python("import sys; sys.exit(7)"))
    assert process.pid in owned_pids()
    await trio.to_thread.run_sync(_until_zombie, process.pid)
    assert reap_unowned([process.pid]) == []
    assert child_states().get(process.pid) == "Z"
    assert await process.wait() == 7
    assert process.pid not in owned_pids()


def test_unowned_zombie_is_reaped(leaks: LeakCheck) -> None:
    argv = [sys.executable, "-I", "-S", "-c", "import sys; sys.exit(5)"]
    pid = os.posix_spawn(argv[0], argv, {})  # not through spawn: nothing owns it
    assert pid not in owned_pids()
    _until_zombie(pid)
    assert reap_unowned([pid]) == [(pid, 5)]
    assert pid not in child_states()


def test_a_pid_reaped_behind_its_owners_back_is_pruned(leaks: LeakCheck) -> None:
    template = _python("pass")
    pid = template.spawn()
    assert pid in owned_pids()
    prune_owned(child_states())
    assert pid in owned_pids(), "a live owned child was pruned"
    os.waitpid(pid, 0)
    prune_owned(child_states())
    assert pid not in owned_pids()
