"""`letitcrash run` and `letitcrash check` as an operator uses them (docs/daemon.md).

Each test runs the daemon in a subprocess; none sleeps to synchronise: they wait
for log events. Exit codes: 0 orderly, 1 gave up, 2 bad input, 130/143 second signal.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from tests.daemon.running import DEADLINE, LETITCRASH, LineClient, running, wait_file
from tests.daemon.support import read_report, wrapped_argv
from tests.support import ROOT


def letitcrash(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LETITCRASH, *args], cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("no_such_module:tree", "no module named 'no_such_module'"),
        ("tests.daemon.trees:nothing", "has no attribute 'nothing'"),
        ("tests.daemon.trees:logger", "is a Logger, not a Supervisor spec"),
        ("tests.daemon.trees", "is not module:attr"),
        ("tests.daemon.trees:Polite", "returned a Polite, not a Supervisor spec"),
    ],
)
def test_bad_targets_exit_2_naming_the_problem(target: str, expected: str) -> None:
    for command in ("check", "run"):
        done = letitcrash(command, target)
        assert done.returncode == 2, done
        assert expected in done.stderr, done.stderr


def test_a_bad_metrics_port_exits_2(tmp_path: Path) -> None:
    done = letitcrash(
        "run", "tests.daemon.trees:quiet", "--state-dir", str(tmp_path), "--metrics-port", "70000"
    )
    assert done.returncode == 2, done
    assert "--metrics-port 70000: a port is 0 to 65535" in done.stderr


def test_check_names_a_bad_spec_and_a_bad_setting(tmp_path: Path) -> None:
    bad = tmp_path / "badtree.py"
    bad.write_text(
        "from supervisor import ChildSpec, Supervisor\n"
        "from tests.daemon.trees import Polite\n"
        "tree = Supervisor(children=[ChildSpec('a', Polite), ChildSpec('a', Polite)])\n"
    )
    done = subprocess.run(
        [LETITCRASH, "check", "badtree:tree"],
        cwd=tmp_path,  # the current directory is on sys.path, as with python -m
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2, done
    assert "'a'" in done.stderr, done.stderr
    assert "badtree:tree" in done.stderr
    done = letitcrash("check", "tests.daemon.trees:ordered", "--set", "budget=soon")
    assert done.returncode == 2
    assert "budget=soon: not a valid float" in done.stderr, done.stderr
    done = letitcrash("check", "tests.daemon.trees:ordered", "--set", "colour=red")
    assert done.returncode == 2
    assert "takes no 'colour' (it takes: budget)" in done.stderr, done.stderr
    done = letitcrash("check", "tests.daemon.trees:ordered", "--set", "budget=3")
    assert done.returncode == 0, done.stderr


def test_sigterm_stops_children_in_reverse_start_order(tmp_path: Path) -> None:
    with running("tests.daemon.trees:ordered", tmp_path) as daemon:
        daemon.ready()
        daemon.send(signal.SIGTERM)
        assert daemon.wait(4 * 2.0 + 10) == 0, daemon.text()
        terminated = [r["who"] for r in daemon.records if r.get("event") == "terminate"]
        assert terminated == ["c", "b", "a"], daemon.text()
        stopped = [
            r["child_id"]
            for r in daemon.records
            if r.get("event") == "shutdown" and r.get("supervisor") == "/"
        ]
        assert stopped == ["c", "inner", "p", "a"], daemon.text()
        assert daemon.records[-1]["event"] == "daemon stopped"


def test_sigterm_on_a_uvloop_host_stops_in_the_same_order(tmp_path: Path) -> None:
    with running("tests.daemon.trees:ordered_asyncio", tmp_path, "--loop", "uvloop") as daemon:
        daemon.ready()
        daemon.send(signal.SIGTERM)
        assert daemon.wait(3 * 2.0 + 10) == 0, daemon.text()
    terminated = [r for r in daemon.records if r.get("event") == "terminate"]
    assert [r["who"] for r in terminated] == ["c", "aio", "a"], daemon.text()
    assert terminated[1]["loop"] == "uvloop", terminated
    assert daemon.records[-1]["event"] == "daemon stopped"


def test_an_asyncio_child_needs_the_uvloop_host(tmp_path: Path) -> None:
    with running("tests.daemon.trees:ordered_asyncio", tmp_path) as daemon:
        assert daemon.wait() == 1, daemon.text()
    assert any("run_on_uvloop" in m for m in daemon.messages()), daemon.text()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_second_signal_kills_a_hung_terminate(
    tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    """The terminate hangs under a 60 s budget: the second signal ends it at once, and
    nothing is left (the wrapper adopted nothing alive: the process child's worker is gone)."""
    report = tmp_path / "report.json"
    with running("tests.daemon.trees:hung", tmp_path, prefix=wrapped_argv([], report)) as daemon:
        daemon.ready()
        daemon.send(signum)
        daemon.wait_event("terminate hangs")
        daemon.send(signum)
        assert daemon.wait(10) == code, daemon.text()
    assert read_report(report).alive_adopted == []


def test_exit_0_when_the_root_stops_by_auto_shutdown(tmp_path: Path) -> None:
    with running("tests.daemon.trees:finishes", tmp_path) as daemon:
        assert daemon.wait() == 0, daemon.text()
    assert any("root supervisor stopped" in m for m in daemon.messages()), daemon.text()


def test_a_second_daemon_on_the_same_state_exits_2(tmp_path: Path) -> None:
    with running("tests.daemon.trees:quiet", tmp_path) as first:
        first.ready()
        with running("tests.daemon.trees:quiet", tmp_path) as second:
            assert second.wait() == 2, second.text()
        assert any("cannot open the state store" in m for m in second.messages())
        first.send(signal.SIGTERM)
        assert first.wait() == 0
    deep = tmp_path / ("d" * 100)
    with running("tests.daemon.trees:quiet", deep) as far:
        assert far.wait() == 2, far.text()
    assert any("107" in m for m in far.messages()), far.text()


def test_exit_1_when_the_root_gives_up(tmp_path: Path) -> None:
    with running("tests.daemon.trees:gives_up", tmp_path) as daemon:
        assert daemon.wait() == 1, daemon.text()
        assert any("gave up" in message for message in daemon.messages()), daemon.text()


def test_a_crash_is_logged_once_with_its_traceback(tmp_path: Path) -> None:
    with running("tests.daemon.trees:crashes", tmp_path) as daemon:
        daemon.ready()
        for listener in ("to_task", "to_proc"):
            with LineClient(daemon.port(listener)) as client:
                assert client.ask("crash").startswith("error")
                assert client.ask("hello") == "ok"  # restarted
        daemon.send(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.text()
    crashes = [r for r in daemon.records if "a crash to be logged once" in r.get("traceback", "")]
    assert [r["child_id"] for r in crashes] == ["task", "proc"], daemon.text()
    assert crashes[0]["pid"] is None
    assert isinstance(crashes[1]["pid"], int)  # the worker's, as the start report said
    assert f"child proc (pid {crashes[1]['pid']}) exited" in crashes[1]["message"]
    assert all(r["level"] == "ERROR" and r["logger"] == "supervisor" for r in crashes)
    assert "Traceback" not in "\n".join(daemon.raw), daemon.raw  # none printed raw by a worker


def test_log_file_0600_and_reopened_on_sighup(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    with running("tests.daemon.trees:quiet", tmp_path / "state", "--log-file", str(log)) as d:
        wait_file(log, "running (pid")
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        log.rename(tmp_path / "daemon.log.1")  # as logrotate does
        d.send(signal.SIGHUP)
        wait_file(log, "log file")
        d.send(signal.SIGTERM)
        assert d.wait() == 0
    assert "stopped" in log.read_text()
    assert "SIGHUP" not in (tmp_path / "daemon.log.1").read_text()
