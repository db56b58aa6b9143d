"""The subreaper wrapper the daemon tests run under: its report and its signal forwarding."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.support import run_wrapped, start_wrapped
from tests.leaks import LeakCheck

#: A child that forks a grandchild, which calls setsid and lives on (``wait``: until the
#: child is gone; ``stay``: until killed); the child prints its pid and exits 3.
ORPHAN_MAKER = """
import os, signal, sys
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.setsid()
    os.close(w)
    os.dup2(os.open(os.devnull, os.O_RDWR), 1)  # hold no pipe of the test's
    if sys.argv[1] == "stay":
        signal.pause()
    os.read(r, 1)  # the end of file: the child exited
    os._exit(0)
print(pid, flush=True)
os._exit(3)
"""


def _maker(mode: str) -> list[str]:
    return [sys.executable, "-I", "-S", "-c", ORPHAN_MAKER, mode]


def test_nothing_left(tmp_path: Path, leaks: LeakCheck) -> None:
    run, report = run_wrapped(_maker("wait"), tmp_path / "report.json", grace=10.0)
    assert run.returncode == 3
    assert report.returncode == 3
    assert report.alive_adopted == []
    assert report.adopted == 1, "the grandchild that exited was not counted"


def test_something_left_alive_is_reported_then_killed(tmp_path: Path, leaks: LeakCheck) -> None:
    run, report = run_wrapped(_maker("stay"), tmp_path / "report.json", grace=0.2)
    grandchild = int(run.stdout)
    assert run.returncode == 3
    assert report.alive_adopted == [grandchild]
    assert report.adopted == 1
    assert not os.path.exists(f"/proc/{grandchild}"), "the wrapper left it alive"


def test_a_command_without_orphans(tmp_path: Path, leaks: LeakCheck) -> None:
    run, report = run_wrapped(["sh", "-c", "kill -KILL $$"], tmp_path / "report.json")
    assert report.returncode == -signal.SIGKILL
    assert run.returncode == 128 + signal.SIGKILL
    assert (report.alive_adopted, report.adopted) == ([], 0)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_are_forwarded(tmp_path: Path, leaks: LeakCheck, signum: int) -> None:
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
        "signal.signal(signal.SIGHUP, signal.SIG_DFL)\n"
        "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
        "    signal.signal(s, lambda n, f: sys.exit(100 + n))\n"
        "print('ready', flush=True)\n"
        "signal.pause()\n"
    )
    report_path = tmp_path / "report.json"
    wrapper = start_wrapped([sys.executable, "-c", code], report_path, stdout=subprocess.PIPE)
    try:
        assert wrapper.stdout is not None
        assert wrapper.stdout.readline() == "ready\n"
        wrapper.send_signal(signum)
        assert wrapper.wait(timeout=60) == 100 + signum
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
            wrapper.wait()
        if wrapper.stdout is not None:
            wrapper.stdout.close()
