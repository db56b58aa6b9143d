"""Program children under the daemon: orphans reaped and stopped, no survivor of a kill -9,
noise that does not stall the daemon. Each daemon runs under the subreaper wrapper
(tests/daemon/support.py): "no process left" means it adopted nothing still alive.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from tests.daemon.running import DEADLINE, LineClient, pid_gone, running, wait_file
from tests.daemon.support import read_report, wrapped_argv
from tests.procs import children
from tests.support import pid_namespace_argv


def orphans(tmp_path: Path, prefix: list[str], *args: str, linger: float = 60.0) -> Any:
    """The daemon running tests.daemon.trees:orphans, its marks in ``tmp_path/marks``."""
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    settings = ("--set", f"marks={marks}", "--set", f"linger={linger}")
    return running("tests.daemon.trees:orphans", tmp_path, *settings, *args, prefix=prefix)


def test_an_orphan_is_reaped_when_it_exits(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    marks = tmp_path / "marks"
    with orphans(tmp_path, wrapped_argv([], report), linger=0.3) as daemon:
        daemon.ready()
        orphan = int(wait_file(marks / "pid"))
        assert pid_gone(orphan, DEADLINE, reaped=True), "the orphan was not reaped after it exited"
        assert daemon.process.poll() is None  # the daemon reaped it, not the wrapper
        daemon.send(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.text()
    assert read_report(report).alive_adopted == []


def test_an_orphan_alive_at_shutdown_is_stopped(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    marks = tmp_path / "marks"
    with orphans(tmp_path, wrapped_argv([], report)) as daemon:
        daemon.ready()
        orphan = int(wait_file(marks / "pid"))
        daemon.send(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.text()
    assert (marks / "term").read_text().strip() == "term"  # the daemon asked it with SIGTERM
    assert pid_gone(orphan, 1)
    found = read_report(report)
    assert found.alive_adopted == [], found
    assert any("stopped 2 at the end" in m for m in daemon.messages()), daemon.text()


def test_as_pid_1_of_a_pid_namespace(tmp_path: Path) -> None:
    with orphans(tmp_path, pid_namespace_argv([]), "--log-level", "DEBUG", linger=0.3) as daemon:
        assert "(pid 1," in daemon.ready()["message"]
        daemon.wait_for(lambda r: "reaped adopted orphan" in str(r["message"]), "reaped", 20)
        (inner,) = children(daemon.pid)  # unshare's child: the daemon, PID 1 inside
        os.kill(inner, signal.SIGTERM)
        assert daemon.wait() == 0, daemon.text()


def test_kill_9_of_the_daemon_leaves_no_program(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    with running(
        "tests.daemon.trees:sleeper", tmp_path, prefix=wrapped_argv([], report, grace=2.0)
    ) as daemon:
        daemon.ready()
        (recorded,) = json.loads((tmp_path / "programs.json").read_text())["programs"]
        assert not pid_gone(recorded["pid"], 0.1)  # the sleeper runs
        (inner,) = children(daemon.pid)  # the wrapper's child: the daemon
        os.kill(inner, signal.SIGKILL)
        daemon.wait()
    found = read_report(report)
    assert found.alive_adopted == [], found  # the program was gone within the 2 s grace
    assert pid_gone(recorded["pid"], 0.1)
    with running("tests.daemon.trees:sleeper", tmp_path) as again:
        again.ready()
        again.send(signal.SIGTERM)
        assert again.wait() == 0, again.text()


def test_noisy_programs_leave_the_daemon_responsive(tmp_path: Path) -> None:
    """A 1 MB line without newline and `yes` at full speed: calls to the kv service are
    still answered (each within 5 s), and the log goes on."""
    report = tmp_path / "report.json"
    with running("tests.daemon.trees:noisy", tmp_path, prefix=wrapped_argv([], report)) as daemon:
        daemon.ready()
        daemon.wait_for(lambda r: r.get("child_id") == "big_line", "the big line's first piece")
        daemon.wait_for(lambda r: r.get("child_id") == "fast", "the fast writer's first line")
        fast_before = daemon.count(lambda r: r.get("child_id") == "fast")
        with LineClient(daemon.port("kv"), timeout=5.0) as client:
            for n in range(20):
                assert client.ask(f"SET k{n} {n}") == "OK"
                assert client.ask(f"GET k{n}") == f"VALUE {n}"
        assert daemon.count(lambda r: r.get("child_id") == "fast") > fast_before
        pieces = [r for r in daemon.records if r.get("child_id") == "big_line"]
        longest = max(len(r["message"]) for r in pieces)  # "big_line[pid] stdout: " + a piece
        assert 64 * 1024 < longest <= 64 * 1024 + 100, longest
        daemon.send(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.text()[-3000:]
    assert read_report(report).alive_adopted == []


def test_a_subprocess_of_an_actor_keeps_its_status_under_the_reaper(tmp_path: Path) -> None:
    """The reaper leaves an unowned zombie alone for a grace: trio.run_process reaps its own."""
    out = tmp_path / "codes.json"
    with running("tests.daemon.trees:runs_commands", tmp_path, "--set", f"out={out}") as daemon:
        daemon.ready()
        assert json.loads(out.read_text()) == [7] * 5
        daemon.send(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.text()
